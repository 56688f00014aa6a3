/**
 * doctor's judgement, as pure functions from what was read to findings: no I/O here, so every rule is unit-tested
 * with made-up facts. The kernel entries are judged by the backends themselves: their `inspect` (vxlan
 * `inspectVxlan`, host-gw `inspectHostGw`) is what flanneld's resync applies, and doctor only words it, with the
 * very changes as the fix (in iproute2's syntax). So doctor and flanneld agree on what "right" is by construction.
 */
import { IpNet, NO_PUBLIC_IP, leasesNamingAddresses, normalizeIP, publicAddressesOf, sharedPublicAddresses, type DeviceInspection, type EntryDrift, type HostChange, type IpFamily, type KernelEntry, type Lease, type NetworkConfig, type RejectedLease, type RouteEntry } from '@flannel-ts/core';
import { peerEndpoint, VXLAN6_ENCAP_OVERHEAD, VXLAN_ENCAP_OVERHEAD } from '@flannel-ts/backend-vxlan';
import { UDP_ENCAP_OVERHEAD } from '@flannel-ts/backend-udp';
import { bridgeBatchLine, forwardRules as hostForwardRules, ipBatchLine, masqueradeRules } from '@flannel-ts/host-net';
import type { SubnetEnvFile } from '@flannel-ts/subnet-env';
import { formatAgo, formatRemaining } from '../format.js';
import { describeMisfit } from '../lease-fit.js';
import { renewedAgoMs, type TimedLease } from '../lease-times.js';
import { fail, ok, warn, type Finding } from './findings.js';
import type { HostLink, HttpAnswer, IptablesDump, PingResult, ProcessInfo } from './host.js';

const REPAIR_NOTE = 'flanneld repairs this at its next reconcile (within 10 s) if it runs; if it comes back, something else edits the kernel tables';
const MAX_LISTED = 6;

function listSome(items: readonly string[]): string {
  return items.length <= MAX_LISTED ? items.join('; ') : `${items.slice(0, MAX_LISTED).join('; ')}; and ${items.length - MAX_LISTED} more`;
}

// ---- flanneld ----------------------------------------------------------------------------------------------

export function checkFlanneld(processes: readonly ProcessInfo[]): Finding {
  if (processes.length === 0) {
    return fail(
      'flanneld',
      'flanneld is not running on this host (no flanneld process in this network namespace)',
      'start it (systemctl start flanneld, or however this host runs it); its log says why it stopped (journalctl -u flanneld)',
    );
  }
  if (processes.length > 1) {
    return warn('flanneld', `${processes.length} flanneld processes run here (pids ${processes.map((p) => p.pid).join(', ')}): they fight over one device and lease`, 'stop all but one');
  }
  return ok('flanneld', `running (pid ${processes[0]!.pid})`);
}

export interface HealthFacts {
  /** Base URL, e.g. http://127.0.0.1:8471; undefined when flanneld serves no health endpoint here. */
  readonly url: string | undefined;
  readonly readyz: HttpAnswer | undefined;
}

export function checkReady(health: HealthFacts): Finding {
  const { url, readyz } = health;
  if (url === undefined || readyz === undefined) {
    return warn(
      'ready',
      'readiness not checked: flanneld serves no health endpoint here (it runs without --healthz-port)',
      'start flanneld with --healthz-port=8471 (and --healthz-ip=127.0.0.1), or pass --healthz-url http://IP:PORT',
    );
  }
  const where = `${url}/readyz`;
  if (readyz.error !== undefined && readyz.status === undefined) {
    return fail('ready', `no answer from ${where} (${readyz.error})`, 'flanneld is down, or its health server listens elsewhere: pass --healthz-url http://IP:PORT (flanneld\'s --healthz-ip and --healthz-port)');
  }
  if (readyz.status === 200) return ok('ready', `ready (${where}: ${readyz.body || '200'})`);
  if (readyz.status === 503) return fail('ready', `not ready (${where}: ${readyz.body || '503'})`, 'flanneld is still starting or stuck at the step named there; its log says more');
  return fail('ready', `unexpected answer ${readyz.status ?? '?'} from ${where}: ${readyz.body}`, 'is something other than flanneld listening there? pass the right --healthz-url');
}

// ---- etcd, config, lease --------------------------------------------------------------------------------

export type StoreFacts =
  | {
      readonly ok: true;
      readonly revision: bigint;
      readonly configKey: string;
      readonly config: NetworkConfig | undefined;
      readonly configError: string | undefined;
      readonly leases: readonly TimedLease[];
      readonly skipped: readonly { readonly key: string; readonly reason: string }[];
    }
  | { readonly ok: false; readonly error: string };

export function checkEtcd(store: StoreFacts, endpoints: readonly string[], flanneldEndpoints: string | undefined): Finding {
  const where = endpoints.join(',');
  if (store.ok) {
    const skipped = store.skipped.length > 0 ? `; ${store.skipped.length} unreadable entr${store.skipped.length === 1 ? 'y' : 'ies'} skipped (see flannelctl leases list)` : '';
    return ok('etcd', `reachable at ${where} (${store.leases.length} lease${store.leases.length === 1 ? '' : 's'}, revision ${store.revision})${skipped}`);
  }
  const hint = flanneldEndpoints !== undefined && flanneldEndpoints !== where ? ` (flanneld here uses --etcd-endpoints=${flanneldEndpoints}: pass the same)` : '';
  return fail(
    'etcd',
    `cannot read the network from etcd at ${where}: ${store.error}`,
    `check that etcd runs and that this host reaches it${hint}; or point flannelctl at it with --etcd-endpoints. The checks below that need the leases are skipped; flanneld keeps the data path as it is while etcd is away`,
  );
}

