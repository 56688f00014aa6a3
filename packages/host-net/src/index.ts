export { createHostNetwork, ipBatchLine, bridgeBatchLine } from './iproute2.js';
export type { IpRoute2Options } from './iproute2.js';
