export { connectEtcd, isRetryable, describeEtcdError, routeGrpcLogs, DEFAULT_ETCD_ENDPOINTS, DEFAULT_ETCD_PREFIX } from './connection.js';
export type { EtcdConnectionOptions } from './connection.js';
export { EtcdRegistry, LEASE_TTL_SECONDS, joinKey } from './registry.js';
export type { LeaseListing, SkippedEntry } from './registry.js';
export { LeaseManager, MAX_ACQUIRE_ATTEMPTS } from './lease-manager.js';
export type { LeaseManagerOptions, AcquireRequest, KeepLeaseOptions, LeaseKeeper, WatchPeersOptions, PeerWatch } from './lease-manager.js';
export { EtcdConnectivity } from './connectivity.js';