export function checkConfig(store: StoreFacts): Finding | undefined {
  if (!store.ok) return undefined;
  if (!store.config) {
    return fail('config', `no usable network config at ${store.configKey}: ${store.configError ?? 'unknown error'}`, 'write one: flannelctl config set 10.1.0.0/16 --backend vxlan');
  }
  const c = store.config;
  const networks = [c.ipv4?.network.toString(), c.ipv6?.network.toString()].filter(Boolean).join(' + ');
  return ok('config', `Network ${networks}, backend ${c.backendType}`);
}

/** This host's lease: the one for the subnet in subnet.env, else one naming an address of this host. */
export function findOwnLease(
  leases: readonly TimedLease[],
  subnetEnv: SubnetEnvFile | undefined,
  localAddresses: ReadonlySet<string>,
): { readonly timed: TimedLease; readonly how: 'subnet.env' | 'public IP' } | undefined {
  const subnet = subnetEnv?.subnet ?? subnetEnv?.ipv6Subnet;
  if (subnet) {
    const match = leases.find((t) => (subnet.family === 4 ? t.lease.subnet : t.lease.ipv6Subnet)?.equals(subnet.masked()));
    if (match) return { timed: match, how: 'subnet.env' };
  }
  const byIp = leases.filter((t) => t.lease.attrs.publicIP !== NO_PUBLIC_IP && localAddresses.has(t.lease.attrs.publicIP));
  // A reservation that names this host is taken over by flanneld; a real lease wins over it.
  const chosen = byIp.find((t) => t.lease.expiresAt !== null) ?? byIp[0];
  return chosen ? { timed: chosen, how: 'public IP' } : undefined;
}

export function checkLease(input: {
  readonly own: { readonly timed: TimedLease; readonly how: string } | undefined;
  readonly config: NetworkConfig | undefined;
  readonly envSubnet: IpNet | undefined;
  readonly now: number;
  readonly expiryWarningMs: number;
}): Finding[] {
  const { own, config } = input;
  if (!own) {
    const what = input.envSubnet ? `no lease for ${input.envSubnet} (the subnet in subnet.env), and none names an address of this host` : 'no lease names an address of this host';
    return [fail('lease', `${what}: peers do not know this host`, 'flanneld acquires a lease at start: restart flanneld; if it cannot, its log says why (network full? etcd unreachable or read-only?)')];
  }
  const { lease } = own.timed;
  const subnet = [lease.subnet?.toString(), lease.ipv6Subnet?.toString()].filter(Boolean).join(' + ');
  const findings: Finding[] = [];
  if (config && describeMisfit(config, lease) !== undefined) {
    findings.push(fail('lease', `${subnet} does not fit the current config (${describeMisfit(config, lease)})`, 'restart flanneld: it drops the lease and takes one from the current Network (containers then need the new subnet)'));
  }
  let timing: string;
  if (lease.expiresAt === null) timing = 'reserved (no expiry)';
  else if (lease.expiresAt === undefined) timing = 'its etcd lease has just ended';
  else {
    const renewed = renewedAgoMs(own.timed);
    timing = `expires in ${formatRemaining(lease.expiresAt - input.now)}${renewed !== undefined ? `, renewed ${formatAgo(renewed)} ago` : ''}`;
  }
  const remaining = typeof lease.expiresAt === 'number' ? lease.expiresAt - input.now : undefined;
  if (lease.expiresAt === undefined || (remaining !== undefined && remaining < input.expiryWarningMs)) {
    findings.push(fail('lease', `${subnet} of ${lease.attrs.publicIP} is about to expire (${timing}): flanneld is not renewing it`, 'check flanneld runs and reaches etcd; restarting it renews the lease'));
  }
  if (findings.length === 0) findings.push(ok('lease', `${subnet} for ${lease.attrs.publicIP} (found by ${own.how}), ${timing}`));
  return findings;
}

export function checkDuplicatePublicIPs(own: Lease | undefined, leases: readonly TimedLease[], localAddresses: ReadonlySet<string> = new Set()): Finding {
  const all = leases.map((t) => t.lease);
  // Another lease naming an address of this host (not only the own lease's): peers route its subnet here.
  const ownAddresses = own ? publicAddressesOf(own) : [];
  const claiming = leasesNamingAddresses(all, [...localAddresses].filter((address) => !ownAddresses.includes(address)), own?.key).filter((l) => !ownAddresses.some((address) => publicAddressesOf(l).includes(address)));
  if (claiming.length > 0) {
    const live = claiming.filter((l) => l.expiresAt !== null);
    const text = `${claiming.map((l) => `${l.subnet?.toString() ?? l.key}${l.expiresAt === null ? ' (reserved)' : ''} claims ${l.attrs.publicIP}`).join(', ')}, an address of this host`;
    const fix = `${claiming.map((l) => `flannelctl leases revoke ${l.key}`).join('\n')}\n(unless this host should own it: then restart flanneld with --public-ip ${claiming[0]!.attrs.publicIP})`;
    return live.length > 0 ? fail('duplicate-public-ip', `${text}: peers route that subnet to this host, which does not serve it`, fix) : warn('duplicate-public-ip', `${text}: flanneld here takes it over at its next start`, fix);
  }
  const name = (l: Lease) => `${l.subnet?.toString() ?? l.key}${l.expiresAt === null ? ' (reserved)' : ''}`;
  if (own) {
    const others = leasesNamingAddresses(all, ownAddresses, own.key);
    if (others.length > 0) {
      return fail(
        'duplicate-public-ip',
        `this host's public IP ${own.attrs.publicIP} is also named by ${others.map(name).join(', ')}: peers route those subnets to this host, and a flanneld restart here may take the wrong lease`,
        others.map((l) => `flannelctl leases revoke ${l.key}`).join('\n') + '\n(revoke the lease that is not this host\'s; if another host really has this address, give it its own with --public-ip)',
      );
    }
  }
  const shared = [...sharedPublicAddresses(all)];
  if (shared.length > 0) {
    return warn(
      'duplicate-public-ip',
      `peers share a public IP: ${shared.map(([ip, ls]) => `${ip} in ${ls.map(name).join(', ')}`).join('; ')}`,
      'revoke the stale one of each pair: flannelctl leases revoke SUBNET (see flannelctl status)',
    );
  }
  return ok('duplicate-public-ip', 'no other lease names the same public IP');
}

