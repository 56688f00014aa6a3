/**
 * Which peer leases a host may program: the one admission decision for flanneld, /metrics, `flannelctl status`,
 * `leases list` and `doctor`. Pure: no I/O, no clock.
 *
 * Everything under `<prefix>/subnets/` is written by other hosts or by an operator with etcdctl, and flanneld runs
 * as root: a lease becomes routes, neighbours and FDB entries. flannel trusts the store (a key `1.2.3.4-0` would
 * install a default route); here a peer lease is admitted only when
 * - its key names the network address of its subnet (no host bits: `10.1.5.9-24` is not an alias of 10.1.5.0/24);
 * - each subnet of an enabled family is a /SubnetLen (/IPv6SubnetLen) inside Network (IPv6Network) and does not
 *   overlap this host's own subnet, nor the subnet of an older admitted lease (older by etcd create revision);
 * - its public address of that family is a unicast address, outside the flannel networks, and not this host's;
 * - its BackendType is the network's backend (udp and alloc leases carry none, as flannel writes them);
 * - for vxlan, each family's VtepMAC is a unicast, non-zero MAC that no older admitted lease publishes.
 * A lease is rejected with the first reason that applies, and keeps being shown (never silently dropped).
 */
import { IpNet, classifyAddress, parseIP, type IpFamily } from './ip.js';
import { NO_PUBLIC_IP, type Lease } from './lease.js';
import { macProblem, normalizeMac } from './mac.js';
import type { NetworkConfig, SubnetPool } from './network-config.js';
import { formatSubnetKey, type LeaseSubnets } from './subnet-key.js';

export const REJECTION_REASONS = [
  'non-canonical-key',
  'no-subnet',
  'wrong-prefix-length',
  'outside-network',
  'overlaps-own-subnet',
  'overlaps-lease',
  'invalid-public-ip',
  'own-public-ip',
  'wrong-backend-type',
  'invalid-vtep-mac',
  'duplicate-vtep-mac',
] as const;

export type RejectionReason = (typeof REJECTION_REASONS)[number];

export interface Rejection {
  readonly reason: RejectionReason;
  /** The reason in words, naming the values at fault, e.g. `10.1.0.0/23 is a /23 but SubnetLen is 24`. */
  readonly detail: string;
  /** For overlaps-lease and duplicate-vtep-mac: the key of the older lease that holds the subnet or MAC. */
  readonly conflictsWith?: string | undefined;
}

export interface RejectedLease {
  readonly lease: Lease;
  readonly rejection: Rejection;
}

/** Who is asking: the network config and, on a host, its own lease and addresses. */
export interface AdmissionContext {
  readonly config: NetworkConfig;
  /** This host's lease; its key is never a peer, and its subnets (and VTEP MACs, given a Lease) are never a peer's. */
  readonly own?: (LeaseSubnets & { readonly key?: string | undefined }) | Lease | undefined;
  /** This host's public addresses (PublicIP, PublicIPv6): a peer claiming one is rejected. */
  readonly ownPublicIPs?: readonly (string | undefined)[] | undefined;
}

/** The key of the own lease, which admission skips entirely (it is not a peer). */
export function ownKeyOf(context: AdmissionContext): string | undefined {
  const own = context.own;
  if (!own) return undefined;
  return own.key ?? formatSubnetKey(own);
}

const FAMILY_NAMES: Record<IpFamily, { network: string; len: string; publicIP: string; data: string }> = {
  4: { network: 'Network', len: 'SubnetLen', publicIP: 'PublicIP', data: 'BackendData' },
  6: { network: 'IPv6Network', len: 'IPv6SubnetLen', publicIP: 'PublicIPv6', data: 'BackendV6Data' },
};

/** Backends whose leases carry no BackendType (flannel writes none for them). */
const UNTYPED_BACKENDS = new Set(['udp', 'alloc']);

function poolOf(config: NetworkConfig, family: IpFamily): SubnetPool | undefined {
  return family === 4 ? config.ipv4 : config.ipv6;
}

function subnetOf(subnets: LeaseSubnets, family: IpFamily): IpNet | undefined {
  return family === 4 ? subnets.subnet : subnets.ipv6Subnet;
}

/** The enabled families the lease has a subnet for. */
function familiesOf(lease: LeaseSubnets, config: NetworkConfig): IpFamily[] {
  return ([4, 6] as const).filter((family) => poolOf(config, family) !== undefined && subnetOf(lease, family) !== undefined);
}

