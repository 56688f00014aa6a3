/**
 * flannel's vxlan backend (flannel-compat.md §5.2), compatible with hosts running flannel.
 *
 * The kernel carries the packets; this backend keeps the kernel programmed from the leases. Why each entry exists:
 * the device `flannel.<VNI>` (`flannel-v6.<VNI>` for IPv6) is the VTEP; its MAC is published in the lease as
 * VtepMAC. To reach a peer subnet, the route sends packets to the peer subnet's network address on the device
 * (onlink); a permanent neighbour entry resolves that address to the peer's VTEP MAC; and an FDB entry tells the
 * VXLAN driver which underlay address (the peer's PublicIP) owns that MAC. Nothing is learned or flooded.
 *
 * Better than flannel: the desired state is a pure plan, applied as one batched diff; the kernel is reconciled on
 * start, after any programming error, periodically, and at once when the device is deleted (flannel re-creates the
 * device but forgets every peer until its next renewal, quirk 11). A re-created device keeps its MAC, so peers'
 * entries stay valid. The local (source) address is the interface address, which also works behind NAT.
 *
 * The periodic reconcile reads the kernel only when something may have changed: the peer set, a kernel event
 * about the devices (`ip monitor` for links, addresses, neighbours and routes, `bridge monitor` for the FDB), a
 * notification the kernel dropped (a netlink overrun, which the monitor reports), or once an hour regardless. An
 * idle host with 1000 peers then costs what one with none costs.
 */
import { ConfigError, errorMessage, FlannelError, KernelReadGate, sameLeases, SerialQueue, type Backend, type BackendDeps, type BackendFactory, type HostChange, type IpFamily, type KernelEvent, type Lease, type LeaseBatch } from '@flannel-ts/core';
import { parseVxlanConfig, type VxlanConfig } from './config.js';
import { addressChanges, createDeviceChanges, familiesOf, incompatibility, VXLAN_ENCAP_OVERHEAD, vxlanDeviceAddress, vxlanDeviceMtu, vxlanDeviceName } from './device.js';
import { diffStates } from './diff.js';
import { inspectVxlanFamilies, isOnSegment } from './inspect.js';
import { randomMac } from './mac.js';
import { peerEntries, type DesiredRoute, type DesiredState, type FamilyView } from './plan.js';

/**
 * Periodic reconciles between two that read the kernel even with no change seen (1 h at flanneld's 10 s): a last
 * resort, since the monitor reports both changes and the notifications it lost.
 */
const FULL_RECONCILE_EVERY = 360;

export const vxlanBackend: BackendFactory<VxlanConfig> = {
  type: 'vxlan',
  parseConfig: parseVxlanConfig,
  create: (config, deps) => new VxlanBackend(config, deps),
};

/** The entries last sent to the kernel for a family, kept in step by each batch. */
interface AppliedState {
  readonly neighbours: Map<string, string>;
  readonly fdb: Map<string, string>;
  readonly routes: Map<string, DesiredRoute>;
}

interface FamilyState {
  readonly view: FamilyView;
  readonly mtu: number;
  mac: string;
  ownAddress: string | undefined;
  applied: AppliedState;
}

const emptyApplied = (): AppliedState => ({ neighbours: new Map(), fdb: new Map(), routes: new Map() });
const copyState = (state: DesiredState): AppliedState => ({ neighbours: new Map(state.neighbours), fdb: new Map(state.fdb), routes: new Map(state.routes) });

class VxlanBackend implements Backend {
  readonly type = 'vxlan';
  readonly #config: VxlanConfig;
  readonly #deps: BackendDeps;
  readonly #families: FamilyState[] = [];
  readonly #peers = new Map<string, Lease>();
  #own: Lease | undefined;
  #mtu = 0;
  /** Stops the kernel monitor (host.monitor) on dispose. */
  readonly #monitorStop = new AbortController();
  /** Whether a resync reads the kernel: kernel events about our devices (the monitor) decide. */
  readonly #gate = new KernelReadGate(FULL_RECONCILE_EVERY);
  #repairing: Promise<void> | undefined;
  #disposed = false;
  /** DirectRouting: whether a peer public IP is on the same L2 segment, as last asked (`ip route get`). */
  readonly #direct = new Map<string, boolean>();
  /** attach, apply, resync and the repair after a deleted device run one at a time: each reads and replaces the applied state. */
  readonly #queue = new SerialQueue();

