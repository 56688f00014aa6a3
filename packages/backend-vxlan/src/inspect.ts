/**
 * inspect: the kernel against the leases, for one host. It observes the devices and their entries through
 * HostNetwork, plans what the peer leases call for (planPeers) and diffs the two (driftStates), returning every
 * difference with the changes that repair it. The backend's resync applies exactly those changes; flannelctl
 * doctor prints them. Nothing here writes to the kernel.
 */
import {
  IpNet,
  type DeviceDrift,
  type ExternalInterface,
  type FdbEntry,
  type HostChange,
  type HostNetwork,
  type Inspection,
  type IpFamily,
  type Lease,
  type Logger,
  type NeighbourEntry,
  type NetworkConfig,
  type RouteEntry,
} from '@flannel-ts/core';
import type { VxlanConfig } from './config.js';
import { addressChanges, createDeviceChanges, familiesOf, incompatibility, isInside, vxlanDeviceAddress, vxlanDeviceMtu, vxlanDeviceName } from './device.js';
import { driftStates, type KernelState } from './diff.js';
import { peerEndpoint, planKernelState, type DesiredRoute, type DesiredState, type FamilyView } from './plan.js';

export interface VxlanInspectOptions {
  readonly config: VxlanConfig;
  /** Which families are enabled, and their networks: only entries inside them are the backend's. */
  readonly network: Pick<NetworkConfig, 'ipv4' | 'ipv6'>;
  /** The underlay: its name and MTU, and the addresses the device sends from. */
  readonly externalInterface: Pick<ExternalInterface, 'name' | 'mtu' | 'ipv4' | 'ipv6'>;
  /** The MACs a re-created device gets, per family; default: the own lease's VtepMAC. */
  readonly vtepMacs?: Readonly<Partial<Record<IpFamily, string>>> | undefined;
  /** DirectRouting: filled with each peer address's answer (same L2 segment or not), for callers that keep them. */
  readonly direct?: Map<string, boolean> | undefined;
  readonly log?: Logger | undefined;
}

/** What the kernel holds for one family's device, as `ip -j` and `bridge -j` list it. */
export interface VxlanKernelEntries {
  readonly neighbours: readonly NeighbourEntry[];
  readonly fdb: readonly FdbEntry[];
  /** Routes on the vxlan device. */
  readonly routes: readonly RouteEntry[];
  /** Routes on the external interface (DirectRouting peers); empty without DirectRouting. */
  readonly directRoutes: readonly RouteEntry[];
}

/** One family's part of an inspection, with the plan (the backend records it as applied). */
export interface FamilyInspection {
  readonly family: IpFamily;
  readonly wanted: DesiredState;
  /** How many routes the kernel held (none: the entries are programmed for the first time). */
  readonly observedRoutes: number;
}

const EMPTY: KernelState = { neighbours: new Map(), fdb: [], routes: new Map() };

/** A route destination as a canonical network (`ip -j` prints host routes without a prefix length). */
function routeDst(dst: string, family: IpFamily): string | undefined {
  if (dst === 'default') return undefined;
  return IpNet.parse(dst.includes('/') ? dst : `${dst}/${family === 4 ? 32 : 128}`, family)?.masked().toString();
}

/**
 * The kernel's entries in the plan's shape, only what the backend could have made: permanent neighbour and FDB
 * entries, and routes with a gateway inside the flannel network (a default route or a hand-made route elsewhere on
 * the device is left alone).
 */
export function observeFamily(view: FamilyView, network: IpNet, kernel: VxlanKernelEntries): KernelState {
  const neighbours = new Map<string, string>();
  for (const n of kernel.neighbours) if (n.permanent && n.lladdr) neighbours.set(n.address, n.lladdr.toLowerCase());
  const fdb: [string, string][] = [];
  for (const f of kernel.fdb) if (f.permanent && f.dst) fdb.push([f.lladdr.toLowerCase(), f.dst]);
  const routes = new Map<string, DesiredRoute>();
  const collect = (entries: readonly RouteEntry[], dev: string, onlink: (r: RouteEntry) => boolean) => {
    for (const r of entries) {
      const dst = routeDst(r.dst, view.family);
      if (r.gateway && dst && isInside(network, dst)) routes.set(dst, { dst, via: r.gateway, dev, onlink: onlink(r) });
    }
  };
  collect(kernel.routes, view.device, (r) => r.flags.includes('onlink'));
  collect(kernel.directRoutes, view.externalDevice, () => false);
  return { neighbours, fdb, routes };
}

/** The kernel against the leases on this host: device problems and missing, wrong and stale entries, per device. */
export async function inspectVxlan(host: HostNetwork, peers: readonly Lease[], own: Lease | undefined, options: VxlanInspectOptions): Promise<Inspection> {
  return (await inspectVxlanFamilies(host, peers, own, options)).inspection;
}

