/**
 * The pure part of host-gw: which routes the peer leases call for, how two such plans differ, and which kernel
 * routes a resync has to repair. No I/O; the backend turns the results into one HostNetwork batch.
 *
 * A host-gw route is `<peer subnet> via <peer PublicIP> dev <external interface>` (flannel-compat.md §5.3), and
 * for dual stack `<peer IPv6 subnet> via <peer PublicIPv6> dev <external interface>`. IPv4 and IPv6 go through the
 * same code, parameterised by family.
 */
import { IpNet, normalizeIP, type HostChange, type IpFamily, type Lease, type NetworkConfig, type RouteEntry } from '@flannel-ts/core';

export const HOST_GW_TYPE = 'host-gw';

/** One route host-gw wants in the kernel. */
export interface PlannedRoute {
  readonly family: IpFamily;
  /** The peer subnet, canonical CIDR text (`10.1.31.0/24`, `fc00:0:0:1f::/64`). */
  readonly dst: string;
  /** The peer's public address, canonical text. */
  readonly via: string;
  readonly dev: string;
  /** The peer's subnet key, for log lines. */
  readonly lease: string;
}

/** Why a lease (or one family of it) gets no route. */
export interface SkippedLease {
  readonly lease: Lease;
  readonly reason: 'not-host-gw' | 'no-public-ip';
  readonly family?: IpFamily;
}

export interface PlanOptions {
  /** The external interface the routes go out of. */
  readonly dev: string;
  /** Which families are enabled; a family that is not gets no routes. */
  readonly network: Pick<NetworkConfig, 'ipv4' | 'ipv6'>;
  /** Told about every lease (or family) that gets no route, so the caller can log it. */
  readonly onSkip?: (skipped: SkippedLease) => void;
}

const UNSPECIFIED: Record<IpFamily, string> = { 4: '0.0.0.0', 6: '::' };

/** The peer's public address of a family, or undefined when it has none that can be a gateway. */
function publicAddress(lease: Lease, family: IpFamily): string | undefined {
  const raw = family === 4 ? lease.attrs.publicIP : lease.attrs.publicIPv6;
  const ip = raw === undefined ? undefined : normalizeIP(family, raw);
  return ip === undefined || ip === UNSPECIFIED[family] ? undefined : ip;
}

/**
 * The routes the peer leases call for, in lease order. Leases of other backends are skipped, as flannel's
 * host-gw ignores them ("Ignoring non-host-gw subnet"); so is a family whose public address is missing.
 */
export function planRoutes(peers: readonly Lease[], options: PlanOptions): PlannedRoute[] {
  const routes: PlannedRoute[] = [];
  for (const lease of peers) {
    if (lease.attrs.backendType !== HOST_GW_TYPE) {
      options.onSkip?.({ lease, reason: 'not-host-gw' });
      continue;
    }
    for (const family of [4, 6] as const) {
      const enabled = family === 4 ? options.network.ipv4 : options.network.ipv6;
      const subnet = family === 4 ? lease.subnet : lease.ipv6Subnet;
      if (!enabled || !subnet) continue;
      const via = publicAddress(lease, family);
      if (via === undefined) {
        options.onSkip?.({ lease, reason: 'no-public-ip', family });
        continue;
      }
      routes.push({ family, dst: subnet.masked().toString(), via, dev: options.dev, lease: lease.key });
    }
  }
  return routes;
}

export interface RouteDiff {
  /** New routes, and routes whose gateway or device changed: `route replace`. */
  readonly replace: readonly PlannedRoute[];
  /** Routes no longer wanted (their previous form, so the delete matches exactly): `route delete`. */
  readonly remove: readonly PlannedRoute[];
}

/** What turns the `previous` plan into the `next` one; routes are identified by destination. */
export function diffRoutes(previous: readonly PlannedRoute[], next: readonly PlannedRoute[]): RouteDiff {
  const before = new Map(previous.map((r) => [r.dst, r]));
  const after = new Map(next.map((r) => [r.dst, r]));
  const replace = next.filter((r) => {
    const old = before.get(r.dst);
    return !old || old.via !== r.via || old.dev !== r.dev;
  });
  const remove = previous.filter((r) => !after.has(r.dst));
  return { replace, remove };
}

export function replaceChange(route: Pick<PlannedRoute, 'dst' | 'via' | 'dev'>): HostChange {
  return { kind: 'route', action: 'replace', dst: route.dst, via: route.via, dev: route.dev };
}