/** One warning for the peer leases flanneld refuses to program (core's admission), each with its reason. */
export function checkRejectedLeases(rejected: readonly RejectedLease[]): Finding {
  if (rejected.length === 0) return ok('rejected-leases', 'every peer lease is admitted');
  const items = rejected.map(({ lease, rejection }) => `${lease.key} (${rejection.reason}: ${rejection.detail})`);
  return warn(
    'rejected-leases',
    `${rejected.length} peer lease${rejected.length === 1 ? ' is' : 's are'} rejected and not programmed: ${listSome(items)}`,
    rejected.map(({ lease }) => `flannelctl leases revoke ${lease.key}`).join('\n') + '\n(or correct the key; flannelctl status lists each with its reason)',
  );
}

// ---- subnet.env -------------------------------------------------------------------------------------------

export function checkSubnetEnv(input: {
  readonly path: string;
  readonly env: SubnetEnvFile | undefined;
  readonly readError: string | undefined;
  readonly own: Lease | undefined;
  readonly config: NetworkConfig | undefined;
}): Finding {
  const { path, env, own, config } = input;
  if (input.readError !== undefined) return fail('subnet-env', `cannot read ${path}: ${input.readError}`, 'check the file permissions (run doctor as root)');
  if (!env) {
    return fail('subnet-env', `${path} does not exist: Docker and the CNI plugin cannot learn the subnet`, 'flanneld writes it once it holds a lease: check that flanneld runs; if it writes another file, pass --subnet-file PATH');
  }
  const restart = 'restart flanneld (it rewrites subnet.env), then restart Docker / the containers so they take the new values';
  const problems: string[] = [];
  const vars = env.variables;
  if (config?.ipv4 || (!config && vars['FLANNEL_SUBNET'] !== undefined)) {
    if (!env.subnet) problems.push(`FLANNEL_SUBNET is ${vars['FLANNEL_SUBNET'] === undefined ? 'missing' : `not one CIDR ("${vars['FLANNEL_SUBNET']}")`}`);
    else if (own?.subnet && !own.subnet.equals(env.subnet)) problems.push(`FLANNEL_SUBNET=${vars['FLANNEL_SUBNET']} but this host's lease is ${own.subnet}: containers get addresses that peers route elsewhere`);
    if (config?.ipv4 && !env.network?.equals(config.ipv4.network)) problems.push(`FLANNEL_NETWORK=${vars['FLANNEL_NETWORK'] ?? '(missing)'} but the config's Network is ${config.ipv4.network}`);
  }
  if (config?.ipv6) {
    if (!env.ipv6Subnet) problems.push('FLANNEL_IPV6_SUBNET is missing');
    else if (own?.ipv6Subnet && !own.ipv6Subnet.equals(env.ipv6Subnet)) problems.push(`FLANNEL_IPV6_SUBNET=${vars['FLANNEL_IPV6_SUBNET']} but this host's lease is ${own.ipv6Subnet}`);
    if (!env.ipv6Network?.equals(config.ipv6.network)) problems.push(`FLANNEL_IPV6_NETWORK=${vars['FLANNEL_IPV6_NETWORK'] ?? '(missing)'} but the config's IPv6Network is ${config.ipv6.network}`);
  }
  if (env.mtu === undefined) problems.push(`FLANNEL_MTU is ${vars['FLANNEL_MTU'] === undefined ? 'missing' : `not a number ("${vars['FLANNEL_MTU']}")`}`);
  if (problems.length > 0) return fail('subnet-env', `${path}: ${problems.join('; ')}`, restart);
  const shown = ['FLANNEL_NETWORK', 'FLANNEL_SUBNET', 'FLANNEL_IPV6_NETWORK', 'FLANNEL_IPV6_SUBNET', 'FLANNEL_MTU', 'FLANNEL_IPMASQ']
    .filter((k) => vars[k] !== undefined)
    .map((k) => `${k.replace('FLANNEL_', '')}=${vars[k]}`)
    .join(' ');
  const compared = own && config ? ', matching the lease and the config' : ' (not compared with etcd)';
  return ok('subnet-env', `${path}: ${shown}${compared}`);
}

// ---- backend, interface, device, MTU ---------------------------------------------------------------------

export interface BackendView {
  readonly type: string;
  /** Where the type came from: the config, or (etcd unreachable) the devices found. */
  readonly source: 'config' | 'devices';
  /** The backend's devices per family (vxlan flannel.<VNI>, udp flannel0); empty for host-gw. */
  readonly devices: readonly { readonly family: IpFamily; readonly name: string }[];
  readonly vni?: number | undefined;
  readonly port?: number | undefined;
  readonly directRouting?: boolean | undefined;
  /** vxlan Backend.MTU: the underlay MTU to derive the device MTU from. */
  readonly underlayMtu?: number | undefined;
}

/** Guesses the backend from the devices present (when the config cannot be read). */
export function backendFromLinks(links: readonly HostLink[]): BackendView | undefined {
  const vxlan = links.find((l) => l.kind === 'vxlan' && /^flannel\.\d+$/.test(l.name));
  if (vxlan) {
    const v6 = links.find((l) => l.kind === 'vxlan' && l.name === `flannel-v6.${vxlan.vxlan?.vni ?? 0}`);
    return {
      type: 'vxlan',
      source: 'devices',
      devices: [{ family: 4, name: vxlan.name }, ...(v6 ? [{ family: 6 as const, name: v6.name }] : [])],
      vni: vxlan.vxlan?.vni,
      port: vxlan.vxlan?.port,
    };
  }
  const tun = links.find((l) => l.kind === 'tun' && /^flannel\d+$/.test(l.name));
  if (tun) return { type: 'udp', source: 'devices', devices: [{ family: 4, name: tun.name }] };
  return undefined;
}