/** The VtepMAC a lease publishes for a family, as written (keys are case-insensitive, as flannel reads them). */
export function vtepMacText(lease: Lease, family: IpFamily): unknown {
  const data = family === 4 ? lease.attrs.backendData : lease.attrs.backendV6Data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  return Object.entries(data).find(([key]) => key.toLowerCase() === 'vtepmac')?.[1];
}

function reject(reason: RejectionReason, detail: string, conflictsWith?: string): Rejection {
  return conflictsWith === undefined ? { reason, detail } : { reason, detail, conflictsWith };
}

/** The address as a host-order value of its family, or undefined when it is not one. */
function addressValue(family: IpFamily, text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  const parsed = parseIP(text);
  return parsed && parsed.family === family ? parsed.value : undefined;
}

/**
 * The checks that depend on the lease alone (and on who asks), not on the other peers: everything but overlaps and
 * duplicate MACs. Undefined when the lease passes them.
 */
export function checkLease(lease: Lease, context: AdmissionContext): Rejection | undefined {
  const { config } = context;
  const families = familiesOf(lease, config);
  if (families.length === 0) {
    const enabled = [config.ipv4 ? 'IPv4' : undefined, config.ipv6 ? 'IPv6' : undefined].filter(Boolean).join(' or ');
    return reject('no-subnet', `the key ${lease.key} names no ${enabled} subnet, and the network has no other family`);
  }
  for (const family of families) {
    const names = FAMILY_NAMES[family];
    const pool = poolOf(config, family)!;
    const subnet = subnetOf(lease, family)!;
    const rawSubnet = rawSubnetOf(lease.key, family);
    if (rawSubnet === undefined || !rawSubnet.isMasked()) {
      return reject('non-canonical-key', `the key ${lease.key} has host bits set: the subnet it names is ${subnet}, whose key is ${formatSubnetKey(lease)}`);
    }
    if (subnet.prefixLength !== pool.subnetLen) {
      return reject('wrong-prefix-length', `${subnet} is a /${subnet.prefixLength} but ${names.len} is ${pool.subnetLen}`);
    }
    if (!pool.network.contains(subnet)) return reject('outside-network', `${subnet} is outside ${names.network} ${pool.network}`);
    const ownSubnet = context.own ? subnetOf(context.own, family) : undefined;
    if (ownSubnet && ownSubnet.overlaps(subnet)) return reject('overlaps-own-subnet', `${subnet} overlaps this host's own subnet ${ownSubnet}`);
  }
  for (const family of families) {
    const problem = publicAddressProblem(lease, family, context);
    if (problem) return problem;
  }
  const type = (lease.attrs.backendType ?? '').toLowerCase();
  const typeFits = type === config.backendType || (type === '' && UNTYPED_BACKENDS.has(config.backendType));
  if (!typeFits) {
    return reject('wrong-backend-type', `BackendType is ${type === '' ? 'empty' : JSON.stringify(lease.attrs.backendType)} but the network's backend is ${config.backendType}`);
  }
  if (config.backendType === 'vxlan') {
    const own = context.own;
    for (const family of families) {
      const text = vtepMacText(lease, family);
      const mac = typeof text === 'string' ? normalizeMac(text) : undefined;
      const where = `${FAMILY_NAMES[family].data}.VtepMAC`;
      if (mac === undefined) return reject('invalid-vtep-mac', `${where} ${text === undefined ? 'is missing' : `${JSON.stringify(text)} is not a MAC address`}`);
      const problem = macProblem(mac);
      if (problem) return reject('invalid-vtep-mac', `${where} ${mac} ${problem}`);
      const ownText = own && 'attrs' in own ? vtepMacText(own, family) : undefined;
      if (typeof ownText === 'string' && normalizeMac(ownText) === mac) return reject('duplicate-vtep-mac', `${where} ${mac} is this host's own VTEP MAC`);
    }
  }
  return undefined;
}

