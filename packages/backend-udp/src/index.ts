export { udpBackend, icmpSourceAddress, DEFAULT_UDP_PORT, UDP_ENCAP_OVERHEAD } from './udp-backend.js';
export type { UdpConfig } from './udp-backend.js';
export { startForwarder } from './forwarder.js';
export type { Forwarder, ForwarderOptions, ForwarderStats } from './forwarder.js';
export { PeerTable } from './peer-table.js';
export type { PeerRoute } from './peer-table.js';
export { openTun } from './tun.js';
export type { TunDevice } from './tun.js';
export { decrementTtl, buildNetUnreachable, internetChecksum, mayAnswerWithIcmpError } from './packet.js';