/** The interface that carries flannel traffic: the first candidate (a name or an address) that exists. */
export function chooseInterface(links: readonly HostLink[], candidates: readonly (string | undefined)[]): HostLink | undefined {
  for (const candidate of candidates) {
    if (!candidate) continue;
    const byName = links.find((l) => l.name === candidate);
    if (byName) return byName;
    const ip = normalizeIP(4, candidate) ?? normalizeIP(6, candidate);
    const byAddress = ip === undefined ? undefined : links.find((l) => l.addresses.some((a) => normalizeIP(a.family, a.address) === ip));
    if (byAddress) return byAddress;
  }
  return undefined;
}

export function checkInterface(iface: HostLink | undefined, own: Lease | undefined, localAddresses: ReadonlySet<string>): Finding {
  if (!iface) {
    return fail('interface', 'cannot tell which interface carries flannel traffic (no interface holds the lease\'s public IP)', 'pass --iface NAME (the interface flanneld uses, its --iface)');
  }
  const address = iface.addresses.find((a) => a.family === 4)?.address ?? iface.addresses[0]?.address ?? 'no address';
  if (!iface.up || !iface.lowerUp) {
    return fail('interface', `${iface.name} is ${iface.up ? 'up but has no carrier' : 'down'}: no flannel traffic leaves this host`, iface.up ? `check the link of ${iface.name} (cable, switch, VM NIC)` : `ip link set ${iface.name} up`);
  }
  const publicIP = own?.attrs.publicIP;
  if (publicIP && publicIP !== NO_PUBLIC_IP && !localAddresses.has(publicIP)) {
    return warn('interface', `${iface.name} up (${address}, MTU ${iface.mtu}), but the lease's public IP ${publicIP} is not on this host: peers must reach it through NAT (flanneld --public-ip)`, 'if this host is not behind NAT, restart flanneld so the lease names its real address');
  }
  return ok('interface', `${iface.name} up, ${address}, MTU ${iface.mtu}`);
}

function ownDeviceAddress(own: Lease | undefined, family: IpFamily): string | undefined {
  const subnet = family === 4 ? own?.subnet : own?.ipv6Subnet;
  return subnet ? `${subnet.addressText()}/${family === 4 ? 32 : 128}` : undefined;
}

function macOf(lease: Lease, family: IpFamily): string | undefined {
  const endpoint = peerEndpoint(lease, family);
  return typeof endpoint === 'string' ? undefined : endpoint.vtepMac;
}

export function checkDevices(input: {
  readonly view: BackendView | undefined;
  readonly links: readonly HostLink[];
  readonly own: Lease | undefined;
  readonly iface: HostLink | undefined;
  readonly config: NetworkConfig | undefined;
}): Finding[] {
  const { view, links, own, iface } = input;
  if (!view) return [warn('device', 'no backend device found and no config to tell the backend: device checks skipped', 'make etcd reachable, or check that flanneld runs')];
  if (view.type === 'host-gw') return [ok('device', `host-gw has no device: peer routes go out of ${iface?.name ?? 'the external interface'} directly`)];
  if (view.type !== 'vxlan' && view.type !== 'udp') return [warn('device', `backend ${view.type} is not checked by doctor (it knows vxlan, host-gw and udp)`)];
  const findings: Finding[] = [];
  for (const { family, name } of view.devices) {
    const link = links.find((l) => l.name === name);
    if (!link) {
      findings.push(fail('device', `${name} does not exist: this host has no ${view.type} data path`, 'flanneld creates it at start (and re-creates it within seconds): restart flanneld'));
      continue;
    }
    const problems: string[] = [];
    const fixes: string[] = [];
    const expectedKind = view.type === 'vxlan' ? 'vxlan' : 'tun';
    if (link.kind !== expectedKind) problems.push(`it is a ${link.kind ?? 'plain'} device, not ${expectedKind}`);
    if (view.type === 'vxlan' && link.vxlan) {
      if (view.vni !== undefined && link.vxlan.vni !== view.vni) problems.push(`VNI ${link.vxlan.vni} but the config says ${view.vni}`);
      if (view.port !== undefined && link.vxlan.port !== view.port) problems.push(`UDP port ${link.vxlan.port} but the config says ${view.port}`);
      if (iface && link.vxlan.dev !== undefined && link.vxlan.dev !== iface.name) problems.push(`bound to ${link.vxlan.dev}, not ${iface.name}`);
      const leaseMac = own ? macOf(own, family) : undefined;
      if (leaseMac && link.mac && leaseMac !== link.mac.toLowerCase()) {
        problems.push(`its MAC is ${link.mac} but the lease publishes ${leaseMac}: peers send to a MAC nobody has`);
      }
    }
    if (!link.up) {
      problems.push('it is down');
      fixes.push(`ip link set ${name} up`);
    }
    const wanted = ownDeviceAddress(own, family);
    const network = family === 4 ? input.config?.ipv4?.network : input.config?.ipv6?.network;
    const have = link.addresses.filter((a) => a.family === family).map((a) => `${a.address}/${a.prefixLength}`);
    if (wanted && !have.includes(wanted)) {
      problems.push(`it lacks its address ${wanted} (has ${have.join(', ') || 'none'})`);
      fixes.push(`ip addr add ${wanted} dev ${name}`);
    }
    if (network && wanted) {
      for (const cidr of have) {
        const net = IpNet.parse(cidr);
        if (cidr !== wanted && net && network.containsAddress(net.address)) {
          problems.push(`it has the stray address ${cidr} from the flannel network`);
          fixes.push(`ip addr del ${cidr} dev ${name}`);
        }
      }
    }
    if (problems.length > 0) {
      findings.push(fail('device', `${name}: ${problems.join('; ')}`, [...fixes, 'restarting flanneld sets the device up as the config and lease say'].join('\n')));
    } else {
      const vx = link.vxlan ? `vxlan VNI ${link.vxlan.vni} port ${link.vxlan.port}${link.vxlan.dev ? ` on ${link.vxlan.dev}` : ''}, ` : '';
      findings.push(ok('device', `${name}: ${vx}up, ${link.mac && view.type === 'vxlan' ? `MAC ${link.mac} as in the lease, ` : ''}address ${wanted ?? have.join(', ')}`));
    }
  }
  return findings;
}