export function deleteChange(route: Pick<PlannedRoute, 'dst' | 'via' | 'dev'>): HostChange {
  return { kind: 'route', action: 'delete', dst: route.dst, via: route.via, dev: route.dev };
}

/** The changes of a diff, deletions first (a subnet that moved to another peer keeps one route at a time). */
export function diffChanges(diff: RouteDiff): HostChange[] {
  return [...diff.remove.map(deleteChange), ...diff.replace.map(replaceChange)];
}

/** A kernel route's destination as a network (`ip -j` prints host routes without a prefix length). */
export function parseRouteDst(dst: string, family: IpFamily): IpNet | undefined {
  if (dst === 'default') return undefined;
  const text = dst.includes('/') ? dst : `${dst}/${family === 4 ? 32 : 128}`;
  return IpNet.parse(text, family)?.masked();
}

/** Route protocols host-gw may have installed (iproute2 and netlink default to boot). */
const OWN_PROTOCOLS = new Set(['boot', 'static']);

export interface RepairOptions {
  readonly network: Pick<NetworkConfig, 'ipv4' | 'ipv6'>;
  /** This host's own lease: its subnets are never treated as stale. */
  readonly own?: Lease | undefined;
}

/** A kernel route to delete: its destination as the kernel printed it, and its gateway. */
export interface StaleRoute {
  readonly family: IpFamily;
  readonly dst: string;
  readonly via: string;
  readonly dev: string;
}

export interface RouteRepairs {
  /** Wanted routes the kernel does not have. */
  readonly missing: readonly PlannedRoute[];
  /** Wanted routes the kernel has with another gateway (`was`). */
  readonly wrong: readonly { readonly route: PlannedRoute; readonly was: string }[];
  /**
   * Routes on the device, with a gateway, a /SubnetLen inside the flannel Network, installed as host-gw installs
   * them (proto boot or static), that no current peer accounts for (left by a peer that went away while this host
   * was not watching, or added by hand). Connected routes, routes without a gateway and anything else are never
   * touched.
   */
  readonly stale: readonly StaleRoute[];
}

/**
 * What a resync repairs: `kernel` holds the routes read from the external interface (both families), `wanted` the
 * plan for the current peers.
 */
export function planRepairs(wanted: readonly PlannedRoute[], kernel: readonly (RouteEntry & { readonly family: IpFamily })[], options: RepairOptions): RouteRepairs {
  const present = new Map<string, string[]>();
  const entries: { family: IpFamily; net: IpNet; entry: RouteEntry; gateway: string | undefined }[] = [];
  for (const entry of kernel) {
    const net = parseRouteDst(entry.dst, entry.family);
    if (!net) continue;
    const gateway = entry.gateway === undefined ? undefined : normalizeIP(entry.family, entry.gateway);
    entries.push({ family: entry.family, net, entry, gateway });
    const key = net.toString();
    present.set(key, [...(present.get(key) ?? []), gateway ?? '']);
  }

  const missing: PlannedRoute[] = [];
  const wrong: { route: PlannedRoute; was: string }[] = [];
  for (const route of wanted) {
    const gateways = present.get(route.dst);
    if (!gateways) missing.push(route);
    else if (!gateways.includes(route.via)) wrong.push({ route, was: gateways[0] || '-' });
  }

  const wantedDst = new Set(wanted.map((r) => r.dst));
  const ownSubnets = new Set<string>();
  if (options.own?.subnet) ownSubnets.add(options.own.subnet.masked().toString());
  if (options.own?.ipv6Subnet) ownSubnets.add(options.own.ipv6Subnet.masked().toString());
  const stale: StaleRoute[] = [];
  for (const { family, net, entry, gateway } of entries) {
    const pool = family === 4 ? options.network.ipv4 : options.network.ipv6;
    const key = net.toString();
    if (!pool || gateway === undefined || !entry.dev) continue;
    if (!pool.network.contains(net) || wantedDst.has(key) || ownSubnets.has(key)) continue;
    // Only a route host-gw itself would make: a /SubnetLen, installed by `ip route` (proto boot) or by hand
    // (static); never a connected (kernel), DHCP or router-advertised route.
    if (net.prefixLength !== pool.subnetLen || !OWN_PROTOCOLS.has(entry.protocol ?? 'boot')) continue;
    stale.push({ family, dst: entry.dst, via: gateway, dev: entry.dev });
  }
  return { missing, wrong, stale };
}