  constructor(config: VxlanConfig, deps: BackendDeps) {
    this.#config = config;
    this.#deps = deps;
  }

  async prepare() {
    const { externalInterface: ext, network, log } = this.#deps;
    this.#mtu = vxlanDeviceMtu(network.ipv4 ? 4 : 6, this.#config, ext.mtu);
    if (this.#mtu < 68) throw new ConfigError('Backend.MTU', `vxlan device MTU would be ${this.#mtu}: the underlay MTU must be at least ${68 + VXLAN_ENCAP_OVERHEAD}`);
    const attrs: { backendType: string; backendData?: unknown; backendV6Data?: unknown } = { backendType: 'vxlan' };
    for (const family of familiesOf(network)) {
      const local = family === 4 ? ext.ipv4 : ext.ipv6;
      if (!local) throw new FlannelError('INTERFACE_NOT_FOUND', `interface ${ext.name} has no IPv${family} address for the vxlan device`);
      const view: FamilyView = { family, device: vxlanDeviceName(family, this.#config.vni), externalDevice: ext.name };
      const mtu = vxlanDeviceMtu(family, this.#config, ext.mtu);
      const state: FamilyState = { view, mtu, mac: '', ownAddress: undefined, applied: emptyApplied() };
      state.mac = await this.#ensureDevice(state, local);
      this.#families.push(state);
      const data = { VNI: this.#config.vni, VtepMAC: state.mac };
      if (family === 4) attrs.backendData = data;
      else attrs.backendV6Data = data;
      log.info('vxlan device ready', { device: view.device, vtepMac: state.mac, mtu, vni: this.#config.vni, port: this.#config.port });
    }
    this.#startMonitor();
    return { attrs, mtu: this.#mtu };
  }

  attach(own: Lease): Promise<void> {
    return this.#queue.run(async () => {
      this.#own = own;
      for (const state of this.#families) {
        state.ownAddress = vxlanDeviceAddress(own, state.view.family);
        if (!state.ownAddress) continue;
        await this.#ensureAddress(state);
      }
    });
  }

  /**
   * Programs one batch at a cost in proportion to the batch, not to the peer count: only the entries of the leases
   * in it are planned and diffed against what was applied, and the kernel is not read (with DirectRouting, only a
   * peer address not seen before is looked up). The periodic resync is what reads the kernel.
   */
  apply(batch: LeaseBatch): Promise<void> {
    return this.#queue.run(async () => {
      const changes: HostChange[] = [];
      const added = batch.filter((e) => e.type === 'added').map((e) => e.lease);
      if (this.#config.directRouting) await this.#learnDirect(added);
      for (const event of batch) {
        if (event.type === 'removed') this.#peers.delete(event.lease.key);
        else this.#peers.set(event.lease.key, event.lease);
      }
      for (const state of this.#families) changes.push(...this.#applyToFamily(state, batch));
      // Recorded before the batch runs: if a line fails, the daemon's resync repairs from the kernel's state.
      await this.#deps.host.apply(changes);
    });
  }

  resync(peers: readonly Lease[]): Promise<void> {
    return this.#queue.run(async () => {
      // Nothing changed in the leases nor (per ip/bridge monitor) in the kernel: skip the kernel read, except every
      // FULL_RECONCILE_EVERY-th period. A renewal replaces a lease object without changing what it programs.
      if (!this.#gate.mustRead(sameLeases(this.#peers, peers))) return;
      this.#peers.clear();
      for (const lease of peers) this.#peers.set(lease.key, lease);
      await this.#reconcile();
    });
  }

  async [Symbol.asyncDispose]() {
    // The device and every entry stay: a restarted flanneld finds them in place and traffic is not cut.
    this.#disposed = true;
    this.#monitorStop.abort();
    await this.#repairing;
    await this.#queue.idle();
  }

  /** The kernel changes for one family's part of a batch; updates the applied state to match. */
  #applyToFamily(state: FamilyState, batch: LeaseBatch): HostChange[] {
    const { view } = state;
    const applied = state.applied;
    // The touched entries before and after, as two small states for diffStates (the one diff both paths use).
    const before = emptyApplied();
    const after = emptyApplied();
    // Remember an entry's applied value the first time the batch touches it.
    const touch = (kind: keyof AppliedState, key: string) => {
      const was = applied[kind].get(key);
      if (was !== undefined && !before[kind].has(key) && !after[kind].has(key)) (before[kind] as Map<string, typeof was>).set(key, was);
    };
    const isDirect = (ip: string) => this.#direct.get(ip) === true;
    for (const event of batch) {
      const entries = peerEntries(view, event.lease, isDirect);
      if (typeof entries === 'string') continue;
      const route = entries.route.dev ? entries.route : { ...entries.route, dev: view.externalDevice };
      touch('routes', route.dst);
      if (entries.neighbour) touch('neighbours', entries.neighbour[0]);
      if (entries.fdb) touch('fdb', entries.fdb[0]);
      if (event.type === 'removed') {
        // Only what this lease put there: admission keeps subnets and MACs unique among peers.
        applied.routes.delete(route.dst);
        after.routes.delete(route.dst);
        if (entries.neighbour) { applied.neighbours.delete(entries.neighbour[0]); after.neighbours.delete(entries.neighbour[0]); }
        if (entries.fdb) { applied.fdb.delete(entries.fdb[0]); after.fdb.delete(entries.fdb[0]); }
      } else {
        applied.routes.set(route.dst, route);
        after.routes.set(route.dst, route);
        if (entries.neighbour) { applied.neighbours.set(...entries.neighbour); after.neighbours.set(...entries.neighbour); }
        if (entries.fdb) { applied.fdb.set(...entries.fdb); after.fdb.set(...entries.fdb); }
      }
    }
    return diffStates(view, before, after);
  }

  /** Asks the kernel, once per new peer address, whether it is on the same L2 segment (DirectRouting). */
  async #learnDirect(leases: readonly Lease[]): Promise<void> {
    for (const lease of leases) {
      for (const state of this.#families) {
        const ip = state.view.family === 4 ? lease.attrs.publicIP : lease.attrs.publicIPv6;
        if (!ip || this.#direct.has(ip)) continue;
        this.#direct.set(ip, isOnSegment(await this.#deps.host.routeTo(ip), state.view.externalDevice));
      }
    }
  }

  /**
   * resync's repair: inspect (the kernel against the plan, re-creating the device if it is gone or changed) and
   * apply exactly the changes it returns, in one batch.
   */
  async #reconcile(): Promise<void> {
    const { host, log, network, externalInterface } = this.#deps;
    // Before reading: an event during the reconcile (our own changes included) makes the next one read again.
    this.#gate.reading();
    const vtepMacs: Partial<Record<IpFamily, string>> = {};
    for (const state of this.#families) vtepMacs[state.view.family] = state.mac;
    const { inspection, families } = await inspectVxlanFamilies(host, [...this.#peers.values()], this.#own, { config: this.#config, network, externalInterface, vtepMacs, direct: this.#direct, log });
    for (const [index, device] of inspection.devices.entries()) {
      const state = this.#families.find((f) => f.view.device === device.device);
      for (const problem of device.problems) {
        if (problem.problem === 'missing' || problem.problem === 'incompatible') {
          log.warn(problem.problem === 'incompatible' ? 'vxlan device changed by someone else, re-creating it' : 'vxlan device is gone, re-creating it', { device: device.device, vtepMac: state?.mac ?? '' });
        }
      }
      const changes = device.entries.flatMap((group) => group.drift.flatMap((d) => d.changes));
      if (changes.length > 0) {
        const first = (state?.applied.routes.size ?? 0) === 0 && families[index]!.observedRoutes === 0;
        log.info(first ? 'programming kernel entries' : 'repairing kernel entries', {
          device: device.device,
          changes: changes.length,
          detail: changes.slice(0, 10).map(describe).join('; ') + (changes.length > 10 ? '; ...' : ''),
        });
      }
    }
    if (inspection.changes.length > 0) await host.apply(inspection.changes);
    for (const { family, wanted } of families) {
      const state = this.#families.find((f) => f.view.family === family);
      if (state) state.applied = copyState(wanted);
    }
  }

  /** Reuses a compatible device (keeping its MAC), else (re)creates it, keeping the MAC we already published. */
  async #ensureDevice(state: FamilyState, local: string): Promise<string> {
    const { host } = this.#deps;
    const device = state.view.device;
    const existing = await host.link(device);
    const externalDevice = this.#deps.externalInterface.name;
    if (existing && incompatibility(existing, this.#config, externalDevice) === undefined && existing.vxlan?.local === local && existing.address) {
      await host.apply([{ kind: 'link', name: device, mtu: state.mtu, up: true }]);
      return existing.address;
    }
    const mac = state.mac || existing?.address || randomMac();
    await host.apply(createDeviceChanges({ name: device, mtu: state.mtu, local, externalDevice, mac }, this.#config, existing !== undefined));
    state.applied = emptyApplied();
    // The device is new: nothing is programmed on it any more.
    return mac;
  }

  /** Exactly one address from the flannel network on the device: the own subnet's network address. */
  async #ensureAddress(state: FamilyState): Promise<void> {
    if (!state.ownAddress) return;
    const { host, network } = this.#deps;
    const { view } = state;
    const changes = addressChanges(view.device, view.family, (view.family === 4 ? network.ipv4 : network.ipv6)!.network, state.ownAddress, await host.addresses(view.device));
    if (changes.length > 0) await host.apply(changes);
  }

  /**
   * Watches kernel events about our devices (host.monitor: links, addresses, neighbours, routes, FDB): a deleted
   * device is repaired at once, not at the next periodic reconcile, and any other change makes the next reconcile
   * read the kernel, and so do notifications the kernel dropped. A monitor that cannot run or stops makes every
   * reconcile read the kernel again, as if there were no monitor.
   */
  #startMonitor(): void {
    const devices = this.#families.map((f) => f.view.device);
    const direct = this.#config.directRouting ? this.#deps.externalInterface.name : undefined;
    const ours = (dev: string | undefined) => dev !== undefined && devices.includes(dev);
    // DirectRouting programs routes to peer subnets through the underlay device.
    const isDirectRoute = (e: KernelEvent) => direct !== undefined && e.object === 'route' && e.dev === direct && e.gateway !== undefined && e.type === undefined && (e.dst?.includes('/') ?? false);
    const handlers = this.#gate.watch(
      (event) => {
        const deviceGone = event.object === 'link' && event.deleted && ours(event.dev);
        if (deviceGone) this.#repairSoon();
        return deviceGone || ours(event.dev) || isDirectRoute(event);
      },
      () => this.#deps.log.info('the kernel dropped notifications to the device monitor (netlink overrun): the next reconcile reads the kernel'),
    );
    this.#deps.host.monitor(['link', 'address', 'neighbour', 'route', 'fdb'], handlers, this.#monitorStop.signal);
  }

  #repairSoon(): void {
    if (this.#repairing || this.#disposed) return;
    this.#repairing = (async () => {
      await new Promise((r) => setTimeout(r, 100));
      try {
        // Queued like apply and resync: the repair never interleaves with a batch.
        await this.#queue.run(() => this.#reconcile());
      } catch (err) {
        this.#deps.log.warn('repairing the vxlan device failed, retrying at the next reconcile', { reason: errorMessage(err) });
      } finally {
        this.#repairing = undefined;
      }
    })();
  }
}

function describe(change: HostChange): string {
  switch (change.kind) {
    case 'route':
      return `${change.action} route ${change.dst}`;
    case 'neighbour':
      return `${change.action} neighbour ${change.address}`;
    case 'fdb':
      return `${change.action} fdb ${change.lladdr}`;
    default:
      return change.kind;
  }
}