/** What FLANNEL_MTU should be for this backend on this interface, with the reason in words. */
export function expectedMtu(view: BackendView, iface: HostLink, config: NetworkConfig | undefined): { readonly mtu: number; readonly why: string } {
  if (view.type === 'vxlan') {
    const overhead = config && !config.ipv4 ? VXLAN6_ENCAP_OVERHEAD : VXLAN_ENCAP_OVERHEAD;
    const base = view.underlayMtu ?? iface.mtu;
    return { mtu: base - overhead, why: view.underlayMtu !== undefined ? `Backend.MTU ${base} - ${overhead} (vxlan)` : `${iface.name} MTU ${base} - ${overhead} (vxlan)` };
  }
  if (view.type === 'udp') return { mtu: iface.mtu - UDP_ENCAP_OVERHEAD, why: `${iface.name} MTU ${iface.mtu} - ${UDP_ENCAP_OVERHEAD} (udp)` };
  if (view.type === 'host-gw') return { mtu: iface.mtu, why: `${iface.name} MTU ${iface.mtu} (host-gw adds no header)` };
  if (view.type === 'alloc') return { mtu: iface.mtu, why: `${iface.name} MTU ${iface.mtu} (alloc has no data path: the interface MTU)` };
  return { mtu: iface.mtu, why: `${iface.name} MTU ${iface.mtu}` };
}

export function checkMtu(input: {
  readonly view: BackendView | undefined;
  readonly envMtu: number | undefined;
  readonly links: readonly HostLink[];
  readonly iface: HostLink | undefined;
  readonly config: NetworkConfig | undefined;
  /** The container bridge: the link holding this host's subnet gateway (docker0, cbr0). */
  readonly bridge: HostLink | undefined;
}): Finding[] {
  const { view, envMtu, iface, bridge } = input;
  if (envMtu === undefined) return [warn('mtu', 'not checked: subnet.env has no FLANNEL_MTU')];
  const findings: Finding[] = [];
  const restart = 'restart flanneld (it sets the device MTU and FLANNEL_MTU from the interface at start), then restart the containers (they take the MTU from subnet.env when created)';
  const device = view?.devices[0] ? input.links.find((l) => l.name === view.devices[0]!.name) : undefined;
  if (device && device.mtu !== envMtu) {
    findings.push(
      fail(
        'mtu',
        `${device.name} has MTU ${device.mtu} but FLANNEL_MTU is ${envMtu}: ${device.mtu < envMtu ? 'containers send packets the device cannot carry (large transfers stall)' : 'the device accepts packets larger than the underlay carries'}`,
        `ip link set ${device.name} mtu ${envMtu}\n${REPAIR_NOTE}`,
      ),
    );
  }
  let expected: { mtu: number; why: string } | undefined;
  if (view && iface) {
    expected = expectedMtu(view, iface, input.config);
    if (expected.mtu !== envMtu) {
      const bigger = envMtu > expected.mtu;
      const message = `FLANNEL_MTU is ${envMtu} but ${expected.why} gives ${expected.mtu}: ${
        bigger ? 'full-size packets do not fit the underlay and are dropped' : 'it works but wastes bandwidth, and peers with the right MTU send this host larger packets than its containers expect'
      } (every host should use the same underlay MTU)`;
      findings.push(bigger ? fail('mtu', message, restart) : warn('mtu', message, restart));
    }
  }
  if (bridge && bridge.mtu > envMtu) {
    findings.push(fail('mtu', `the container bridge ${bridge.name} has MTU ${bridge.mtu}, above FLANNEL_MTU ${envMtu}: containers send packets the overlay drops`, `ip link set ${bridge.name} mtu ${envMtu}, and start Docker with --mtu=$FLANNEL_MTU (the CNI plugin reads it from subnet.env)`));
  }
  if (findings.length === 0) {
    const parts = [`FLANNEL_MTU ${envMtu}`];
    if (device) parts.push(`${device.name} ${device.mtu}`);
    if (expected) parts.push(`= ${expected.why}`);
    if (bridge) parts.push(`bridge ${bridge.name} ${bridge.mtu}`);
    findings.push(ok('mtu', parts.join(', ')));
  }
  return findings;
}

// ---- kernel entries ----------------------------------------------------------------------------------------

/** Normalises a route destination as `ip -j` prints it (`10.1.5.0/24`, host routes without a length). */
function routeKey(dst: string, family: IpFamily): string {
  if (dst.includes('/')) return IpNet.parse(dst, family)?.masked().toString() ?? dst;
  return `${dst}/${family === 4 ? 32 : 128}`;
}

function peerName(peersBySubnet: ReadonlyMap<string, Lease>, subnet: string): string {
  const lease = peersBySubnet.get(subnet);
  return lease ? ` (peer ${lease.attrs.publicIP})` : '';
}

/** A change as the command an operator types: `ip route replace ...`, `bridge fdb del ...`. */
export function commandLine(change: HostChange): string {
  return change.kind === 'fdb' ? `bridge ${bridgeBatchLine(change)}` : `ip ${ipBatchLine(change) ?? ''}`;
}

