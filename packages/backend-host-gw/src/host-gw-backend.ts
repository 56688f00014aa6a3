/**
 * flannel's host-gw backend (flannel-compat.md §5.3): no device and no encapsulation. Each peer subnet is routed
 * through the peer itself, `ip route replace <peer subnet> via <peer PublicIP> dev <external interface>`, so every
 * host must reach every other directly on one L2 segment, on the address it publishes. That is why a public IP
 * that differs from the interface address (NAT, `--public-ip`) is refused up front.
 *
 * The lease carries `BackendType: "host-gw"` and no BackendData; FLANNEL_MTU is the external interface's MTU.
 * `apply` diffs the planned routes against the previous plan and sends one batch; `resync` applies in one batch what
 * `inspectHostGw` finds (the plan against the kernel's routes on the external interface): missing, wrong and stale
 * routes. flannel only re-adds missing routes every 10 s; repairing wrong gateways and removing routes of peers that
 * left while this host was down goes beyond it. Nothing is torn down on dispose: routes outlive a restart, as in flannel.
 *
 * A resync reads the kernel only when something may have changed (KernelReadGate): other peers, a route or link
 * event on the external interface (`ip monitor`), a notification the kernel dropped, or once an hour regardless;
 * so an idle host with 1000 peers does not list 1000 routes every 10 s.
 */
import {
  backendOptionFields,
  ConfigError,
  FlannelError,
  KernelReadGate,
  normalizeIP,
  sameLeases,
  SerialQueue,
  subnetIdentity,
  type Backend,
  type BackendDeps,
  type BackendFactory,
  type BackendRegistration,
  type Lease,
  type LeaseBatch,
  type Logger,
} from '@flannel-ts/core';
import { inspectHostGwRoutes } from './inspect.js';
import { HOST_GW_TYPE, diffChanges, diffRoutes, planRoutes, type PlannedRoute, type SkippedLease } from './plan.js';

/** host-gw has no options of its own; unknown `Backend` keys are ignored, as by flannel. */
export type HostGwConfig = Readonly<Record<string, never>>;

export const hostGwBackend: BackendFactory<HostGwConfig> = {
  type: HOST_GW_TYPE,
  parseConfig: (backend) => (backendOptionFields(backend, 'host-gw', []), Object.freeze({})),
  create: (_config, deps) => new HostGwBackend(deps),
};

const NAT_MESSAGE = {
  4: "your PublicIP differs from interface IP, meaning that probably you're on a NAT, which is not supported by host-gw backend",
  6: "your PublicIPv6 differs from interface IPv6, meaning that probably you're on a NAT, which is not supported by host-gw backend",
} as const;

/**
 * Throws when an enabled family advertises an address other than the interface's own: peers would route to an
 * address this host does not answer on directly. flannel's message, followed by the fix.
 */
export function assertNoNat(deps: Pick<BackendDeps, 'externalInterface' | 'network'>): void {
  const ext = deps.externalInterface;
  for (const family of [4, 6] as const) {
    const enabled = family === 4 ? deps.network.ipv4 : deps.network.ipv6;
    if (!enabled) continue;
    const iface = family === 4 ? ext.ipv4 : ext.ipv6;
    const published = family === 4 ? ext.publicIP : ext.publicIPv6;
    if (iface === undefined) {
      throw new FlannelError(
        'INTERFACE_NOT_FOUND',
        `interface ${ext.name} has no IPv${family} address for host-gw to route through: add one, or pick another interface with --iface`,
      );
    }
    if (published === undefined || normalizeIP(family, published) === normalizeIP(family, iface)) continue;
    const flag = family === 4 ? '--public-ip' : '--public-ipv6';
    throw new ConfigError(
      'Backend.Type',
      `${NAT_MESSAGE[family]}: ${flag} ${published} is not the address of ${ext.name} (${iface}); host-gw routes peers straight to the ` +
        `published address, so drop ${flag} (or set it to ${iface}) if the hosts share a network, or use the vxlan backend across NAT`,
    );
  }
}

/** Resyncs between two that read the routes even with no change seen (1 h at flanneld's 10 s): a last resort. */
const FULL_RECONCILE_EVERY = 360;

class HostGwBackend implements Backend {
  readonly type = HOST_GW_TYPE;
  readonly #deps: BackendDeps;
  readonly #log: Logger;
  /** Peer leases by key, never the own lease. */
  readonly #peers = new Map<string, Lease>();
  #own: Lease | undefined;
  /** The routes last sent to the kernel, by destination. */
  #planned = new Map<string, PlannedRoute>();
  /** apply, attach and resync run one at a time: each reads and replaces `#planned`. */
  readonly #queue = new SerialQueue();
  /** Leases already warned about, so a resync every 10 s does not repeat the warning. */
  readonly #warned = new Set<string>();
  /** Whether a resync reads the kernel: route and link events on the external interface decide. */
  readonly #gate = new KernelReadGate(FULL_RECONCILE_EVERY);
  /** Stops the kernel monitor on dispose. */
  readonly #monitorStop = new AbortController();

  constructor(deps: BackendDeps) {
    this.#deps = deps;
    this.#log = deps.log;
  }

  async prepare(): Promise<BackendRegistration> {
    assertNoNat(this.#deps);
    const ext = this.#deps.externalInterface;
    this.#log.info('host-gw backend ready', { dev: ext.name, mtu: ext.mtu });
    const handlers = this.#gate.watch(
      (event) => event.dev === ext.name,
      () => this.#log.info('the kernel dropped notifications to the route monitor (netlink overrun): the next resync reads the routes'),
    );
    this.#deps.host.monitor(['route', 'link'], handlers, this.#monitorStop.signal);
    return { attrs: { backendType: HOST_GW_TYPE }, mtu: ext.mtu };
  }

