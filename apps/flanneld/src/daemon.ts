/**
 * flanneld's composition root: named steps in flannel's startup order (flannel-compat.md §7.3), each one call into
 * a package, each long-lived part held with `await using` so teardown runs in reverse even when a later step fails.
 *
 * On SIGTERM/SIGINT the daemon stops its loops and exits, leaving the lease, subnet.env and the data path in place:
 * a restart gets the same subnet and traffic is not cut.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import {
  FlannelError,
  assertClearOfUnderlay,
  errorMessage,
  NO_PUBLIC_IP,
  waitProgress,
  type Backend,
  type HostNetwork,
  type ExternalInterface,
  type Lease,
  type LeaseAttrs,
  type Logger,
  type NetworkConfig,
} from '@flannel-ts/core';
import { createHostNetwork, createIptablesFirewall, createNftablesFirewall, createShellRunner, iptablesHasRandomFully, type FirewallFamily } from '@flannel-ts/host-net';
import { EtcdRegistry, LeaseManager, connectEtcd, describeEtcdError, isRetryable, type AcquireRequest, type EtcdConnectivity, type LeaseListing } from '@flannel-ts/lease-manager';
import { createMetrics, type MetricsSources } from './metrics.js';
import { notifySystemd } from './sd-notify.js';
import { checkWritable, readSubnetEnv, writeSubnetEnv, type SubnetEnvFile } from '@flannel-ts/subnet-env';
import { BACKENDS, checkBackendConfig } from '@flannel-ts/backends';
import { createBlackholeRoutes } from './blackhole.js';
import { findExternalInterface } from './external-interface.js';
import { startPeerStep } from './peer-step.js';
import { startHealthServer, type Readiness } from './health.js';
import type { FlanneldOptions } from './options.js';

/** How often the backend reconciles the kernel with the peer leases (flannel's host-gw checks every 10 s). */
export const DEFAULT_RESYNC_INTERVAL_MS = 10_000;

export interface DaemonDeps {
  /** Period of the backend's reconcile loop. */
  readonly resyncIntervalMs?: number;
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** TTL of subnet leases; flannel's 24 h unless a test shortens it. */
  readonly leaseTtlSeconds?: number;
  readonly backends?: typeof BACKENDS;
  /** systemd's NOTIFY_SOCKET, if any: READY=1 is sent there once the daemon runs. */
  readonly notifySocket?: string | undefined;
  /** Called once the daemon is ready (subnet.env written, peers watched). */
  readonly onReady?: (state: DaemonState) => void;
  /**
   * Sets the process's heap for a long-running daemon (main.ts: V8's GC flags). Called once etcd3 is loaded (V8
   * takes its code cache only under the flags it was made with), and again after the backend is prepared (Node
   * resets V8's flags when it starts a Worker), before the first peer listing.
   */
  readonly tuneHeap?: () => void;
}

/** What the daemon holds; the health server reads readiness from here. */
export class DaemonState {
  phase = 'starting';
  lease: Lease | undefined;
  subnetEnvWritten = false;
  peersSynced = false;
  peersProgrammed = 0;
  /** Set when another host claims this host's public IP. */
  conflict: string | undefined;
  etcd: EtcdConnectivity | undefined;
  readonly #etcdTimeoutMs: number;
  readonly #now: () => number;

  constructor(etcdTimeoutMs = 60_000, now: () => number = Date.now) {
    this.#etcdTimeoutMs = etcdTimeoutMs;
    this.#now = now;
  }

  readiness(): Readiness {
    if (!this.lease) return { ready: false, reason: `no subnet lease yet (${this.phase})` };
    if (!this.subnetEnvWritten) return { ready: false, reason: 'subnet.env not written yet' };
    if (!this.peersSynced) return { ready: false, reason: 'peer leases not synced yet' };
    if (this.conflict) return { ready: false, reason: this.conflict };
    const since = this.etcd?.unreachableSince;
    if (since !== undefined && this.#now() - since >= this.#etcdTimeoutMs) {
      return { ready: false, reason: `etcd unreachable for ${Math.round((this.#now() - since) / 1000)} s (the data path keeps the last known peers)` };
    }
    return { ready: true, reason: '' };
  }
}