type Issues = { readonly missing: string[]; readonly wrong: string[]; readonly stale: string[] };

/** Each difference worded by `describe`, each fix the change that repairs it, in inspect's order. */
function wordDrift(drift: readonly EntryDrift[], describe: (d: EntryDrift) => string): { issues: Issues; fixes: string[] } {
  const issues: Issues = { missing: [], wrong: [], stale: [] };
  const fixes: string[] = [];
  for (const d of drift) {
    issues[d.problem].push(describe(d));
    fixes.push(...d.changes.map(commandLine));
  }
  return { issues, fixes };
}

const ENTRY_CHECK = { route: ['routes', 'peer route'], neighbour: ['neighbours', 'peer neighbour entry'], fdb: ['fdb', 'peer FDB entry'] } as const;

/**
 * The vxlan entries of one device as the backend's inspect found them (missing, wrong, stale per kind), worded,
 * with the changes flanneld's resync makes as the fix.
 */
export function checkVxlanEntries(input: { readonly inspection: DeviceInspection; readonly peers: readonly Lease[] }): Finding[] {
  const { inspection } = input;
  const device = inspection.device;
  const family = inspection.family ?? 4;
  const peersBySubnet = new Map<string, Lease>();
  for (const peer of input.peers) {
    const subnet = family === 4 ? peer.subnet : peer.ipv6Subnet;
    if (subnet) peersBySubnet.set(subnet.masked().toString(), peer);
  }
  const byAddress = new Map<string, Lease>();
  for (const [key, lease] of peersBySubnet) byAddress.set(key.split('/')[0]!, lease);
  const who = (address: string) => {
    const owner = byAddress.get(address);
    return owner ? ` (peer ${owner.attrs.publicIP})` : '';
  };
  const routeLine = (r: Extract<KernelEntry, { kind: 'route' }>) => `${r.dst} via ${r.via ?? ''} dev ${r.dev ?? device}${r.onlink ? ' onlink' : ''}`;

  const describe = (d: EntryDrift): string => {
    const wanted = d.wanted;
    const found = d.found[0];
    if (d.problem === 'stale') {
      if (found?.kind === 'route') return `${found.dst} via ${found.via ?? ''} dev ${found.dev ?? device} (no lease for it)`;
      if (found?.kind === 'neighbour') return `${found.address} lladdr ${found.lladdr} (no lease for it)`;
      if (found?.kind === 'fdb') return `${found.lladdr} dst ${found.dst} (no lease for it)`;
    }
    if (wanted?.kind === 'route') {
      const line = `${routeLine(wanted)}${peerName(peersBySubnet, wanted.dst)}`;
      if (d.problem === 'missing' || found?.kind !== 'route') return line;
      return `${wanted.dst} goes via ${found.via ?? '-'} dev ${found.dev ?? '-'}, wanted ${line}`;
    }
    if (wanted?.kind === 'neighbour') {
      if (d.problem === 'missing' || found?.kind !== 'neighbour') return `${wanted.address} lladdr ${wanted.lladdr}${who(wanted.address)}`;
      return `${wanted.address} has lladdr ${found.lladdr}, the lease says ${wanted.lladdr}${who(wanted.address)}`;
    }
    if (wanted?.kind === 'fdb') {
      if (d.problem === 'missing') return `${wanted.lladdr} dst ${wanted.dst}`;
      return `${wanted.lladdr} points at ${d.found.map((f) => (f.kind === 'fdb' ? f.dst : '?')).join(', ')}, the lease says ${wanted.dst}`;
    }
    return d.problem;
  };

  return inspection.entries.map((group) => {
    const [check, noun] = ENTRY_CHECK[group.kind];
    const { issues, fixes } = wordDrift(group.drift, describe);
    return entryFinding(check, device, group.wanted, noun, issues, fixes);
  });
}

function entryFinding(
  check: string,
  device: string,
  wantedCount: number,
  noun: string,
  issues: { readonly missing: readonly string[]; readonly wrong: readonly string[]; readonly stale: readonly string[] },
  fixes: readonly string[],
): Finding {
  const parts: string[] = [];
  if (issues.missing.length > 0) parts.push(`${issues.missing.length} missing: ${listSome(issues.missing)}`);
  if (issues.wrong.length > 0) parts.push(`${issues.wrong.length} wrong: ${listSome(issues.wrong)}`);
  if (issues.stale.length > 0) parts.push(`${issues.stale.length} stale: ${listSome(issues.stale)}`);
  if (parts.length === 0) return ok(check, `${wantedCount} ${wantedCount === 1 ? noun : noun.replace(/y$/, 'ie').concat('s')} on ${device}, as the leases say`);
  const shown = fixes.length <= MAX_LISTED * 2 ? fixes : [...fixes.slice(0, MAX_LISTED * 2), `... (${fixes.length - MAX_LISTED * 2} more)`];
  return fail(check, parts.join('; '), [...shown, REPAIR_NOTE].join('\n'));
}

/** host-gw: a route per peer via its public IP on the external interface, as the backend's inspect found them. */
export function checkHostGwRoutes(input: { readonly inspection: DeviceInspection; readonly peers: readonly Lease[] }): Finding {
  const { inspection } = input;
  const dev = inspection.device;
  const peersBySubnet = new Map<string, Lease>();
  for (const p of input.peers) for (const s of [p.subnet, p.ipv6Subnet]) if (s) peersBySubnet.set(s.masked().toString(), p);
  const routes = inspection.entries.find((group) => group.kind === 'route');
  const { issues, fixes } = wordDrift(routes?.drift ?? [], (d) => {
    const wanted = d.wanted?.kind === 'route' ? d.wanted : undefined;
    const found = d.found[0]?.kind === 'route' ? d.found[0] : undefined;
    if (d.problem === 'stale') return `${found?.dst ?? '?'} via ${found?.via ?? ''} (no lease for it)`;
    if (d.problem === 'missing') return `${wanted?.dst ?? '?'} via ${wanted?.via ?? ''} dev ${wanted?.dev ?? dev}${peerName(peersBySubnet, wanted?.dst ?? '')}`;
    return `${wanted?.dst ?? '?'} goes via ${found?.via ?? 'no gateway'}, wanted ${wanted?.via ?? ''}`;
  });
  return entryFinding('routes', dev, routes?.wanted ?? 0, 'peer route', issues, fixes);
}

