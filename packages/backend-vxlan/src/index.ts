export { vxlanBackend, VXLAN_ENCAP_OVERHEAD } from './vxlan-backend.js';
export { parseVxlanConfig, KERNEL_DEFAULT_VXLAN_PORT } from './config.js';
export type { VxlanConfig } from './config.js';
export { planPeers, peerEndpoint } from './plan.js';
export type { DesiredState, DesiredRoute, FamilyView, PeerEndpoint } from './plan.js';
export { diffStates } from './diff.js';
export { randomMac, normalizeMac } from './mac.js';