export async function runDaemon(options: FlanneldOptions, deps: DaemonDeps): Promise<void> {
  const { signal } = deps;
  const log = deps.log;
  const state = new DaemonState(options.readinessEtcdTimeout * 1000);

  // Every path the daemon writes, checked before anything else: a bad one fails now, not after the lease is taken.
  await checkWritable(options.subnetFile);

  await using store = await connectStore(options, log, deps.leaseTtlSeconds ?? options.subnetLeaseTtl);
  deps.tuneHeap?.();
  const { manager } = store;
  state.etcd = manager.connectivity;
  const previous = await readPreviousSubnetEnv(options.subnetFile, log);

  let metricsSources: MetricsSources | undefined;
  const metrics = createMetrics(() => metricsSources);
  await using _health =
    options.healthzPort > 0
      ? await startHealthServer({
          host: options.healthzIp,
          port: options.healthzPort,
          readiness: () => state.readiness(),
          metrics: () => metrics.render(),
          log,
        })
      : undefined;

  state.phase = 'waiting for network config';
  log.info('waiting for network config', { key: manager.registry.configKey });
  const config = await manager.waitForNetworkConfig(signal);
  if (!config) return;
  log.info('network config found', { network: config.ipv4?.network.toString(), ipv6Network: config.ipv6?.network.toString(), backend: config.backendType });

  state.phase = 'choosing interface';
  // Backends (and the blackhole routes) only ever route overlay subnets: the host network refuses any route outside
  // Network / IPv6Network.
  const confineRoutesTo = [config.ipv4?.network, config.ipv6?.network].filter((network) => network !== undefined);
  const host = createHostNetwork({ confineRoutesTo });
  const externalInterface = await findExternalInterface({
    iface: options.iface,
    ifaceRegex: options.ifaceRegex,
    ifaceCanReach: options.ifaceCanReach,
    publicIp: options.publicIp,
    publicIpv6: options.publicIpv6,
    needIPv4: config.enableIPv4,
    needIPv6: config.enableIPv6,
  }, host);
  assertClearOfUnderlay(config, { name: externalInterface.name, cidrs: externalInterface.cidrs ?? [] });
  log.info('using interface', {
    name: externalInterface.name,
    ip: externalInterface.ipv4 ?? externalInterface.ipv6,
    publicIP: externalInterface.publicIP,
    publicIPv6: externalInterface.publicIPv6,
    mtu: externalInterface.mtu,
  });

  state.phase = 'preparing backend';
  await using backend = await createBackend(config, externalInterface, host, log, signal, deps.backends ?? BACKENDS);
  const registration = await backend.prepare();
  // Again: Node resets V8's flags when it starts a Worker (the udp backend's data path starts two in prepare).
  deps.tuneHeap?.();

  state.phase = 'acquiring lease';
  const attrs: LeaseAttrs = {
    publicIP: externalInterface.publicIP ?? NO_PUBLIC_IP,
    publicIPv6: externalInterface.publicIPv6,
    ...registration.attrs,
  };
  const request: AcquireRequest = { config, attrs, previous: previous && { subnet: previous.subnet, ipv6Subnet: previous.ipv6Subnet } };
  const acquired = await acquireLease(manager, request, log, signal);
  if (!acquired) return;
  const { lease, listing } = acquired;
  state.lease = lease;

  await backend.attach(lease);
  state.phase = 'setting up firewall';
  await using firewall = await setUpFirewall(config, options, log);
  await firewall.apply(lease);
  const blackhole = createBlackholeRoutes(host, options.ipBlackholeRoute, log);
  await blackhole.sync(lease);
  const writeEnv = async (current: Lease) => {
    await writeSubnetEnv(options.subnetFile, {
      network: config.ipv4?.network,
      subnet: current.subnet,
      ipv6Network: config.ipv6?.network,
      ipv6Subnet: current.ipv6Subnet,
      mtu: registration.mtu,
      ipMasq: options.ipMasq,
    });
    log.info('wrote subnet file', { path: options.subnetFile, subnet: current.subnet?.toString(), ipv6Subnet: current.ipv6Subnet?.toString(), mtu: registration.mtu });
  };
  await writeEnv(lease);
  state.subnetEnvWritten = true;

  state.phase = 'watching peers';
  await using peers = await startPeerStep({ manager, backend, config, own: lease, attrs, listing, metrics, status: state, log, signal });
  metricsSources = {
    leaseExpiresAt: () => state.lease?.expiresAt,
    peersKnown: () => peers.watch.peers().length,
    peersRejected: () => peers.watch.rejected(),
    peersProgrammed: () => state.peersProgrammed,
    etcd: manager.connectivity,
    backend,
  };
  state.peersSynced = true;
  // Reconcile periodically too: repairs drift such as a deleted device or route (between batches, never alongside).
  await using _resync = startPeriodic(deps.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS, () => peers.resync(), signal);

  await using _keeper = manager.keepLease(lease, request, {
    // flannel renews `margin` minutes before expiry; a TTL shorter than the margin renews at half-life instead.
    renewMarginMs: Math.min(options.subnetLeaseRenewMargin * 60_000, (options.subnetLeaseTtl * 1000) / 2),
    retryMs: Math.min(60_000, (options.subnetLeaseTtl * 1000) / 10),
    signal,
    onConflict: (current) => peers.ownLeaseTakenOver(current),
    onLeaseChanged: async (current) => {
      const previousLease = state.lease;
      state.lease = current;
      await peers.setOwn(current);
      await firewall.apply(current).catch((err: unknown) => log.error('firewall rules for the new lease failed', { reason: errorMessage(err) }));
      await blackhole.sync(current, previousLease);
      await writeEnv(current).catch((err: unknown) => log.error('writing subnet file failed', { reason: errorMessage(err) }));
    },
  });

  await using _firewallResync = startPeriodic(
    options.iptablesResync * 1000,
    async () => {
      await firewall.repair(state.lease ?? lease);
      await blackhole.repair(state.lease ?? lease);
    },
    signal,
  );

  state.phase = 'running';
  log.info('flanneld is running', { subnet: lease.key, backend: backend.type, peers: peers.watch.peers().length });
  if (deps.notifySocket && notifySystemd('READY=1', deps.notifySocket)) log.info('notified systemd: READY=1');
  deps.onReady?.(state);
  await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
  log.info('shutting down, leaving the lease and data path in place', { subnet: state.lease?.key });
}