/** udp: flannel0 carries the whole Network; the per-peer table lives inside flanneld, not in the kernel. */
export function checkUdpRoute(device: string, routes: readonly RouteEntry[], network: IpNet | undefined): Finding {
  if (!network) return warn('routes', 'not checked: no IPv4 Network in the config');
  const found = routes.some((r) => routeKey(r.dst, 4) === network.toString());
  if (found) return ok('routes', `${network} dev ${device} (peers are in flanneld's own table, not the kernel)`);
  return fail('routes', `no route for the network ${network} on ${device}: traffic to other hosts does not reach flanneld`, `ip route replace ${network} dev ${device} scope global\n(restarting flanneld also adds it)`);
}

// ---- firewall ---------------------------------------------------------------------------------------------

/**
 * The masquerade rules flannel installs in the nat table, as `iptables -t nat -S` lists them (flannel-compat.md
 * §6.1): the POSTROUTING jump, then FLANNEL-POSTRTG's six rules, made by the same code that flanneld installs.
 */
export function masqRules(network: IpNet, subnet: IpNet, family: IpFamily): string[] {
  return [`-A POSTROUTING ${MASQ_TAG} -j FLANNEL-POSTRTG`, ...masqueradeRules({ family, network, subnet: subnet.masked() }, true)];
}

/** The FORWARD jump and FLANNEL-FWD's two accept rules. */
export function forwardRules(network: IpNet, subnet: IpNet, family: IpFamily): string[] {
  return [`-A FORWARD ${FWD_TAG} -j FLANNEL-FWD`, ...hostForwardRules({ family, network, subnet })];
}

const MASQ_TAG = '-m comment --comment "flanneld masq"';
const FWD_TAG = '-m comment --comment "flanneld forward"';

