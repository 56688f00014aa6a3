/**
 * Choosing this host's subnet (flannel's `tryAcquireLease`, flannel-compat.md §3), as a pure plan:
 * 1. reuse the lease that already carries this host's PublicIP, if it still fits the config
 *    (one that no longer fits is marked stale, to be deleted);
 * 2. else reuse the previous subnet from subnet.env, if it fits and nothing else holds it;
 * 3. else pick at random among the first 100 free subnets in [SubnetMin, SubnetMax].
 * Differences from flannel: `0.0.0.0` never matches another host's `0.0.0.0`, and the previous subnet is
 * refused when any lease *overlaps* it (flannel only tests equality).
 */
import { FlannelError } from './errors.js';
import { IpNet, type IpFamily } from './ip.js';
import { NO_PUBLIC_IP, type Lease } from './lease.js';
import { poolAccepts, type NetworkConfig, type SubnetPool } from './network-config.js';
import type { LeaseSubnets } from './subnet-key.js';

/** How many free candidates flannel collects before choosing one at random. */
export const CANDIDATE_LIMIT = 100;

export interface AllocationInput {
  readonly config: NetworkConfig;
  /** Every lease in the store that decoded. */
  readonly leases: readonly Lease[];
  readonly publicIP: string;
  /** Subnets from a previous subnet.env, if any. */
  readonly previous?: Partial<LeaseSubnets> | undefined;
  /** A source of numbers in [0, 1); injected so tests are deterministic. */
  readonly random: () => number;
}

export type AllocationPlan =
  | { readonly kind: 'reuse'; readonly lease: Lease; readonly stale: readonly Lease[] }
  | {
      readonly kind: 'create';
      readonly subnets: LeaseSubnets;
      readonly source: 'previous' | 'random';
      readonly stale: readonly Lease[];
    };

/** True when the lease's subnets are ones this config could hand out (flannel's compatibility test). */
export function leaseFitsConfig(config: NetworkConfig, subnets: Partial<LeaseSubnets>): boolean {
  return familyFits(config.ipv4, subnets.subnet) && familyFits(config.ipv6, subnets.ipv6Subnet);
}

function familyFits(pool: SubnetPool | undefined, subnet: IpNet | undefined): boolean {
  if (!pool) return subnet === undefined;
  return subnet !== undefined && poolAccepts(pool, subnet);
}

export function planAllocation(input: AllocationInput): AllocationPlan {
  const { config, publicIP } = input;
  const stale: Lease[] = [];
  const own = publicIP === NO_PUBLIC_IP ? undefined : input.leases.find((l) => l.attrs.publicIP === publicIP);
  if (own) {
    if (leaseFitsConfig(config, own)) return { kind: 'reuse', lease: own, stale };
    stale.push(own);
  }
  const taken = input.leases.filter((l) => !stale.includes(l));

  const previous = input.previous;
  if (previous && (previous.subnet || previous.ipv6Subnet) && leaseFitsConfig(config, previous)) {
    const clash = taken.some((l) => overlapsLease(l, previous));
    if (!clash) {
      return {
        kind: 'create',
        subnets: { subnet: previous.subnet, ipv6Subnet: previous.ipv6Subnet },
        source: 'previous',
        stale,
      };
    }
  }

  const subnet = config.ipv4 ? pickFree(config.ipv4, taken, input.random) : undefined;
  const ipv6Subnet = config.ipv6 ? pickFree(config.ipv6, taken, input.random) : undefined;
  return { kind: 'create', subnets: { subnet, ipv6Subnet }, source: 'random', stale };
}

function overlapsLease(lease: LeaseSubnets, other: Partial<LeaseSubnets>): boolean {
  return (
    (lease.subnet !== undefined && other.subnet !== undefined && lease.subnet.overlaps(other.subnet)) ||
    (lease.ipv6Subnet !== undefined && other.ipv6Subnet !== undefined && lease.ipv6Subnet.overlaps(other.ipv6Subnet))
  );
}

/** Free subnets of the pool, lowest first, at most `limit` of them. */
export function freeSubnets(pool: SubnetPool, leases: readonly LeaseSubnets[], limit = CANDIDATE_LIMIT): IpNet[] {
  const occupied = occupiedRanges(pool.family, leases);
  const free: IpNet[] = [];
  const step = pool.subnetMin.size;
  let index = 0;
  for (let start = pool.subnetMin.address; start <= pool.subnetMax.address && free.length < limit; ) {
    const end = start + step - 1n;
    // Skip ranges that end before this candidate; both lists ascend, so one pass suffices.
    while (index < occupied.length && occupied[index]![1] < start) index++;
    const range = occupied[index];
    if (range && range[0] <= end) {
      // Jump to the first aligned candidate after the occupied range.
      const next = range[1] + 1n;
      start = next + ((step - ((next - pool.subnetMin.address) % step)) % step);
      continue;
    }
    free.push(new IpNet(pool.family, start, pool.subnetLen));
    start += step;
  }
  return free;
}

function occupiedRanges(family: IpFamily, leases: readonly LeaseSubnets[]): Array<[bigint, bigint]> {
  const ranges: Array<[bigint, bigint]> = [];
  for (const lease of leases) {
    const net = family === 4 ? lease.subnet : lease.ipv6Subnet;
    if (net) ranges.push([net.first, net.last]);
  }
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const merged: Array<[bigint, bigint]> = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range[0] <= last[1] + 1n) {
      if (range[1] > last[1]) last[1] = range[1];
    } else {
      merged.push([range[0], range[1]]);
    }
  }
  return merged;
}

function pickFree(pool: SubnetPool, leases: readonly LeaseSubnets[], random: () => number): IpNet {
  const candidates = freeSubnets(pool, leases);
  if (candidates.length === 0) {
    const label = pool.family === 4 ? 'Network' : 'IPv6Network';
    throw new FlannelError(
      'SUBNET_EXHAUSTED',
      `out of subnets: every /${pool.subnetLen} from ${pool.subnetMin.ipText()} to ${pool.subnetMax.ipText()} in ${label} ${pool.network} is leased or reserved; ` +
        'revoke unused leases (flannelctl leases list / leases revoke) or enlarge the network',
    );
  }
  const choice = Math.min(candidates.length - 1, Math.floor(random() * candidates.length));
  return candidates[choice]!;
}