interface Store extends AsyncDisposable {
  readonly manager: LeaseManager;
}

async function connectStore(options: FlanneldOptions, log: Logger, leaseTtlSeconds: number | undefined): Promise<Store> {
  const tls = await readTls(options, log);
  const client = connectEtcd({ endpoints: options.etcdEndpoints, tls, username: options.etcdUsername, password: options.etcdPassword });
  const registry = new EtcdRegistry(client, options.etcdPrefix);
  const manager = new LeaseManager({ registry, log, ...(leaseTtlSeconds === undefined ? {} : { leaseTtlSeconds }) });
  log.info('using etcd', { endpoints: options.etcdEndpoints.join(','), prefix: registry.prefix, tls: tls !== undefined, auth: options.etcdUsername !== '' });
  return {
    manager,
    [Symbol.asyncDispose]: async () => client.close(),
  };
}

async function readTls(options: FlanneldOptions, log: Logger) {
  const read = async (path: string, flag: string) => {
    if (!path) return undefined;
    try {
      return await readFile(path);
    } catch (err) {
      throw new FlannelError('USAGE', `cannot read --${flag} ${path}: ${errorMessage(err)}`, { cause: err });
    }
  };
  const [ca, cert, key] = await Promise.all([read(options.etcdCafile, 'etcd-cafile'), read(options.etcdCertfile, 'etcd-certfile'), read(options.etcdKeyfile, 'etcd-keyfile')]);
  if ((cert === undefined) !== (key === undefined)) {
    log.warn(ca ? 'client certificate ignored: --etcd-certfile and --etcd-keyfile go together; using TLS without client authentication' : 'no certificate provided: connecting to etcd with http. This is insecure', {
      hint: 'give both --etcd-certfile and --etcd-keyfile for TLS client authentication',
    });
  }
  if (!ca && !(cert && key)) return undefined;
  return { ca, ...(cert && key ? { cert, key } : {}) };
}

async function readPreviousSubnetEnv(path: string, log: Logger): Promise<SubnetEnvFile | undefined> {
  try {
    const previous = await readSubnetEnv(path);
    if (previous?.subnet) log.info('found previous subnet', { path, subnet: previous.subnet.toString() });
    return previous;
  } catch (err) {
    log.warn('cannot read previous subnet file, allocating afresh', { path, reason: errorMessage(err) });
    return undefined;
  }
}

async function createBackend(config: NetworkConfig, externalInterface: ExternalInterface, host: HostNetwork, log: Logger, signal: AbortSignal, backends: typeof BACKENDS): Promise<Backend> {
  const { factory, config: backendConfig } = await checkBackendConfig(config, backends);
  return factory.create(backendConfig, { log: log.child(`backend-${factory.type}`), network: config, externalInterface, host, signal });
}