/** `--random-fully` depends on the iptables build and a flag; spacing and quoting vary between iptables versions. */
function ruleKey(rule: string): string {
  return rule.replace(/\s+--random-fully\b/, '').replace(/"/g, '').replace(/\s+/g, ' ').trim();
}

export function checkFirewall(input: {
  readonly ipMasq: boolean | undefined;
  readonly dump: IptablesDump | undefined;
  readonly network: IpNet | undefined;
  readonly subnet: IpNet | undefined;
  readonly nftables: boolean;
  readonly family: IpFamily;
}): Finding[] {
  const { dump, network, subnet } = input;
  const binary = input.family === 4 ? 'iptables' : 'ip6tables';
  if (input.nftables) {
    return [warn('firewall', 'the config uses nftables (EnableNFTables): its flannel tables are not checked by doctor', `nft list table ip flannel-ipv4 shows them`)];
  }
  if (!dump || (dump.nat === undefined && dump.filter === undefined)) {
    return [warn('firewall', `${dump?.error ?? `${binary} could not be run`}: masquerade and forward rules not checked`, `install iptables (apt-get install iptables) and run doctor as root`)];
  }
  const findings: Finding[] = [];
  if (input.ipMasq === true) {
    if (!network || !subnet) findings.push(warn('firewall', 'FLANNEL_IPMASQ=true but the network or subnet is unknown: masquerade rules not checked'));
    else if (dump.nat === undefined) findings.push(warn('firewall', `cannot list the nat table (${dump.error ?? 'unknown error'}): masquerade rules not checked`));
    else {
      const have = new Set(dump.nat.map(ruleKey));
      const wanted = masqRules(network, subnet, input.family);
      const missing = wanted.filter((rule) => !have.has(ruleKey(rule)));
      if (missing.length === 0) findings.push(ok('firewall', `the ${wanted.length} masquerade rules for ${network} are in place (nat FLANNEL-POSTRTG)`));
      else {
        const chain = dump.nat.some((l) => l === '-N FLANNEL-POSTRTG') ? [] : [`${binary} -t nat -N FLANNEL-POSTRTG`];
        findings.push(
          fail(
            'firewall',
            `FLANNEL_IPMASQ=true but ${missing.length} of ${wanted.length} masquerade rules are missing from the nat table: containers cannot reach addresses outside ${network}`,
            [...chain, ...missing.map((rule) => `${binary} -t nat ${rule}`), '(flanneld --ip-masq is what installs them; add them by hand in this order)'].join('\n'),
          ),
        );
      }
    }
  } else {
    findings.push(ok('firewall', `ip masquerade is off (FLANNEL_IPMASQ=${input.ipMasq === false ? 'false' : 'unset'}): no masquerade rules expected`));
  }
  if (dump.filter !== undefined && network) {
    const mentionsFwd = dump.filter.some((l) => l.includes('FLANNEL-FWD'));
    if (mentionsFwd) {
      const have = new Set(dump.filter.map(ruleKey));
      const missing = forwardRules(network, subnet ?? network, input.family).filter((rule) => !have.has(ruleKey(rule)));
      if (missing.length === 0) findings.push(ok('firewall', `forward rules accept ${network} (filter FLANNEL-FWD)`));
      else findings.push(fail('firewall', `${missing.length} of 3 flannel forward rules are missing from the filter table`, missing.map((rule) => `${binary} ${rule}`).join('\n')));
    } else if (dump.filter.includes('-P FORWARD DROP')) {
      findings.push(
        warn(
          'firewall',
          `the FORWARD policy is DROP and there are no flannel forward rules: traffic between containers on different hosts is dropped unless other rules accept ${network}`,
          `${binary} -A FORWARD -s ${network} -j ACCEPT\n${binary} -A FORWARD -d ${network} -j ACCEPT`,
        ),
      );
    }
  }
  return findings;
}

// ---- peers ------------------------------------------------------------------------------------------------

export interface PeerProbe {
  readonly lease: Lease;
  /** The peer subnet's gateway (network + 1: docker0/cbr0 there). */
  readonly gateway: string;
  readonly gatewayAnswer: PingResult;
  /** The peer's flannel device address (network + 0), probed when the gateway did not answer (vxlan, udp). */
  readonly deviceAnswer?: PingResult | undefined;
  /** The peer's public IP, probed when the gateway did not answer. */
  readonly publicAnswer?: PingResult | undefined;
  /** A full-size packet (FLANNEL_MTU bytes, don't fragment) to the gateway, when the small one answered. */
  readonly fullSize?: { readonly bytes: number; readonly answer: PingResult } | undefined;
}

export interface SkippedPeer {
  readonly lease: Lease;
  readonly reason: string;
}

/** What carries the overlay between two hosts, per backend: the first thing to check when a peer does not answer. */
const PATH_HINT: Readonly<Record<string, string>> = {
  vxlan: 'check the vxlan path: UDP 8472 (or the configured Port) open between the hosts',
  udp: 'check the udp path: UDP 8285 (or the configured Port) open between the hosts',
  'host-gw': 'check the host-gw path: both hosts on one layer-2 segment, each routing the other\'s subnet via its public IP (ip route get <gateway>)',
};

export function checkPeers(input: { readonly probes: readonly PeerProbe[]; readonly skipped: readonly SkippedPeer[]; readonly backend: string; readonly timeoutMs: number }): Finding[] {
  const { probes } = input;
  if (probes.some((p) => p.gatewayAnswer.missing)) return [warn('peer', 'ping is not installed: peer reachability not checked', 'apt-get install iputils-ping')];
  const findings: Finding[] = [];
  const reachable: string[] = [];
  for (const probe of probes) {
    const { lease, gateway } = probe;
    const subnet = lease.subnet?.toString() ?? lease.key;
    const host = lease.attrs.publicIP;
    if (probe.gatewayAnswer.answered) {
      reachable.push(`${gateway}${probe.gatewayAnswer.rttMs !== undefined ? ` (${probe.gatewayAnswer.rttMs} ms)` : ''}`);
      continue;
    }
    const within = `within ${input.timeoutMs / 1000} s`;
    if (probe.publicAnswer && !probe.publicAnswer.answered) {
      findings.push(
        fail('peer', `${subnet} of ${host}: its gateway ${gateway} does not answer ${within}, nor does ${host} itself: the host is down or unreachable over the underlay`, `check that ${host} is up and reachable from here (ping ${host}); if it left for good, revoke its lease: flannelctl leases revoke ${lease.key}`),
      );
    } else if (probe.deviceAnswer?.answered) {
      findings.push(
        warn('peer', `${subnet} of ${host}: the overlay reaches its flannel device (${lease.subnet?.addressText() ?? '?'}) but its container gateway ${gateway} does not answer`, `on ${host}: check its container bridge (docker0 / cbr0) holds ${gateway} and is up (no containers there yet?)`),
      );
    } else {
      findings.push(
        fail(
          'peer',
          `${subnet} of ${host}: its gateway ${gateway} does not answer ${within}, though ${host} answers on the underlay: the overlay to it is broken`,
          `${PATH_HINT[input.backend] ?? `check the ${input.backend} path between the hosts`}, then run flannelctl doctor on ${host}`,
        ),
      );
    }
  }
  for (const { lease, reason } of input.skipped) {
    const subnet = lease.subnet?.toString() ?? lease.key;
    // A reservation is a host that has not joined yet: nothing to reach, only something to know.
    if (lease.expiresAt === null) {
      findings.push(warn('peer', `${subnet} (reserved for ${lease.attrs.publicIP}) is not probed: ${reason}`, 'fine until that host joins; its flanneld then publishes its backend data'));
      continue;
    }
    findings.push(warn('peer', `${subnet} (of ${lease.attrs.publicIP}) is not reachable through ${input.backend}: ${reason}`, 'every host must use the same backend: restart flanneld there (it reads the current config)'));
  }
  const one = reachable.length === 1;
  if (reachable.length > 0) findings.unshift(ok('peer', `${reachable.length} ${one ? 'peer answers at its' : 'peers answer at their'} gateway: ${listSome(reachable)}`));
  else if (probes.length === 0 && input.skipped.length === 0) findings.push(ok('peer', 'no peers yet: this is the only host'));

  const tooBig = probes.filter((p) => p.fullSize && !p.fullSize.answer.answered);
  const fullOk = probes.filter((p) => p.fullSize?.answer.answered);
  for (const probe of tooBig) {
    findings.push(
      fail(
        'peer-mtu',
        `${probe.fullSize!.bytes}-byte packets (FLANNEL_MTU) to ${probe.gateway} (${probe.lease.attrs.publicIP}) do not get through, small ones do (${probe.fullSize!.answer.detail}): an MTU mismatch on the way`,
        'use the same underlay MTU on every host (or set Backend.MTU in the config to the smallest), restart flanneld on each, then the containers',
      ),
    );
  }
  if (tooBig.length === 0 && fullOk.length > 0) findings.push(ok('peer-mtu', `${fullOk[0]!.fullSize!.bytes}-byte packets reach ${fullOk.length === 1 ? 'the peer' : `all ${fullOk.length} peers`} unfragmented`));
  return findings;
}
