export { vxlanBackend, VXLAN_ENCAP_OVERHEAD } from './vxlan-backend.js';
export { parseVxlanConfig } from './config.js';
export { planPeers, peerEndpoint } from './plan.js';
export type { DesiredState, DesiredRoute, FamilyView } from './plan.js';
export { diffStates } from './diff.js';
export { randomMac, normalizeMac } from './mac.js';