  attach(own: Lease): Promise<void> {
    // Nothing to program for the own subnet (the container bridge routes it). A peer entry for the subnet this host
    // now holds (after a re-acquire) is dropped together with its route.
    return this.#queue.run(async () => {
      this.#own = own;
      const ownId = subnetIdentity(own);
      const gone = [...this.#peers.values()].filter((lease) => subnetIdentity(lease) === ownId);
      if (gone.length === 0) return;
      await this.#program(gone.map((lease) => ({ type: 'removed', lease }) as const));
    });
  }

  apply(batch: LeaseBatch): Promise<void> {
    return this.#queue.run(async () => {
      const ownId = this.#own && subnetIdentity(this.#own);
      await this.#program(batch.filter((event) => subnetIdentity(event.lease) !== ownId));
    });
  }

  resync(peers: readonly Lease[]): Promise<void> {
    return this.#queue.run(async () => {
      const ownId = this.#own && subnetIdentity(this.#own);
      const mine = peers.filter((lease) => subnetIdentity(lease) !== ownId);
      if (!this.#gate.mustRead(sameLeases(this.#peers, mine))) return;
      // Before reading: a route event from here on (our own repairs included) makes the next resync read again.
      this.#gate.reading();
      this.#peers.clear();
      for (const lease of mine) this.#peers.set(lease.key, lease);
      const { network, host, externalInterface } = this.#deps;
      const { inspection, wanted, repairs } = await inspectHostGwRoutes(host, [...this.#peers.values()], this.#own, { network, externalInterface, onSkip: (skipped) => this.#reportSkip(skipped) });
      // A missing route this process programmed before was lost (deleted by hand, interface flapped): flannel's
      // "route recovered". One it never programmed is simply new (the first listing after a start goes here).
      const programmed = new Set([...this.#planned.values()].map((r) => `${r.dst} ${r.via}`));
      this.#planned = new Map(wanted.map((r) => [r.dst, r]));

      for (const stale of repairs.stale) this.#log.info('stale route removed', { subnet: stale.dst, via: stale.via, dev: stale.dev });
      for (const route of repairs.missing) {
        if (programmed.has(`${route.dst} ${route.via}`)) this.#log.info('route recovered', { subnet: route.dst, via: route.via, dev: route.dev, lease: route.lease });
        else this.#log.debug('adding route', { subnet: route.dst, via: route.via, dev: route.dev });
      }
      for (const { route, was } of repairs.wrong) this.#log.info('route corrected', { subnet: route.dst, via: route.via, was, dev: route.dev, lease: route.lease });
      // resync = inspect + apply: exactly the changes inspect reports.
      if (inspection.changes.length > 0) await host.apply(inspection.changes);
      this.#log.debug('routes reconciled', { routes: wanted.length, repaired: inspection.changes.length });
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // Routes stay: a restarted flanneld finds them in place and traffic is not cut (flannel does the same).
    this.#monitorStop.abort();
    await this.#queue.idle();
  }

  /**
   * Sends the routes one batch changes, at a cost in proportion to the batch: only its leases are planned and
   * compared with what was applied; the kernel is read only by resync.
   */
  async #program(batch: LeaseBatch): Promise<void> {
    const before: PlannedRoute[] = [];
    const touched = new Set<string>();
    const remember = (dst: string) => {
      if (touched.has(dst)) return;
      touched.add(dst);
      const was = this.#planned.get(dst);
      if (was) before.push(was);
    };
    for (const event of batch) {
      const routes = planRoutes([event.lease], { dev: this.#deps.externalInterface.name, network: this.#deps.network, onSkip: (skipped) => this.#reportSkip(skipped) });
      if (event.type === 'removed') {
        this.#peers.delete(event.lease.key);
        // Only the routes this lease put there: admission keeps peer subnets unique.
        for (const route of routes) if (this.#planned.get(route.dst)?.lease === event.lease.key) { remember(route.dst); this.#planned.delete(route.dst); }
      } else {
        this.#peers.set(event.lease.key, event.lease);
        for (const route of routes) { remember(route.dst); this.#planned.set(route.dst, route); }
      }
    }
    const next = [...touched].flatMap((dst) => this.#planned.get(dst) ?? []);
    const diff = diffRoutes(before, next);
    // Recorded before the batch runs: if a line fails, the daemon's resync repairs from the kernel's state.
    for (const route of diff.remove) this.#log.debug('removing route', { subnet: route.dst, via: route.via, dev: route.dev });
    for (const route of diff.replace) this.#log.debug('adding route', { subnet: route.dst, via: route.via, dev: route.dev });
    const changes = diffChanges(diff);
    if (changes.length > 0) await this.#deps.host.apply(changes);
  }

  #reportSkip({ lease, reason, family }: SkippedLease): void {
    if (reason === 'not-host-gw') {
      this.#log.debug('ignoring non-host-gw lease', { subnet: lease.key, backendType: lease.attrs.backendType ?? '' });
      return;
    }
    const id = `${lease.key}|${family}|${family === 6 ? lease.attrs.publicIPv6 : lease.attrs.publicIP}`;
    if (this.#warned.has(id)) return;
    this.#warned.add(id);
    this.#log.warn(`ignoring peer without a public IPv${family ?? 4} address`, { subnet: lease.key });
  }
}
