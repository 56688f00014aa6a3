/**
 * `flannelctl doctor`: checks the host it runs on, end to end, and says what to do about each problem.
 *
 * It reads, in parallel: the flanneld process of this network namespace (its flags give the subnet file and the
 * health port when not passed), its health endpoint, subnet.env, the links of the host, and the config and leases
 * from etcd (bounded in time: an unreachable etcd is a finding, and the local checks still run). The kernel tables
 * are compared with what the leases call for by the backends themselves (vxlan inspectVxlan, host-gw
 * inspectHostGw: what flanneld's resync would change). Last, it probes each peer subnet's gateway.
 */
import { admitLeases, errorMessage, IpNet, type HostNetwork, type IpFamily, type Lease, type NetworkConfig } from '@flannel-ts/core';
import { inspectVxlan, peerEndpoint, parseVxlanConfig, vxlanDeviceName } from '@flannel-ts/backend-vxlan';
import { inspectHostGw } from '@flannel-ts/backend-host-gw';
import { createHostNetwork } from '@flannel-ts/host-net';
import { readConfigLeniently } from '../read-config.js';
import { DEFAULT_SUBNET_FILE, readSubnetEnv, type SubnetEnvFile } from '@flannel-ts/subnet-env';
import type { DoctorArgs } from '../commands/doctor.js';
import type { CommandContext } from '../context.js';
import { listTimedLeases } from '../lease-times.js';
import {
  backendFromLinks,
  checkConfig,
  checkDevices,
  checkDuplicatePublicIPs,
  checkEtcd,
  checkFirewall,
  checkFlanneld,
  checkHostGwRoutes,
  checkInterface,
  checkLease,
  checkMtu,
  checkPeers,
  checkReady,
  checkRejectedLeases,
  checkSubnetEnv,
  checkUdpRoute,
  checkVxlanEntries,
  chooseInterface,
  findOwnLease,
  type BackendView,
  type HealthFacts,
  type PeerProbe,
  type SkippedPeer,
  type StoreFacts,
} from '../doctor/checks.js';
import { countFindings, exitCodeFor, ok, renderFindings, warn, type Finding } from '../doctor/findings.js';
import { findFlanneldProcesses, flanneldFlag, flanneldFlagAll, httpGet, ping, readIptables, readLinks, type HostLink, type ProcessInfo } from '../doctor/host.js';


const HEALTH_TIMEOUT_MS = 2000;
const PROBE_CONCURRENCY = 16;

/** What `--json` prints. */
export interface DoctorReport {
  readonly host: {
    readonly subnet: string | null;
    readonly ipv6Subnet: string | null;
    readonly publicIP: string | null;
    readonly backend: string | null;
    readonly interface: string | null;
    readonly subnetFile: string;
    readonly healthzUrl: string | null;
    readonly flanneldPid: number | null;
  };
  readonly findings: readonly Finding[];
  readonly summary: { readonly ok: number; readonly warn: number; readonly fail: number };
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function readStore(ctx: CommandContext, timeoutMs: number): Promise<StoreFacts> {
  try {
    return await withTimeout(
      (async (): Promise<StoreFacts> => {
        const { manager, registry } = await ctx.openStore();
        const { config, configError } = await readConfigLeniently(manager);
        const listing = await listTimedLeases(registry, ctx.now);
        return { ok: true, revision: listing.revision, configKey: registry.configKey, config, configError, leases: listing.leases, skipped: listing.skipped };
      })(),
      timeoutMs,
      'etcd',
    );
  } catch (err) {
    const { describeEtcdError, isRetryable } = await import('@flannel-ts/lease-manager');
    const text = describeEtcdError(err);
    return { ok: false, error: isRetryable(err) ? `unreachable (${text})` : text };
  }
}

async function readEnvFile(path: string): Promise<{ env: SubnetEnvFile | undefined; error: string | undefined }> {
  try {
    return { env: await readSubnetEnv(path), error: undefined };
  } catch (err) {
    return { env: undefined, error: errorMessage(err) };
  }
}

/** The health endpoint: --healthz-url, else flanneld's own --healthz-ip/--healthz-port, else FLANNELD_HEALTHZ_*. */
function healthzUrl(args: DoctorArgs, flanneld: ProcessInfo | undefined, env: CommandContext['env']): string | undefined {
  if (args.healthzUrl) return args.healthzUrl.replace(/\/+$/, '');
  const port = (flanneld && flanneldFlag(flanneld, 'healthz-port')) ?? env['FLANNELD_HEALTHZ_PORT'];
  if (!port || !/^\d+$/.test(port) || Number(port) === 0) return undefined;
  const ip = (flanneld && flanneldFlag(flanneld, 'healthz-ip')) ?? env['FLANNELD_HEALTHZ_IP'] ?? '0.0.0.0';
  return `http://${ip === '0.0.0.0' || ip === '' ? '127.0.0.1' : ip}:${port}`;
}

function backendFromConfig(config: NetworkConfig): BackendView {
  if (config.backendType === 'vxlan') {
    const vxlan = parseVxlanConfig(config.backend);
    const devices: { family: IpFamily; name: string }[] = [];
    if (config.ipv4) devices.push({ family: 4, name: vxlanDeviceName(4, vxlan.vni) });
    if (config.ipv6) devices.push({ family: 6, name: vxlanDeviceName(6, vxlan.vni) });
    return { type: 'vxlan', source: 'config', devices, vni: vxlan.vni, port: vxlan.port, directRouting: vxlan.directRouting, underlayMtu: vxlan.mtu };
  }
  if (config.backendType === 'udp') return { type: 'udp', source: 'config', devices: [{ family: 4, name: 'flannel0' }] };
  return { type: config.backendType, source: 'config', devices: [] };
}

/** Runs `task` over `items`, at most `limit` at a time, keeping the order of the results. */
async function mapLimited<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await task(items[index]!);
      }
    }),
  );
  return results;
}

