export { connectEtcd, isRetryable, describeEtcdError, routeGrpcLogs, DEFAULT_ETCD_ENDPOINTS, DEFAULT_ETCD_PREFIX } from './connection.js';
export type { EtcdConnectionOptions } from './connection.js';
export { LEASE_TTL_SECONDS, NO_TTL_LEASE, joinKey } from './registry.js';
export type {
  Registry,
  LeaseListing,
  SkippedEntry,
  StoredEntry,
  EntryListing,
  DecodedEntry,
  RegistryChange,
  RegistryWatch,
  WatchMessage,
  WatchRange,
  WatchOptions,
  TtlLeaseTiming,
} from './registry.js';
export { EtcdRegistry } from './etcd-registry.js';
export { MemoryRegistry } from './memory-registry.js';
export type { MemoryRegistryOptions } from './memory-registry.js';
export { LeaseManager } from './lease-manager.js';
export type { LeaseManagerOptions } from './lease-manager.js';
export { MAX_ACQUIRE_ATTEMPTS } from './acquire.js';
export type { AcquireRequest } from './acquire.js';
export type { KeepLeaseOptions, LeaseKeeper } from './keep-lease.js';
export type { WatchPeersOptions, PeerWatch } from './watch-peers.js';
export { EtcdConnectivity } from './connectivity.js';
