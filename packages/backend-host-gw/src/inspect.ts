/**
 * inspect: the kernel's routes on the external interface against the peer leases, for one host. It reads the
 * routes through HostNetwork, plans (planRoutes) and compares (planRepairs), returning each missing, wrong and
 * stale route with the change that repairs it. The backend's resync applies exactly those changes; flannelctl
 * doctor prints them. Nothing here writes to the kernel.
 */
import { subnetIdentity, type EntryDrift, type ExternalInterface, type HostChange, type HostNetwork, type Inspection, type IpFamily, type KernelEntry, type Lease, type NetworkConfig, type RouteEntry } from '@flannel-ts/core';
import { deleteChange, planRepairs, planRoutes, replaceChange, type PlannedRoute, type RouteRepairs, type SkippedLease } from './plan.js';

export interface HostGwInspectOptions {
  /** Which families are enabled, and their networks: only routes inside them are host-gw's. */
  readonly network: Pick<NetworkConfig, 'ipv4' | 'ipv6'>;
  /** The interface the peer routes go out of. */
  readonly externalInterface: Pick<ExternalInterface, 'name'>;
  /** Told about every lease (or family) that gets no route. */
  readonly onSkip?: ((skipped: SkippedLease) => void) | undefined;
}

const routeEntry = (route: Pick<PlannedRoute, 'dst' | 'via' | 'dev'>): KernelEntry => ({ kind: 'route', dst: route.dst, via: route.via, dev: route.dev });

/** The kernel against the leases on this host: the missing, wrong and stale peer routes on the external interface. */
export async function inspectHostGw(host: HostNetwork, peers: readonly Lease[], own: Lease | undefined, options: HostGwInspectOptions): Promise<Inspection> {
  return (await inspectHostGwRoutes(host, peers, own, options)).inspection;
}

/** inspectHostGw, with the plan and the repairs it came from (resync records the one and logs the other). */
export async function inspectHostGwRoutes(
  host: HostNetwork,
  peers: readonly Lease[],
  own: Lease | undefined,
  options: HostGwInspectOptions,
): Promise<{ readonly inspection: Inspection; readonly wanted: readonly PlannedRoute[]; readonly repairs: RouteRepairs }> {
  const { network } = options;
  const dev = options.externalInterface.name;
  // A peer entry for the subnet this host holds (after a re-acquire) gets no route.
  const ownId = own && subnetIdentity(own);
  const wanted = planRoutes(
    peers.filter((lease) => subnetIdentity(lease) !== ownId),
    { dev, network, ...(options.onSkip ? { onSkip: options.onSkip } : {}) },
  );
  const families = ([4, 6] as const).filter((family) => (family === 4 ? network.ipv4 : network.ipv6));
  const kernel = (await Promise.all(families.map(async (family) => (await host.routes({ dev, family })).map((r): RouteEntry & { family: IpFamily } => ({ ...r, family }))))).flat();
  const repairs = planRepairs(wanted, kernel, { network, own });
  return { inspection: routeInspection(dev, wanted, repairs), wanted, repairs };
}

/** The repairs of the planned routes as an Inspection of the interface: each difference with its change. */
export function routeInspection(dev: string, wanted: readonly PlannedRoute[], repairs: RouteRepairs): Inspection {
  const missing = new Set(repairs.missing);
  const wrong = new Map(repairs.wrong.map(({ route, was }) => [route, was]));
  const drift: EntryDrift[] = [];
  for (const route of wanted) {
    if (missing.has(route)) drift.push({ problem: 'missing', wanted: routeEntry(route), found: [], changes: [replaceChange(route)] });
    const was = wrong.get(route);
    if (was !== undefined) {
      drift.push({ problem: 'wrong', wanted: routeEntry(route), found: [{ kind: 'route', dst: route.dst, via: was === '-' ? undefined : was, dev }], changes: [replaceChange(route)] });
    }
  }
  for (const stale of repairs.stale) drift.push({ problem: 'stale', found: [routeEntry(stale)], changes: [deleteChange(stale)] });
  // Deletions first, then the routes to add, then the ones to correct.
  const changes: HostChange[] = [...repairs.stale.map(deleteChange), ...repairs.missing.map(replaceChange), ...repairs.wrong.map(({ route }) => replaceChange(route))];
  return { devices: [{ device: dev, problems: [], entries: [{ kind: 'route', wanted: wanted.length, drift }] }], changes };
}
