export { ERROR_CODES, FlannelError, ConfigError, HostCommandError, UsageError, isFlannelError, errorMessage } from './errors.js';
export type { FlannelErrorCode } from './errors.js';
export { IpNet, parseIP, parseIPv4, parseIPv6, formatIP, normalizeIP, familyBits, classifyAddress, specialRangesOverlapping } from './ip.js';
export type { IpFamily, AddressClass } from './ip.js';
export { goJsonStringify, backendOptionFields } from './go-json.js';
export type { Decoded } from './decoded.js';
export {
  parseNetworkConfig,
  resolveNetworkConfig,
  effectiveConfigJson,
  assertClearOfUnderlay,
  poolCapacity,
  poolAccepts,
  DEFAULT_BACKEND_TYPE,
} from './network-config.js';
export type { NetworkConfig, NetworkConfigInput, SubnetPool, UnderlayInterface } from './network-config.js';
export { formatSubnetKey, parseSubnetKey, subnetIdentity } from './subnet-key.js';
export type { LeaseSubnets } from './subnet-key.js';
export { encodeLeaseAttrs, decodeLeaseAttrs, sameLeaseAttrs, sameLeases, NO_PUBLIC_IP } from './lease.js';
export type { Lease, LeaseAttrs, LeaseEvent, LeaseBatch } from './lease.js';
export { planAllocation, freeSubnets, leaseFitsConfig, CANDIDATE_LIMIT } from './allocation.js';
export type { AllocationInput, AllocationPlan } from './allocation.js';
export { PeerLeaseSet } from './peer-leases.js';
export type { PeerUpdate } from './peer-leases.js';
export { admitLeases, checkLease, REJECTION_REASONS } from './admission.js';
export type { AdmissionContext, Rejection, RejectionReason, RejectedLease } from './admission.js';
export { publicAddressesOf, leasesNamingAddresses, sharedPublicAddresses } from './public-ip.js';
export { normalizeMac, macProblem } from './mac.js';
export { printable, hasUnsafeCharacters } from './printable.js';
export { createLineLogger, silentLogger, LOG_LEVELS } from './logger.js';
export type { Logger, LogLevel, LogFields, LineLoggerOptions } from './logger.js';
export type {
  Backend,
  BackendDeps,
  BackendFactory,
  BackendRegistration,
  ExternalInterface,
  KernelEntry,
  KernelEntryKind,
  EntryDrift,
  EntryInspection,
  DeviceDrift,
  DeviceInspection,
  Inspection,
} from './backend.js';
export { routeChangesOutside } from './host-network.js';
export { KernelReadGate } from './kernel-read-gate.js';
export type { HostChange, HostNetwork, RouteEntry, AddressEntry, LinkEntry, LinkDetail, LinkAddress, KernelObject, KernelEvent, KernelMonitorHandlers, NeighbourEntry, FdbEntry } from './host-network.js';
export { renderHelp, renderManPage, versionLine } from './help.js';
export type { HelpDocument, HelpSection, HelpOption } from './help.js';
export { DEFAULT_ETCD_ENDPOINTS, DEFAULT_ETCD_PREFIX, endpointProblem } from './etcd-endpoint.js';
export { waitProgress } from './wait-progress.js';
export { SerialQueue } from './serial-queue.js';