/** inspectVxlan, with each family's plan (what resync records as applied). */
export async function inspectVxlanFamilies(
  host: HostNetwork,
  peers: readonly Lease[],
  own: Lease | undefined,
  options: VxlanInspectOptions,
): Promise<{ readonly inspection: Inspection; readonly families: readonly FamilyInspection[] }> {
  const { config, externalInterface: ext } = options;
  const devices: Inspection['devices'][number][] = [];
  const families: FamilyInspection[] = [];
  const changes: HostChange[] = [];
  for (const family of familiesOf(options.network)) {
    const network = (family === 4 ? options.network.ipv4 : options.network.ipv6)!.network;
    const view: FamilyView = { family, device: vxlanDeviceName(family, config.vni), externalDevice: ext.name };
    const mtu = vxlanDeviceMtu(family, config, ext.mtu);
    const ownAddress = vxlanDeviceAddress(own, family);
    const ownEndpoint = own ? peerEndpoint(own, family) : undefined;
    const mac = options.vtepMacs?.[family] ?? (typeof ownEndpoint === 'object' ? ownEndpoint.vtepMac : undefined);

    // The device: gone or made by someone else means re-created, and then nothing is programmed on it.
    const problems: DeviceDrift[] = [];
    const link = await host.link(view.device);
    const unfit = link && incompatibility(link, config, ext.name);
    const fresh = !link || unfit !== undefined;
    if (fresh) {
      const spec = { name: view.device, mtu, local: family === 4 ? ext.ipv4 : ext.ipv6, externalDevice: ext.name, mac: mac ?? link?.address };
      problems.push({ problem: link ? 'incompatible' : 'missing', detail: link ? `${view.device}: ${unfit}` : `${view.device} does not exist`, changes: createDeviceChanges(spec, config, link !== undefined) });
    } else if (link.mtu !== mtu || !link.up) {
      const detail = [link.mtu !== mtu ? `MTU ${link.mtu}, not ${mtu}` : '', link.up ? '' : 'down'].filter(Boolean).join(', ');
      problems.push({ problem: 'link', detail: `${view.device}: ${detail}`, changes: [{ kind: 'link', name: view.device, mtu, up: true }] });
    }
    if (ownAddress) {
      const fix = addressChanges(view.device, family, network, ownAddress, fresh ? [] : await host.addresses(view.device));
      if (fix.length > 0) problems.push({ problem: 'address', detail: `${view.device}: ${fix.map((c) => (c.kind === 'address' ? `${c.action === 'delete' ? 'stray' : 'lacks'} ${c.cidr}` : '')).join(', ')}`, changes: fix });
    }

    const observed = fresh
      ? EMPTY
      : observeFamily(view, network, {
          neighbours: await host.neighbours(view.device, family),
          fdb: await host.fdb(view.device),
          routes: await host.routes({ dev: view.device, family }),
          directRoutes: config.directRouting ? await host.routes({ dev: ext.name, family }) : [],
        });
    const wanted = planKernelState(view, peers, { isDirect: await directAnswers(host, view, peers, config, options.direct), ...(options.log ? { log: options.log } : {}) });
    const drift = driftStates(view, observed, wanted);
    devices.push({ device: view.device, family, problems, entries: drift.entries });
    changes.push(...problems.flatMap((p) => p.changes), ...drift.changes);
    families.push({ family, wanted, observedRoutes: observed.routes.size });
  }
  return { inspection: { devices, changes }, families };
}

/** DirectRouting: whether the kernel's route to a peer address goes straight out of the underlay device. */
export function isOnSegment(route: RouteEntry | undefined, externalDevice: string): boolean {
  return route !== undefined && !route.gateway && route.dev === externalDevice;
}

/**
 * DirectRouting: a peer is on the same L2 segment when the route to it has no gateway (flannel). Asked afresh at
 * each inspection, since the underlay may have changed; `cache` keeps the answers for batches.
 */
async function directAnswers(host: HostNetwork, view: FamilyView, peers: readonly Lease[], config: VxlanConfig, cache: Map<string, boolean> | undefined): Promise<(publicIP: string) => boolean> {
  const answers = cache ?? new Map<string, boolean>();
  if (config.directRouting) {
    for (const lease of peers) {
      const ip = view.family === 4 ? lease.attrs.publicIP : lease.attrs.publicIPv6;
      if (!ip) continue;
      answers.set(ip, isOnSegment(await host.routeTo(ip), view.externalDevice));
    }
  }
  return (ip) => answers.get(ip) === true;
}