/** Acquires the lease, retrying while etcd is unreachable; other failures (e.g. a full network) are final. */
async function acquireLease(manager: LeaseManager, request: AcquireRequest, log: Logger, signal: AbortSignal): Promise<{ lease: Lease; listing: LeaseListing } | undefined> {
  let delayMs = 500;
  const progress = waitProgress(Date.now());
  while (!signal.aborted) {
    try {
      return await manager.acquireLeaseAndListing(request);
    } catch (err) {
      if (!isRetryable(err)) throw err;
      manager.connectivity.failed(err, 'acquiring lease');
      const waited = progress.due(Date.now());
      if (waited !== undefined) log.info('still waiting for etcd to take the subnet lease', { waitedSeconds: waited, reason: describeEtcdError(err) });
      await delay(delayMs, undefined, { signal }).catch(() => undefined);
      delayMs = Math.min(delayMs * 2, 10_000);
    }
  }
  log.info('stopped before a lease was acquired');
  return undefined;
}

/** Runs `task` every `intervalMs` (never overlapping) until disposed or the signal aborts. */
function startPeriodic(intervalMs: number, task: () => Promise<void>, signal: AbortSignal): AsyncDisposable {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const schedule = () => {
    if (stopped || signal.aborted) return;
    timer = setTimeout(() => {
      running = task().finally(schedule);
    }, intervalMs);
  };
  schedule();
  return {
    async [Symbol.asyncDispose]() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

interface DaemonFirewall extends AsyncDisposable {
  apply(lease: Lease): Promise<void>;
  /** Re-checks the rules and re-applies them when anything is missing (every --iptables-resync seconds). */
  repair(lease: Lease): Promise<void>;
}

/**
 * Masquerade and forward rules (flannel-compat.md §6): the mode comes from the config's EnableNFTables; the other
 * mode's leftovers are removed first. Rules are not removed at exit, so a restart does not cut traffic.
 */
async function setUpFirewall(config: NetworkConfig, options: FlanneldOptions, log: Logger): Promise<DaemonFirewall> {
  const fwLog = log.child('firewall');
  // Asked for no rules at all: leave the firewall alone (no probing, no cleanup), and start faster.
  if (!options.ipMasq && !options.iptablesForwardRules) return { apply: async () => undefined, repair: async () => undefined, [Symbol.asyncDispose]: async () => undefined };
  // The check every --iptables-resync seconds reads the rules through one long-lived shell: no fork of flanneld.
  const runner = createShellRunner();
  // --random-fully only changes masquerade rules: without them, no `iptables --version` probe.
  const randomFully = options.ipMasq && !options.ipMasqFullyRandomDisable && (config.enableNFTables || (await iptablesHasRandomFully(runner)));
  const planFor = (lease: Lease) => {
    const families: FirewallFamily[] = [];
    if (config.ipv4 && lease.subnet) families.push({ family: 4, network: config.ipv4.network, subnet: lease.subnet });
    if (config.ipv6 && lease.ipv6Subnet) families.push({ family: 6, network: config.ipv6.network, subnet: lease.ipv6Subnet });
    return { families, masquerade: options.ipMasq, forward: options.iptablesForwardRules, randomFully };
  };
  const make = (lease: Lease) => (config.enableNFTables ? createNftablesFirewall(planFor(lease), fwLog, runner) : createIptablesFirewall(planFor(lease), fwLog, runner));
  let cleaned = false;
  return {
    async apply(lease) {
      const firewall = make(lease);
      if (!cleaned) {
        cleaned = true;
        await firewall.removeOtherMode().catch((err: unknown) => fwLog.debug('cleaning the other firewall mode failed', { reason: errorMessage(err) }));
      }
      if (!options.ipMasq && !options.iptablesForwardRules) return;
      await firewall.apply();
      fwLog.info('firewall rules in place', { mode: firewall.mode, masquerade: options.ipMasq, forward: options.iptablesForwardRules, randomFully });
    },
    async repair(lease) {
      if (!options.ipMasq && !options.iptablesForwardRules) return;
      const firewall = make(lease);
      try {
        const problems = await firewall.check();
        if (problems.length === 0) return;
        fwLog.warn('firewall rules missing or changed, re-applying', { problems: problems.join('; ') });
        await firewall.apply();
      } catch (err) {
        fwLog.error('checking firewall rules failed', { reason: errorMessage(err) });
      }
    },
    [Symbol.asyncDispose]: () => runner[Symbol.asyncDispose](),
  };
}
