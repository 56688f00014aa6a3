export { udpBackend, UDP_ENCAP_OVERHEAD } from './udp-backend.js';