export async function doctor(args: DoctorArgs, ctx: CommandContext): Promise<number> {
  const host = createHostNetwork();
  const processes = await findFlanneldProcesses();
  const flanneld = processes[0];
  const subnetFile = args.subnetFile ?? (flanneld && flanneldFlag(flanneld, 'subnet-file')) ?? ctx.env['FLANNELD_SUBNET_FILE'] ?? DEFAULT_SUBNET_FILE;
  const url = healthzUrl(args, flanneld, ctx.env);

  const [store, envRead, links, readyz, defaultRoute] = await Promise.all([
    readStore(ctx, args.etcdTimeoutMs),
    readEnvFile(subnetFile),
    readLinks(host),
    url === undefined ? Promise.resolve(undefined) : httpGet(`${url}/readyz`, HEALTH_TIMEOUT_MS),
    host.routes({ family: 4 }).then((routes) => routes.find((r) => r.dst === 'default'), () => undefined),
  ]);
  const health: HealthFacts = { url, readyz };
  const env = envRead.env;
  const localAddresses = new Set(links.flatMap((l) => l.addresses.map((a) => a.address)));
  const config = store.ok ? store.config : undefined;
  const leases = store.ok ? store.leases : [];
  const ownMatch = store.ok ? findOwnLease(leases, env, localAddresses) : undefined;
  const own = ownMatch?.timed.lease;
  // The peers flanneld programs: core's admission decision from this host's point of view (as flanneld takes it).
  const admission = config
    ? admitLeases(leases.map((t) => t.lease), { config, own, ownPublicIPs: [own?.attrs.publicIP, own?.attrs.publicIPv6] })
    : { admitted: leases.map((t) => t.lease).filter((l) => l.key !== own?.key), rejected: [] };
  const peers = admission.admitted;

  let view: BackendView | undefined;
  let viewError: string | undefined;
  try {
    view = config ? backendFromConfig(config) : backendFromLinks(links);
  } catch (err) {
    viewError = errorMessage(err);
  }
  if (view?.type === 'udp') {
    // The kernel names the TUN device (flannel0, flannel1, ...): take the one that exists.
    const tun = links.find((l) => l.kind === 'tun' && /^flannel\d+$/.test(l.name));
    if (tun) view = { ...view, devices: [{ family: 4, name: tun.name }] };
  }
  const vxlanLink = view?.type === 'vxlan' ? links.find((l) => l.name === view?.devices[0]?.name) : undefined;
  // As flanneld picks it: --iface, else the address it publishes; failing those, the vxlan device's underlay, and
  // last the default route's interface (flanneld's own default).
  const iface = chooseInterface(links, [
    args.iface,
    ...(flanneld ? flanneldFlagAll(flanneld, 'iface') : []),
    own?.attrs.publicIP,
    own?.attrs.publicIPv6,
    vxlanLink?.vxlan?.dev,
    defaultRoute?.dev,
  ]);
  // The container bridge (docker0, cbr0) holds the subnet's gateway address.
  const gateway = (own?.subnet ?? env?.subnet)?.addressText(1n);
  const bridge = gateway === undefined ? undefined : links.find((l) => l.kind !== 'vxlan' && l.addresses.some((a) => a.address === gateway));

  const findings: Finding[] = [];
  findings.push(checkFlanneld(processes), checkReady(health));
  findings.push(checkEtcd(store, ctx.etcd.etcdEndpoints, flanneld && flanneldFlag(flanneld, 'etcd-endpoints')));
  const configFinding = checkConfig(store);
  if (configFinding) findings.push(configFinding);
  if (viewError !== undefined) findings.push(warn('config', `the backend config cannot be read: ${viewError}`, 'fix it with flannelctl config set'));
  if (store.ok) {
    findings.push(...checkLease({ own: ownMatch, config, envSubnet: env?.subnet ?? env?.ipv6Subnet, now: ctx.now(), expiryWarningMs: args.expiryWarningMs }));
    findings.push(checkDuplicatePublicIPs(own, leases, localAddresses));
    if (config) findings.push(checkRejectedLeases(admission.rejected));
  } else {
    findings.push(warn('lease', 'not checked: the leases could not be read from etcd'));
  }
  findings.push(checkSubnetEnv({ path: subnetFile, env, readError: envRead.error, own, config }));
  findings.push(checkInterface(iface, own, localAddresses));
  findings.push(...checkDevices({ view, links, own, iface, config }));
  findings.push(...checkMtu({ view, envMtu: env?.mtu, links, iface, config, bridge }));

  // The kernel tables, the firewall and the peer probes are independent: read them together.
  const [entryFindings, firewallFindings, peerFindings] = await Promise.all([
    checkKernelEntries({ view, own, peers, iface, config, host, storeOk: store.ok }),
    (async () => {
      const network = config?.ipv4?.network ?? env?.network;
      if (!network) return [warn('firewall', 'not checked: the network is unknown (no subnet.env, no config from etcd)')];
      const dump = await readIptables(4);
      return checkFirewall({ ipMasq: env?.ipMasq, dump, network, subnet: own?.subnet ?? env?.subnet, nftables: config?.enableNFTables ?? false, family: 4 });
    })(),
    probePeers({ view, own, peers, store, envMtu: env?.mtu, timeoutMs: args.probeTimeoutMs }),
  ]);
  findings.push(...entryFindings, ...firewallFindings, ...peerFindings);

  const report: DoctorReport = {
    host: {
      subnet: own?.subnet?.toString() ?? env?.subnet?.toString() ?? null,
      ipv6Subnet: own?.ipv6Subnet?.toString() ?? env?.ipv6Subnet?.toString() ?? null,
      publicIP: own?.attrs.publicIP ?? null,
      backend: view?.type ?? null,
      interface: iface?.name ?? null,
      subnetFile,
      healthzUrl: url ?? null,
      flanneldPid: flanneld?.pid ?? null,
    },
    findings,
    summary: countFindings(findings),
  };
  if (args.json) ctx.out(JSON.stringify(report, null, 2));
  else ctx.out(`${headline(report)}\n\n${renderFindings(findings)}`);
  return exitCodeFor(findings);
}