function publicAddressProblem(lease: Lease, family: IpFamily, context: AdmissionContext): Rejection | undefined {
  const names = FAMILY_NAMES[family];
  const text = family === 4 ? lease.attrs.publicIP : lease.attrs.publicIPv6;
  const value = addressValue(family, text);
  if (value === undefined || (family === 4 && text === NO_PUBLIC_IP)) {
    return reject('invalid-public-ip', `${names.publicIP} is ${text === undefined || text === NO_PUBLIC_IP ? 'missing' : `${JSON.stringify(text)}, not an IPv${family} address`}: the subnet ${subnetOf(lease, family)} cannot be reached`);
  }
  const kind = classifyAddress(family, value);
  if (kind !== 'unicast') return reject('invalid-public-ip', `${names.publicIP} ${text} is a ${kind} address, not a host's`);
  for (const f of [4, 6] as const) {
    const pool = poolOf(context.config, f);
    if (pool && f === family && pool.network.containsAddress(value)) {
      return reject('invalid-public-ip', `${names.publicIP} ${text} is inside the flannel network ${pool.network}: it would be routed into the overlay itself`);
    }
  }
  for (const own of context.ownPublicIPs ?? []) {
    if (own !== undefined && own !== NO_PUBLIC_IP && addressValue(family, own) === value) {
      return reject('own-public-ip', `${names.publicIP} ${text} is this host's own address (a duplicate public IP: another host is configured with it)`);
    }
  }
  return undefined;
}

/** The subnet of a family as the key writes it (host bits kept), or undefined when the key has none. */
function rawSubnetOf(key: string, family: IpFamily): IpNet | undefined {
  const parts = key.split('&');
  const text = family === 4 ? parts[0] : parts[1];
  if (text === undefined) return undefined;
  const dash = text.lastIndexOf('-');
  const ip = parseIP(text.slice(0, dash));
  const length = Number(text.slice(dash + 1));
  if (!ip || ip.family !== family || !Number.isInteger(length)) return undefined;
  try {
    return new IpNet(family, ip.value, length);
  } catch {
    return undefined;
  }
}

/**
 * What a lease holds exclusively once admitted: its subnets and its VTEP MACs. Two admitted leases never share a
 * claim; of two that would, the older is admitted and the other rejected.
 */
export function leaseClaims(lease: Lease, config: NetworkConfig): string[] {
  const claims: string[] = [];
  for (const family of familiesOf(lease, config)) {
    claims.push(`subnet${family} ${subnetOf(lease, family)!.masked().toString()}`);
    if (config.backendType === 'vxlan') {
      const text = vtepMacText(lease, family);
      const mac = typeof text === 'string' ? normalizeMac(text) : undefined;
      if (mac) claims.push(`mac${family} ${mac}`);
    }
  }
  return claims;
}

/** The rejection of a lease whose `claim` an older admitted lease, `holder`, already makes. */
export function conflictRejection(claim: string, holder: Lease): Rejection {
  const [kind, value] = claim.split(' ') as [string, string];
  if (kind.startsWith('mac')) return reject('duplicate-vtep-mac', `VtepMAC ${value} is also published by the older lease ${holder.key}`, holder.key);
  return reject('overlaps-lease', `${value} is also claimed by the older lease ${holder.key}`, holder.key);
}

/** Older first: by etcd create revision, then by key (a lease without a known revision counts as newest). */
export function compareLeaseAge(a: Lease, b: Lease): number {
  const ra = a.createRevision;
  const rb = b.createRevision;
  if (ra !== rb) {
    if (ra === undefined) return 1;
    if (rb === undefined) return -1;
    return ra < rb ? -1 : 1;
  }
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

export interface AdmissionResult {
  readonly admitted: Lease[];
  readonly rejected: RejectedLease[];
}

/**
 * The admission decision over a whole listing (for status, leases list and doctor); the own lease, if the context
 * names one, is in neither list. flanneld's PeerLeaseSet reaches the same decision incrementally.
 */
export function admitLeases(leases: readonly Lease[], context: AdmissionContext): AdmissionResult {
  const ownKey = ownKeyOf(context);
  const admitted: Lease[] = [];
  const rejected: RejectedLease[] = [];
  const held = new Map<string, Lease>();
  const candidates: Lease[] = [];
  const status = new Map<Lease, Rejection | undefined>();
  for (const lease of leases) {
    if (lease.key === ownKey) continue;
    const problem = checkLease(lease, context);
    status.set(lease, problem);
    if (!problem) candidates.push(lease);
  }
  for (const lease of [...candidates].sort(compareLeaseAge)) {
    const claims = leaseClaims(lease, context.config);
    const taken = claims.find((claim) => held.has(claim));
    if (taken) status.set(lease, conflictRejection(taken, held.get(taken)!));
    else for (const claim of claims) held.set(claim, lease);
  }
  for (const [lease, rejection] of status) {
    if (rejection) rejected.push({ lease, rejection });
    else admitted.push(lease);
  }
  return { admitted, rejected };
}
