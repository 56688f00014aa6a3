export { startLab, BIN, ETCD_ADDRESS, UNDERLAY_PREFIX } from './lab.js';
export type { Lab, LabHost, LabContainer, LabOptions } from './lab.js';