function headline(report: DoctorReport): string {
  const h = report.host;
  const parts = [
    h.subnet ? `subnet ${h.subnet}` : 'no subnet',
    h.publicIP ? `public IP ${h.publicIP}` : undefined,
    h.backend ? `backend ${h.backend}` : undefined,
    h.interface ? `interface ${h.interface}` : undefined,
  ].filter(Boolean);
  return `flannelctl doctor: ${parts.join(', ')}`;
}

/**
 * The kernel entries, as the backend's inspect finds them against the peer leases: exactly what flanneld's resync
 * would change. A device that is gone or was made by someone else is the device check's finding (resync re-creates
 * it); its entries are not listed.
 */
export async function checkKernelEntries(input: {
  readonly view: BackendView | undefined;
  readonly own: Lease | undefined;
  readonly peers: readonly Lease[];
  readonly iface: Pick<HostLink, 'name' | 'mtu' | 'addresses'> | undefined;
  readonly config: NetworkConfig | undefined;
  readonly host: HostNetwork;
  /** Whether the leases and config were read from etcd. */
  readonly storeOk: boolean;
}): Promise<Finding[]> {
  const { view, own, peers, iface, config, host } = input;
  if (!input.storeOk || !config) return [warn('routes', 'kernel entries not checked: the peer leases and config could not be read from etcd')];
  if (!view) return [];
  try {
    if (view.type === 'vxlan') {
      if (!iface) return [warn('routes', 'not checked: the external interface is unknown (pass --iface)')];
      const address = (family: IpFamily) => iface.addresses.find((a) => a.family === family)?.address;
      const externalInterface = { name: iface.name, mtu: iface.mtu, ipv4: address(4), ipv6: address(6) };
      const inspection = await inspectVxlan(host, peers, own, { config: parseVxlanConfig(config.backend), network: config, externalInterface });
      return inspection.devices
        .filter((device) => !device.problems.some((p) => p.problem === 'missing' || p.problem === 'incompatible'))
        .flatMap((device) => checkVxlanEntries({ inspection: device, peers }));
    }
    if (view.type === 'host-gw') {
      if (!iface) return [warn('routes', 'not checked: the external interface is unknown (pass --iface)')];
      const inspection = await inspectHostGw(host, peers, own, { network: config, externalInterface: iface });
      return inspection.devices.map((device) => checkHostGwRoutes({ inspection: device, peers }));
    }
    if (view.type === 'udp') {
      const device = view.devices[0]?.name ?? 'flannel0';
      if (!(await host.link(device))) return [];
      return [checkUdpRoute(device, await host.routes({ dev: device, family: 4 }), config.ipv4?.network)];
    }
    return [];
  } catch (err) {
    return [warn('routes', `kernel entries could not be read: ${errorMessage(err)}`, 'run doctor as root, with iproute2 installed')];
  }
}

/** Which peers the backend programs (and so can be probed), and why the others are left out. */
function reachablePeers(view: BackendView | undefined, peers: readonly Lease[]): { probe: Lease[]; skipped: SkippedPeer[] } {
  const probe: Lease[] = [];
  const skipped: SkippedPeer[] = [];
  for (const lease of peers) {
    if (!lease.subnet) continue; // IPv6-only peers are not probed
    let reason: string | undefined;
    if (view?.type === 'vxlan') {
      const endpoint = peerEndpoint(lease, 4);
      if (typeof endpoint === 'string') reason = endpoint;
    } else if (view?.type === 'host-gw' && lease.attrs.backendType !== 'host-gw') reason = `backend type ${lease.attrs.backendType ?? '(none)'} is not host-gw`;
    if (lease.attrs.publicIP === '0.0.0.0') reason = 'it has no public IP';
    // A reservation's host has not joined: nothing answers there yet.
    if (lease.expiresAt === null) reason ??= 'its host has not joined yet';
    if (reason === undefined) probe.push(lease);
    else skipped.push({ lease, reason });
  }
  return { probe, skipped };
}

async function probePeers(input: {
  readonly view: BackendView | undefined;
  readonly own: Lease | undefined;
  readonly peers: readonly Lease[];
  readonly store: StoreFacts;
  readonly envMtu: number | undefined;
  readonly timeoutMs: number;
}): Promise<Finding[]> {
  if (!input.store.ok) return [warn('peer', 'peers not probed: the leases could not be read from etcd')];
  if (!input.own) return [warn('peer', 'peers not probed: this host has no lease, so nothing routes their replies back')];
  // alloc leases subnets and carries no traffic: there is no overlay path to probe.
  if (input.view?.type === 'alloc') return [ok('peer', `not probed: the alloc backend has no data path (${input.peers.length} peer lease${input.peers.length === 1 ? '' : 's'} known)`)];
  const { probe, skipped } = reachablePeers(input.view, input.peers);
  const timeoutMs = input.timeoutMs;
  const hasDevice = input.view?.type === 'vxlan' || input.view?.type === 'udp';
  const probes = await mapLimited(probe, PROBE_CONCURRENCY, async (lease): Promise<PeerProbe> => {
    const subnet = lease.subnet as IpNet;
    const gateway = subnet.addressText(1n);
    const gatewayAnswer = await ping(gateway, { timeoutMs });
    if (gatewayAnswer.answered) {
      const fullSize =
        input.envMtu !== undefined && input.envMtu > 28
          ? { bytes: input.envMtu, answer: await ping(gateway, { timeoutMs, size: input.envMtu - 28, dontFragment: true }) }
          : undefined;
      return { lease, gateway, gatewayAnswer, fullSize };
    }
    const [deviceAnswer, publicAnswer] = await Promise.all([hasDevice ? ping(subnet.addressText(0n), { timeoutMs }) : Promise.resolve(undefined), ping(lease.attrs.publicIP, { timeoutMs })]);
    return { lease, gateway, gatewayAnswer, deviceAnswer, publicAnswer };
  });
  return checkPeers({ probes, skipped, backend: input.view?.type ?? 'the overlay', timeoutMs });
}

