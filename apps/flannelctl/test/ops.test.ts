/**
 * status, doctor, leases watch and completion without etcd: the pure parts (flags, findings, event kinds, output
 * formats) on made-up facts, the command line, and the completion scripts run by bash.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeLeaseAttrs, IpNet, parseNetworkConfig, poolCapacity, type Lease, type LeaseAttrs, type RouteEntry } from '@flannel-ts/core';
import { driftStates, observeFamily, planPeers, type VxlanKernelEntries } from '@flannel-ts/backend-vxlan';
import { planRepairs, planRoutes, routeInspection } from '@flannel-ts/backend-host-gw';
import { parseSubnetEnv } from '@flannel-ts/subnet-env';
import { createTempDir } from '@flannel-ts/testkit';
import { GROUPS, parseCommandLine } from '../src/cli.js';
import { completionNodes, renderCompletion } from '../src/commands/completion.js';
import { buildStatus, renderStatus, summaryLine } from '../src/run/status.js';
import {
  backendFromLinks,
  checkDevices,
  checkDuplicatePublicIPs,
  checkEtcd,
  checkFirewall,
  checkHostGwRoutes,
  checkLease,
  checkMtu,
  checkPeers,
  expectedMtu,
  checkReady,
  checkSubnetEnv,
  checkVxlanEntries,
  findOwnLease,
  masqRules,
  type BackendView,
} from '../src/doctor/checks.js';
import { exitCodeFor, fail, ok, renderFindings, warn } from '../src/doctor/findings.js';
import { flanneldFlag, flanneldFlagAll, isFlanneldCommand, type HostLink, type PingResult } from '../src/doctor/host.js';
import { classifyDelete, classifyPut, describeEvent, renderEventHeader, renderEventLine } from '../src/lease-events.js';
import type { TimedLease } from '../src/lease-times.js';
import { parseDuration } from '../src/options.js';
import { run } from './helpers.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const HOUR = 3_600_000;
const CONFIG = parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}');
const NO_ETCD = { FLANNELD_ETCD_ENDPOINTS: 'http://127.0.0.1:1' };

function lease(subnet: string, attrs: Partial<LeaseAttrs> & { publicIP: string }, expiresAt: number | null | undefined = NOW + 23 * HOUR): Lease {
  const net = IpNet.parse(subnet)!;
  return { key: `${net.ipText()}-${net.prefixLength}`, subnet: net, ipv6Subnet: undefined, attrs, expiresAt };
}

function vxlanLease(subnet: string, publicIP: string, mac: string, expiresAt?: number | null): Lease {
  return lease(subnet, { publicIP, backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } }, expiresAt);
}

function timed(l: Lease, granted = 86_400, ttl = 86_400 - 30): TimedLease {
  return l.expiresAt === null
    ? { lease: l, etcdLeaseId: '0', grantedTtlSeconds: undefined, ttlSeconds: undefined }
    : { lease: l, etcdLeaseId: '7', grantedTtlSeconds: granted, ttlSeconds: ttl };
}

const answered: PingResult = { answered: true, missing: false, rttMs: 0.4, detail: '' };
const silent: PingResult = { answered: false, missing: false, rttMs: undefined, detail: 'no answer' };

function link(name: string, extra: Partial<HostLink> = {}): HostLink {
  return { name, index: 1, mtu: 1500, up: true, lowerUp: true, kind: undefined, mac: undefined, addresses: [], ...extra };
}

describe('status', () => {
  const a = vxlanLease('10.1.5.0/24', '192.0.2.11', '02:00:00:00:00:05');
  const b = vxlanLease('10.1.6.0/24', '192.0.2.12', '02:00:00:00:00:06', NOW + 30 * 60_000);
  const c = lease('10.1.7.0/24', { publicIP: '192.0.2.12' }, null);
  const d = vxlanLease('10.2.0.0/24', '192.0.2.14', '02:00:00:00:00:08');
  const report = buildStatus({
    configKey: '/coreos.com/network/config',
    config: CONFIG,
    configError: undefined,
    leases: [timed(a, 86_400, 86_400 - 75), timed(b, 86_400, 1800), timed(c), timed(d)],
    skipped: [],
    now: NOW,
    expiryWarningMs: HOUR,
  });

  it('flags duplicate public IPs, leases close to expiry, leases outside the config and reservations', () => {
    expect(report.hosts.map((h) => [h.subnet, h.flags])).toEqual([
      ['10.1.5.0/24', []],
      ['10.1.6.0/24', ['duplicate-public-ip', 'expiring']],
      ['10.1.7.0/24', ['duplicate-public-ip', 'rejected', 'reserved']],
      ['10.2.0.0/24', ['outside-config', 'rejected']],
    ]);
    expect(report.hosts[1]!.notes.join(' ')).toMatch(/also held by 10\.1\.7\.0\/24.*expires in 30m0s/);
    expect(report.hosts[3]!.notes[0]).toContain('10.2.0.0/24 is outside Network 10.1.0.0/16');
    expect(report.hosts[0]).toMatchObject({ vtepMac: '02:00:00:00:00:05', renewedSecondsAgo: 75, expiresInSeconds: 23 * 3600, expiresAt: '2026-11-26T11:00:00Z', renewedAt: '2026-11-25T11:58:45Z' });
    expect(report.hosts[2]).toMatchObject({ reserved: true, expiresAt: null, renewedAt: null });
    // Peers do not program a reservation without BackendType, nor a subnet outside Network (core's admission).
    expect(report.hosts[2]!.rejection).toEqual({ reason: 'wrong-backend-type', detail: "BackendType is empty but the network's backend is vxlan" });
    expect(report.hosts[3]!.rejection?.reason).toBe('outside-network');
    expect(report.summary).toEqual({ leases: 4, flagged: 3, counts: { 'duplicate-public-ip': 2, expiring: 1, 'outside-config': 1, rejected: 2, reserved: 1 } });
  });

  it('counts capacity from the pool: leases outside it do not take a subnet', () => {
    expect(report.capacity).toEqual({ family: 4, total: 255, leased: 2, reserved: 1, outside: 1, free: 252 });
    // The header adds up to the rows the footer counts.
    const c = report.capacity!;
    expect(c.leased + c.reserved + c.outside).toBe(report.summary.leases);
  });

  it('renders the config, the capacity, one row per lease, notes and a summary line', () => {
    const text = renderStatus(report);
    expect(text).toContain('Network:  10.1.0.0/16 (SubnetLen 24, 10.1.1.0 to 10.1.255.0)');
    expect(text).toContain('Subnets:  255 total, 2 leased, 1 reserved, 252 free; 1 lease outside the config');
    expect(text).toMatch(/^SUBNET +PUBLIC IP +BACKEND +VTEP MAC +EXPIRES +RENEWED +FLAGS$/m);
    expect(text).toMatch(/^10\.1\.5\.0\/24 +192\.0\.2\.11 +vxlan +02:00:00:00:00:05 +in 23h0m +1m15s ago +-$/m);
    expect(text).toMatch(/^10\.1\.7\.0\/24 \(key 10\.1\.7\.0-24\) +192\.0\.2\.12 +- +- +never +- +duplicate-public-ip,rejected,reserved$/m);
    expect(text).toContain('  10.2.0.0-24: rejected (outside-network): 10.2.0.0/24 is outside Network 10.1.0.0/16; no flanneld programs it, fix or revoke the key');
    expect(text).toContain('Notes:\n  10.1.6.0/24: public IP 192.0.2.12 is also held by 10.1.7.0/24');
    expect(text.split('\n').at(-1)).toBe('4 leases (1 reserved), 3 flagged: 2 duplicate-public-ip, 1 expiring, 1 outside-config, 2 rejected');
  });

  it('says so when nothing is flagged, and when the config is missing', () => {
    const healthy = buildStatus({ configKey: 'k', config: CONFIG, configError: undefined, leases: [timed(a)], skipped: [], now: NOW, expiryWarningMs: HOUR });
    expect(summaryLine(healthy)).toBe('1 lease, none flagged');
    const noConfig = buildStatus({ configKey: '/x/config', config: undefined, configError: 'not found', leases: [timed(a)], skipped: [], now: NOW, expiryWarningMs: HOUR });
    expect(noConfig.capacity).toBeNull();
    expect(renderStatus(noConfig)).toContain('Config:  none usable at /x/config: not found');
    expect(summaryLine(noConfig)).toBe('1 lease; no usable network config');
  });

  it('gives IPv6-only capacities beyond 2^53 as decimal strings', () => {
    const v6 = parseNetworkConfig('{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetLen":120}');
    const r = buildStatus({ configKey: 'k', config: v6, configError: undefined, leases: [], skipped: [], now: NOW, expiryWarningMs: HOUR });
    expect(r.capacity?.total).toBe(poolCapacity(v6.ipv6!).toString());
    expect(typeof r.capacity?.free).toBe('string');
  });
});

describe('leases watch event kinds', () => {
  const value = encodeLeaseAttrs({ publicIP: '192.0.2.11', backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: '02:00:00:00:00:05' } });
  const moved = encodeLeaseAttrs({ publicIP: '192.0.2.11', backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: '02:00:00:00:00:06' } });

  it('tells added, renewed and changed puts apart', () => {
    expect(classifyPut(undefined, value)).toBe('added');
    expect(classifyPut({ value, etcdLeaseId: '1' }, value)).toBe('renewed');
    // Same attributes, other spelling (keys are case-insensitive in flannel's JSON).
    expect(classifyPut({ value: value.replace('"PublicIP"', '"publicip"'), etcdLeaseId: '1' }, value)).toBe('renewed');
    expect(classifyPut({ value, etcdLeaseId: '1' }, moved)).toBe('changed');
  });

  it('calls a delete expired only when the key had an etcd lease that no longer exists', () => {
    expect(classifyDelete('7', -1)).toBe('expired');
    expect(classifyDelete('7', 86_000)).toBe('removed');
    expect(classifyDelete('0', undefined)).toBe('removed');
    expect(classifyDelete(undefined, undefined)).toBe('removed');
  });

  it('describes an event as a lease row (the shape of leases list) and one aligned line', () => {
    const event = describeEvent({ time: NOW, type: 'changed', subnetKey: '10.1.5.0-24', value: moved, previousValue: value, expiresAt: NOW + 24 * HOUR, revision: 42 });
    expect(event).toMatchObject({
      time: '2026-11-25T12:00:00.000Z',
      type: 'changed',
      key: '10.1.5.0-24',
      subnet: '10.1.5.0/24',
      ipv6Subnet: null,
      publicIP: '192.0.2.11',
      publicIPv6: null,
      backendType: 'vxlan',
      backendData: { vni: 1, vtepMac: '02:00:00:00:00:06' },
      vtepMac: '02:00:00:00:00:06',
      expiresAt: '2026-11-26T12:00:00Z',
      expiresInSeconds: 86_400,
      reserved: false,
      flags: [],
      previous: { publicIP: '192.0.2.11', backendType: 'vxlan', backendData: { vni: 1, vtepMac: '02:00:00:00:00:05' } },
      revision: 42,
    });
    const added = describeEvent({ time: NOW, type: 'added', subnetKey: '10.1.5.0-24', value, expiresAt: NOW + 24 * HOUR, revision: 3 });
    const expired = describeEvent({ time: NOW, type: 'expired', subnetKey: '10.1.5.0-24', value, expiresAt: undefined, revision: 9 });
    expect('previous' in expired).toBe(false);
    // A value that is not a lease, written without an etcd lease: unreadable, not a reservation.
    const garbage = describeEvent({ time: NOW, type: 'added', subnetKey: '10.1.9.0-24', value: 'not json', expiresAt: null, revision: 10 });
    expect(garbage).toMatchObject({ reserved: false, flags: ['unreadable'], publicIP: null });
    const lines = [renderEventHeader(), ...[added, event, expired, garbage].map(renderEventLine)];
    expect(lines[1]).toMatch(/^2026-11-25T12:00:00\.000Z  added    10\.1\.5\.0\/24 +192\.0\.2\.11 +vxlan +02:00:00:00:00:05 +in 24h0m +- +expires 2026-11-26T12:00:00Z$/);
    expect(lines[2]).toMatch(/changed .* BackendData \{"vni":1,"vtepMac":"02:00:00:00:00:05"\} -> \{"vni":1,"vtepMac":"02:00:00:00:00:06"\}$/);
    expect(lines[3]).toMatch(/expired +10\.1\.5\.0\/24 .* its etcd lease expired$/);
    expect(lines[4]).toMatch(/added +10\.1\.9\.0\/24 +- +- +- +- +unreadable +the value is not a lease: /);
    // Columns line up: every cell of the lease row starts where its header does.
    for (const header of ['SUBNET', 'PUBLIC IP', 'BACKEND', 'VTEP MAC', 'EXPIRES']) {
      const column = lines[0]!.indexOf(header);
      for (const line of lines.slice(1, 4)) expect(line.charAt(column - 1), `${header} in ${line}`).toBe(' ');
      for (const line of lines.slice(1, 4)) expect(line.charAt(column), `${header} in ${line}`).not.toBe(' ');
    }
  });

});

describe('doctor findings', () => {
  it('prints a marker per finding, the fix indented under it, and a summary; exit 1 only on a failure', () => {
    const findings = [ok('etcd', 'reachable'), warn('ready', 'not checked', 'pass --healthz-url'), fail('routes', '1 missing', 'ip route replace a\nflanneld repairs it')];
    expect(renderFindings(findings)).toBe(
      [
        '✓ etcd    reachable',
        '! ready   not checked',
        '    fix: pass --healthz-url',
        '✗ routes  1 missing',
        '    fix: ip route replace a',
        '         flanneld repairs it',
        '',
        '1 problem, 1 warning, 1 check ok',
      ].join('\n'),
    );
    expect(exitCodeFor(findings)).toBe(1);
    expect(exitCodeFor(findings.slice(0, 2))).toBe(0);
    expect(renderFindings(findings.slice(0, 2)).split('\n').at(-1)).toBe('healthy: 1 check ok, 1 warning');
  });
});

describe('doctor checks', () => {
  const own = vxlanLease('10.1.5.0/24', '192.0.2.11', '02:00:00:00:00:05');
  const p1 = vxlanLease('10.1.6.0/24', '192.0.2.12', '02:00:00:00:00:06');
  const p2 = vxlanLease('10.1.7.0/24', '192.0.2.13', '02:00:00:00:00:07');
  const view = { family: 4 as const, device: 'flannel.1', externalDevice: 'eth0' };
  const wanted = planPeers(view, [p1, p2], { isDirect: () => false });
  const route = (dst: string, gateway: string): RouteEntry => ({ dst, gateway, dev: 'flannel.1', flags: ['onlink'] });
  const healthyKernel: VxlanKernelEntries = {
    neighbours: [
      { address: '10.1.6.0', lladdr: '02:00:00:00:00:06', permanent: true },
      { address: '10.1.7.0', lladdr: '02:00:00:00:00:07', permanent: true },
    ],
    fdb: [
      { lladdr: '02:00:00:00:00:06', dst: '192.0.2.12', permanent: true },
      { lladdr: '02:00:00:00:00:07', dst: '192.0.2.13', permanent: true },
    ],
    routes: [route('10.1.6.0/24', '10.1.6.0'), route('10.1.7.0/24', '10.1.7.0')],
    directRoutes: [],
  };
  // The kernel's entries go through the backend's own observe and diff steps, as inspectVxlan takes them.
  const entries = (observed: VxlanKernelEntries) =>
    checkVxlanEntries({ inspection: { device: 'flannel.1', family: 4, problems: [], entries: driftStates(view, observeFamily(view, CONFIG.ipv4!.network, observed), wanted).entries }, peers: [p1, p2] });

  it('finds the vxlan entries the peer leases call for', () => {
    expect(entries(healthyKernel).map((f) => [f.check, f.status, f.message])).toEqual([
      ['routes', 'ok', '2 peer routes on flannel.1, as the leases say'],
      ['neighbours', 'ok', '2 peer neighbour entries on flannel.1, as the leases say'],
      ['fdb', 'ok', '2 peer FDB entries on flannel.1, as the leases say'],
    ]);
  });

  it('lists missing, wrong and stale entries with the commands that fix them', () => {
    const findings = entries({
      neighbours: [{ address: '10.1.6.0', lladdr: '02:00:00:00:00:99', permanent: true }, healthyKernel.neighbours[1]!, { address: '10.1.9.0', lladdr: '02:00:00:00:00:09', permanent: true }],
      fdb: [...healthyKernel.fdb, { lladdr: '02:00:00:00:00:99', dst: '192.0.2.99', permanent: true }],
      routes: [route('10.1.6.0/24', '10.1.6.0')],
      directRoutes: [],
    });
    const [routes, neighbours, fdb] = findings;
    expect(routes).toMatchObject({ status: 'fail', message: '1 missing: 10.1.7.0/24 via 10.1.7.0 dev flannel.1 onlink (peer 192.0.2.13)' });
    expect(routes!.fix).toContain('ip route replace 10.1.7.0/24 via 10.1.7.0 dev flannel.1 onlink');
    expect(neighbours).toMatchObject({ status: 'fail', message: '1 wrong: 10.1.6.0 has lladdr 02:00:00:00:00:99, the lease says 02:00:00:00:00:06 (peer 192.0.2.12); 1 stale: 10.1.9.0 lladdr 02:00:00:00:00:09 (no lease for it)' });
    expect(neighbours!.fix).toContain('ip neigh replace 10.1.6.0 lladdr 02:00:00:00:00:06 dev flannel.1 nud permanent\nip neigh del 10.1.9.0 dev flannel.1');
    expect(fdb).toMatchObject({ status: 'fail', message: '1 stale: 02:00:00:00:00:99 dst 192.0.2.99 (no lease for it)' });
    expect(fdb!.fix!.split('\n')[0]).toBe('bridge fdb del 02:00:00:00:00:99 dev flannel.1 dst 192.0.2.99 self');
  });

  it('compares host-gw routes on the external interface', () => {
    const hg1 = lease('10.1.6.0/24', { publicIP: '192.0.2.12', backendType: 'host-gw' });
    const hgWanted = planRoutes([hg1], { dev: 'eth0', network: CONFIG });
    const stale = { dst: '10.1.8.0/24', gateway: '192.0.2.18', dev: 'eth0', flags: [], family: 4 as const };
    const connected = { dst: '192.0.2.0/24', dev: 'eth0', flags: [], family: 4 as const };
    // The kernel's routes go through the backend's own repair plan, as inspectHostGw takes them.
    const hostGw = (observed: Parameters<typeof planRepairs>[1]) => {
      const inspection = routeInspection('eth0', hgWanted, planRepairs(hgWanted, observed, { network: CONFIG, own }));
      return checkHostGwRoutes({ inspection: inspection.devices[0]!, peers: [hg1] });
    };
    expect(hostGw([{ dst: '10.1.6.0/24', gateway: '192.0.2.12', dev: 'eth0', flags: [], family: 4 }, connected]).status).toBe('ok');
    const broken = hostGw([connected, stale]);
    expect(broken.message).toBe('1 missing: 10.1.6.0/24 via 192.0.2.12 dev eth0 (peer 192.0.2.12); 1 stale: 10.1.8.0/24 via 192.0.2.18 (no lease for it)');
  });

  it('checks the vxlan device against the config and the lease', () => {
    const vx: BackendView = { type: 'vxlan', source: 'config', devices: [{ family: 4, name: 'flannel.1' }], vni: 1, port: 8472 };
    const eth0 = link('eth0', { addresses: [{ family: 4, address: '192.0.2.11', prefixLength: 24 }] });
    const device = link('flannel.1', { kind: 'vxlan', mac: '02:00:00:00:00:05', mtu: 1450, addresses: [{ family: 4, address: '10.1.5.0', prefixLength: 32 }], vxlan: { vni: 1, local: '192.0.2.11', dev: 'eth0', port: 8472 } });
    expect(checkDevices({ view: vx, links: [eth0, device], own, iface: eth0, config: CONFIG })[0]).toMatchObject({ status: 'ok', message: 'flannel.1: vxlan VNI 1 port 8472 on eth0, up, MAC 02:00:00:00:00:05 as in the lease, address 10.1.5.0/32' });
    const wrong = link('flannel.1', { ...device, mac: '02:00:00:00:00:aa', up: false, addresses: [{ family: 4, address: '10.1.9.0', prefixLength: 32 }] });
    const finding = checkDevices({ view: vx, links: [eth0, wrong], own, iface: eth0, config: CONFIG })[0]!;
    expect(finding.status).toBe('fail');
    expect(finding.message).toContain('its MAC is 02:00:00:00:00:aa but the lease publishes 02:00:00:00:00:05');
    expect(finding.message).toContain('it is down; it lacks its address 10.1.5.0/32 (has 10.1.9.0/32); it has the stray address 10.1.9.0/32');
    expect(finding.fix).toContain('ip link set flannel.1 up\nip addr add 10.1.5.0/32 dev flannel.1\nip addr del 10.1.9.0/32 dev flannel.1');
    expect(checkDevices({ view: vx, links: [eth0], own, iface: eth0, config: CONFIG })[0]).toMatchObject({ status: 'fail', message: 'flannel.1 does not exist: this host has no vxlan data path' });
    expect(backendFromLinks([eth0, device])).toMatchObject({ type: 'vxlan', source: 'devices', vni: 1, devices: [{ family: 4, name: 'flannel.1' }] });
  });

  it('checks the MTU of the device, subnet.env, the interface and the container bridge', () => {
    const vx: BackendView = { type: 'vxlan', source: 'config', devices: [{ family: 4, name: 'flannel.1' }] };
    const eth0 = link('eth0');
    const mtu = (deviceMtu: number, envMtu: number, ifaceMtu = 1500, bridgeMtu = 1450) =>
      checkMtu({ view: vx, envMtu, links: [link('flannel.1', { mtu: deviceMtu })], iface: { ...eth0, mtu: ifaceMtu }, config: CONFIG, bridge: link('cbr0', { mtu: bridgeMtu }) });
    expect(mtu(1450, 1450)).toEqual([ok('mtu', 'FLANNEL_MTU 1450, flannel.1 1450, = eth0 MTU 1500 - 50 (vxlan), bridge cbr0 1450')]);
    expect(mtu(1400, 1450)[0]).toMatchObject({ status: 'fail', message: 'flannel.1 has MTU 1400 but FLANNEL_MTU is 1450: containers send packets the device cannot carry (large transfers stall)' });
    expect(mtu(1450, 1450, 1400)[0]).toMatchObject({ status: 'fail', message: expect.stringContaining('FLANNEL_MTU is 1450 but eth0 MTU 1400 - 50 (vxlan) gives 1350') });
    expect(mtu(1400, 1400, 1500, 1400)[0]).toMatchObject({ status: 'warn' });
    expect(mtu(1450, 1450, 1500, 1500)[0]).toMatchObject({ status: 'fail', message: expect.stringContaining('the container bridge cbr0 has MTU 1500, above FLANNEL_MTU 1450') });
  });

  it('checks subnet.env against the lease and the config', () => {
    const env = parseSubnetEnv('FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.5.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
    expect(checkSubnetEnv({ path: '/run/flannel/subnet.env', env, readError: undefined, own, config: CONFIG }).status).toBe('ok');
    const other = checkSubnetEnv({ path: '/run/flannel/subnet.env', env, readError: undefined, own: p1, config: CONFIG });
    expect(other).toMatchObject({ status: 'fail', message: expect.stringContaining("FLANNEL_SUBNET=10.1.5.1/24 but this host's lease is 10.1.6.0/24") });
    expect(checkSubnetEnv({ path: '/x', env: undefined, readError: undefined, own, config: CONFIG })).toMatchObject({ status: 'fail', message: expect.stringMatching(/^\/x does not exist/) });
  });

  it('finds the own lease by the subnet in subnet.env, else by a local address, and checks its expiry', () => {
    const env = parseSubnetEnv('FLANNEL_SUBNET=10.1.6.1/24\nFLANNEL_MTU=1450\n');
    const leases = [timed(own), timed(p1)];
    expect(findOwnLease(leases, env, new Set(['192.0.2.11']))?.timed.lease.key).toBe('10.1.6.0-24');
    expect(findOwnLease(leases, undefined, new Set(['192.0.2.11']))).toMatchObject({ how: 'public IP', timed: { lease: { key: '10.1.5.0-24' } } });
    expect(findOwnLease(leases, undefined, new Set(['192.0.2.99']))).toBeUndefined();
    const soon = vxlanLease('10.1.5.0/24', '192.0.2.11', '02:00:00:00:00:05', NOW + 10 * 60_000);
    expect(checkLease({ own: { timed: timed(soon), how: 'subnet.env' }, config: CONFIG, envSubnet: undefined, now: NOW, expiryWarningMs: HOUR })[0]).toMatchObject({ status: 'fail', message: expect.stringContaining('is about to expire') });
    expect(checkLease({ own: { timed: timed(own), how: 'subnet.env' }, config: CONFIG, envSubnet: undefined, now: NOW, expiryWarningMs: HOUR })[0]).toMatchObject({ status: 'ok', message: '10.1.5.0/24 for 192.0.2.11 (found by subnet.env), expires in 23h0m, renewed 30s ago' });
    expect(checkLease({ own: undefined, config: CONFIG, envSubnet: IpNet.parse('10.1.5.0/24'), now: NOW, expiryWarningMs: HOUR })[0]!.status).toBe('fail');
  });

  it('fails on a lease that names this host\'s public IP, warns on duplicates among peers', () => {
    const dup = lease('10.1.9.0/24', { publicIP: '192.0.2.11' }, null);
    const mine = checkDuplicatePublicIPs(own, [timed(own), timed(p1), timed(dup)]);
    expect(mine).toMatchObject({ status: 'fail', message: expect.stringContaining("this host's public IP 192.0.2.11 is also named by 10.1.9.0/24 (reserved)") });
    expect(mine.fix).toContain('flannelctl leases revoke 10.1.9.0-24');
    expect(checkDuplicatePublicIPs(p1, [timed(own), timed(p1), timed(dup)]).status).toBe('warn');
    expect(checkDuplicatePublicIPs(own, [timed(own), timed(p1)]).status).toBe('ok');
    // A peer lease claiming another address of this host (the own lease names 192.0.2.11, the host also has .111).
    const claimer = vxlanLease('10.1.10.0/24', '192.0.2.111', '02:00:00:00:00:10', NOW + 23 * HOUR);
    const claimed = checkDuplicatePublicIPs(own, [timed(own), timed(p1), timed(claimer)], new Set(['192.0.2.11', '192.0.2.111']));
    expect(claimed).toMatchObject({ status: 'fail', message: '10.1.10.0/24 claims 192.0.2.111, an address of this host: peers route that subnet to this host, which does not serve it' });
    expect(claimed.fix).toContain('flannelctl leases revoke 10.1.10.0-24');
    const reservedHere = lease('10.1.11.0/24', { publicIP: '192.0.2.111' }, null);
    expect(checkDuplicatePublicIPs(own, [timed(own), timed(reservedHere)], new Set(['192.0.2.11', '192.0.2.111'])).status).toBe('warn');
  });

  it('knows each backend\'s MTU rule and its path between hosts', () => {
    const eth0 = { name: 'eth0', mtu: 1500 } as Parameters<typeof expectedMtu>[1];
    expect(expectedMtu({ type: 'vxlan', source: 'config', devices: [] }, eth0, CONFIG)).toMatchObject({ mtu: 1450, why: 'eth0 MTU 1500 - 50 (vxlan)' });
    expect(expectedMtu({ type: 'udp', source: 'config', devices: [] }, eth0, CONFIG)).toMatchObject({ mtu: 1472, why: 'eth0 MTU 1500 - 28 (udp)' });
    expect(expectedMtu({ type: 'host-gw', source: 'config', devices: [] }, eth0, CONFIG)).toMatchObject({ mtu: 1500, why: 'eth0 MTU 1500 (host-gw adds no header)' });
    expect(expectedMtu({ type: 'alloc', source: 'config', devices: [] }, eth0, CONFIG)).toMatchObject({ mtu: 1500, why: 'eth0 MTU 1500 (alloc has no data path: the interface MTU)' });
    const silentPeer = (backend: string) =>
      checkPeers({ probes: [{ lease: p1, gateway: '10.1.6.1', gatewayAnswer: silent, publicAnswer: answered, deviceAnswer: silent }], skipped: [], backend, timeoutMs: 1000 })[0]!.fix;
    expect(silentPeer('vxlan')).toBe('check the vxlan path: UDP 8472 (or the configured Port) open between the hosts, then run flannelctl doctor on 192.0.2.12');
    expect(silentPeer('udp')).toMatch(/^check the udp path: UDP 8285 .*, then run flannelctl doctor on 192\.0\.2\.12$/);
    expect(silentPeer('host-gw')).toMatch(/^check the host-gw path: both hosts on one layer-2 segment.*, then run flannelctl doctor on 192\.0\.2\.12$/);
  });

  it('reads readiness from the health endpoint', () => {
    expect(checkReady({ url: 'http://127.0.0.1:8471', readyz: { status: 200, body: 'flanneld is ready', error: undefined } })).toMatchObject({ status: 'ok' });
    expect(checkReady({ url: 'http://127.0.0.1:8471', readyz: { status: 503, body: 'flanneld is not ready yet: no subnet lease yet', error: undefined } })).toMatchObject({
      status: 'fail',
      message: 'not ready (http://127.0.0.1:8471/readyz: flanneld is not ready yet: no subnet lease yet)',
    });
    expect(checkReady({ url: 'http://127.0.0.1:8471', readyz: { status: undefined, body: '', error: 'ECONNREFUSED' } })).toMatchObject({ status: 'fail', message: 'no answer from http://127.0.0.1:8471/readyz (ECONNREFUSED)' });
    expect(checkReady({ url: undefined, readyz: undefined })).toMatchObject({ status: 'warn' });
  });

  it('names the endpoints when etcd cannot be read, and flanneld\'s when they differ', () => {
    const finding = checkEtcd({ ok: false, error: 'unreachable (14 UNAVAILABLE)' }, ['http://10.0.0.5:2379'], 'http://10.0.0.6:2379');
    expect(finding).toMatchObject({ status: 'fail', message: 'cannot read the network from etcd at http://10.0.0.5:2379: unreachable (14 UNAVAILABLE)' });
    expect(finding.fix).toContain('flanneld here uses --etcd-endpoints=http://10.0.0.6:2379');
  });

  it('checks flannel\'s masquerade rules when FLANNEL_IPMASQ=true, and forward rules when present', () => {
    const network = CONFIG.ipv4!.network;
    const subnet = IpNet.parse('10.1.5.0/24')!;
    const nat = ['-P POSTROUTING ACCEPT', '-N FLANNEL-POSTRTG', ...masqRules(network, subnet, 4)];
    expect(nat).toContain('-A FLANNEL-POSTRTG -s 10.1.5.0/24 -d 10.1.0.0/16 -m comment --comment "flanneld masq" -j RETURN');
    const filter = ['-P FORWARD DROP', '-N FLANNEL-FWD', '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD', '-A FLANNEL-FWD -s 10.1.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT', '-A FLANNEL-FWD -d 10.1.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT'];
    const check = (ipMasq: boolean, natLines: string[] | undefined, filterLines: string[] | undefined, error?: string) =>
      checkFirewall({ ipMasq, dump: { nat: natLines, filter: filterLines, error }, network, subnet, nftables: false, family: 4 });
    expect(check(true, nat, filter).map((f) => f.status)).toEqual(['ok', 'ok']);
    // Without --random-fully (an older iptables) the rules still count.
    expect(check(true, nat.map((l) => l.replace(' --random-fully', '')), filter)[0]!.status).toBe('ok');
    const missing = check(true, ['-P POSTROUTING ACCEPT'], filter)[0]!;
    expect(missing).toMatchObject({ status: 'fail', message: expect.stringContaining('7 of 7 masquerade rules are missing') });
    expect(missing.fix!.split('\n').slice(0, 2)).toEqual(['iptables -t nat -N FLANNEL-POSTRTG', 'iptables -t nat -A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG']);
    expect(check(false, [], filter.slice(0, 4))[1]).toMatchObject({ status: 'fail', message: '1 of 3 flannel forward rules are missing from the filter table' });
    expect(check(false, [], ['-P FORWARD DROP'])[1]).toMatchObject({ status: 'warn', message: expect.stringContaining('the FORWARD policy is DROP') });
    expect(check(true, undefined, undefined, 'iptables is not installed')).toEqual([warn('firewall', 'iptables is not installed: masquerade and forward rules not checked', 'install iptables (apt-get install iptables) and run doctor as root')]);
  });

  it('tells an unreachable host from a broken overlay', () => {
    const probe = (gateway: PingResult, publicAnswer?: PingResult, deviceAnswer?: PingResult) => ({ lease: p1, gateway: '10.1.6.1', gatewayAnswer: gateway, publicAnswer, deviceAnswer });
    const peers = (probes: ReturnType<typeof probe>[]) => checkPeers({ probes, skipped: [], backend: 'vxlan', timeoutMs: 1000 });
    expect(peers([probe(answered)])).toEqual([ok('peer', '1 peer answers at its gateway: 10.1.6.1 (0.4 ms)')]);
    expect(peers([probe(silent, silent, silent)])[0]).toMatchObject({ status: 'fail', message: '10.1.6.0/24 of 192.0.2.12: its gateway 10.1.6.1 does not answer within 1 s, nor does 192.0.2.12 itself: the host is down or unreachable over the underlay' });
    expect(peers([probe(silent, answered, silent)])[0]).toMatchObject({ status: 'fail', message: expect.stringContaining('the overlay to it is broken') });
    expect(peers([probe(silent, answered, answered)])[0]).toMatchObject({ status: 'warn', message: expect.stringContaining('container gateway 10.1.6.1 does not answer') });
    const tooBig = checkPeers({ probes: [{ ...probe(answered), fullSize: { bytes: 1450, answer: { ...silent, detail: 'Frag needed and DF set (mtu = 1350)' } } }], skipped: [], backend: 'vxlan', timeoutMs: 1000 });
    expect(tooBig[1]).toMatchObject({ check: 'peer-mtu', status: 'fail', message: expect.stringContaining('1450-byte packets (FLANNEL_MTU) to 10.1.6.1 (192.0.2.12) do not get through') });
    const reserved = lease('10.1.9.0/24', { publicIP: '192.0.2.19' }, null);
    expect(checkPeers({ probes: [], skipped: [{ lease: reserved, reason: 'backend type (none) is not vxlan' }], backend: 'vxlan', timeoutMs: 1000 })).toEqual([
      warn('peer', '10.1.9.0/24 (reserved for 192.0.2.19) is not probed: backend type (none) is not vxlan', 'fine until that host joins; its flanneld then publishes its backend data'),
    ]);
  });
});

describe('finding flanneld and its flags', () => {
  it('recognises flannel\'s binary and this repository\'s launcher, and nothing else', () => {
    expect(isFlanneldCommand(['/opt/bin/flanneld', '-ip-masq'])).toBe(true);
    expect(isFlanneldCommand(['node', '/work/main/bin/../apps/flanneld/dist/main.js', '--iface=eth0'])).toBe(true);
    expect(isFlanneldCommand(['node', '--max-semi-space-size=2', '/work/main/bin/../apps/flanneld/dist/main.js', '--iface=eth0'])).toBe(true);
    expect(isFlanneldCommand(['/usr/bin/node', '/usr/local/bin/flanneld'])).toBe(true);
    expect(isFlanneldCommand(['grep', 'flanneld'])).toBe(false);
    expect(isFlanneldCommand(['vim', '/etc/flanneld'])).toBe(false);
  });

  it('reads flags in Go and GNU spellings, then FLANNELD_* variables', () => {
    const proc = { pid: 1, argv: ['flanneld', '-healthz-port=8471', '--subnet-file', '/run/x.env', '--iface=eth0', '-iface', 'eth1', '--ip-masq'], env: { FLANNELD_HEALTHZ_IP: '127.0.0.1', FLANNELD_HEALTHZ_PORT: '9' } };
    expect(flanneldFlag(proc, 'healthz-port')).toBe('8471');
    expect(flanneldFlag(proc, 'healthz-ip')).toBe('127.0.0.1');
    expect(flanneldFlag(proc, 'subnet-file')).toBe('/run/x.env');
    expect(flanneldFlag(proc, 'ip-masq')).toBe('true');
    expect(flanneldFlagAll(proc, 'iface')).toEqual(['eth0', 'eth1']);
    expect(flanneldFlag(proc, 'etcd-endpoints')).toBeUndefined();
  });

  it('parses durations with units, and bare numbers in the flag\'s unit', () => {
    expect(parseDuration('90m', 'm')).toBe(90 * 60_000);
    expect(parseDuration('1h30m', 'm')).toBe(90 * 60_000);
    expect(parseDuration('500ms', 's')).toBe(500);
    expect(parseDuration('2', 's')).toBe(2000);
    expect(parseDuration('60', 'm')).toBe(HOUR);
    expect(parseDuration('1x', 's')).toBeUndefined();
  });
});

describe('command line of status, doctor, leases watch and completion', () => {
  it('lists the new commands in the program help with examples', async () => {
    const { stdout, code } = await run(['--help']);
    expect(code).toBe(0);
    for (const command of ['status', 'doctor', 'leases watch', 'completion <SHELL>']) expect(stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect(stdout).toContain('source <(flannelctl completion bash)');
  });

  it.each(['status', 'doctor', 'leases watch', 'completion'])('prints help for %s with usage and an example', async (command) => {
    const words = command.split(' ');
    const result = await run([...words, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: flannelctl ${words.join(' ')}`);
    expect(result.stdout).toMatch(/Examples:\n {2}\S/);
  });

  it('parses standalone commands and their options like the others', () => {
    const status = parseCommandLine(['status', '--json', '--expiry-warning', '2h']);
    expect(status).toMatchObject({ kind: 'run', command: { name: 'status' }, positionals: [] });
    expect(parseCommandLine(['-etcd-endpoints=http://x:2379', 'doctor', '--probe-timeout=500ms'])).toMatchObject({ kind: 'run', command: { name: 'doctor' } });
    expect(parseCommandLine(['status', 'extra'])).toMatchObject({ kind: 'usage-error', message: 'unexpected argument `extra`' });
    expect(parseCommandLine(['doctor', '--frob'])).toMatchObject({ kind: 'usage-error', message: 'unknown option `--frob`' });
    expect(parseCommandLine(['completion'])).toMatchObject({ kind: 'usage-error', message: 'missing argument SHELL' });
  });

  it('exits 2 for bad option values before touching etcd', async () => {
    const bad = await run(['status', '--expiry-warning', 'soon'], { env: NO_ETCD });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('error: --expiry-warning takes a duration such as 500ms, 2s, 90m or 1h, got "soon"');
    expect((await run(['leases', 'watch', '--count', 'many'], { env: NO_ETCD })).code).toBe(2);
    const shell = await run(['completion', 'fish']);
    expect(shell).toMatchObject({ code: 2, stdout: '' });
    expect(shell.stderr).toContain('error: unknown shell "fish": use one of bash, zsh');
  });

  it('status exits 1 with the endpoints when etcd is not there', async () => {
    const result = await run(['status'], { env: NO_ETCD });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: cannot reach etcd at http:\/\/127\.0\.0\.1:1/);
  });

  it('doctor reports etcd unreachable and still checks what it can locally', async () => {
    await using dir = await createTempDir('flannelctl-doctor-');
    const subnetFile = join(dir.path, 'subnet.env');
    await writeFile(subnetFile, 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.5.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
    const result = await run(['doctor', '--json', `--subnet-file=${subnetFile}`, '--healthz-url=http://127.0.0.1:1', '--etcd-timeout=3s'], { env: NO_ETCD });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { host: { subnetFile: string }; findings: Array<{ check: string; status: string; message: string }> };
    expect(report.host.subnetFile).toBe(subnetFile);
    const byCheck = (check: string) => report.findings.find((f) => f.check === check);
    expect(byCheck('etcd')).toMatchObject({ status: 'fail', message: expect.stringContaining('cannot read the network from etcd at http://127.0.0.1:1') });
    expect(byCheck('ready')).toMatchObject({ status: 'fail', message: 'no answer from http://127.0.0.1:1/readyz (ECONNREFUSED)' });
    expect(byCheck('subnet-env')).toMatchObject({ status: 'ok', message: expect.stringContaining('(not compared with etcd)') });
    expect(byCheck('lease')).toMatchObject({ status: 'warn' });
  });
});

describe('shell completion', () => {
  const bash = renderCompletion('bash', GROUPS);

  it('covers every command and option', () => {
    for (const node of completionNodes(GROUPS)) expect(bash).toContain(node.options.join(' '));
    for (const group of GROUPS) for (const command of group.commands) for (const option of command.options) expect(bash).toContain(`--${option.flag}`);
    expect(renderCompletion('zsh', GROUPS)).toMatch(/^#compdef flannelctl\n/);
  });

  it('completes commands, options and option values in bash', () => {
    const complete = (...words: string[]) =>
      execFileSync('bash', ['-c', `${bash}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _flannelctl; echo "\${COMPREPLY[*]}"`], { encoding: 'utf8' }).trim();
    expect(complete('flannelctl', '')).toBe('status doctor config leases completion help');
    expect(complete('flannelctl', 'leases', '')).toBe('list reserve revoke watch');
    expect(complete('flannelctl', 'help', '')).toBe('status doctor config leases completion');
    expect(complete('flannelctl', 'help', 'config', '')).toBe('set get validate');
    // Exactly the backends flanneld has (alloc included).
    expect(complete('flannelctl', 'config', 'set', '--backend', '')).toBe('alloc udp vxlan host-gw');
    expect(complete('flannelctl', '--etcd-endpoints', 'http://x:2379', 'leases', 'w')).toBe('watch');
    expect(complete('flannelctl', 'leases', 'watch', '--c')).toBe('--count');
    expect(complete('flannelctl', 'doctor', '--probe')).toBe('--probe-timeout');
    expect(complete('flannelctl', 'completion', '')).toBe('bash zsh');
    expect(complete('flannelctl', 'completion', 'bash', '')).toBe('');
    expect(complete('flannelctl', 'config', 'set', '--backend', 'v')).toBe('vxlan');
    expect(complete('flannelctl', 'status', '')).toBe('');
  });

  // zsh is not part of the machine setup: this runs where it is installed (checked with zsh 5.9).
  it.skipIf(!existsSync('/usr/bin/zsh') && !existsSync('/bin/zsh'))('completes in zsh too', () => {
    const zsh = renderCompletion('zsh', GROUPS);
    execFileSync('zsh', ['-n', '-c', zsh]);
    // compadd and _files stubbed to print what they would offer (zsh filters by the typed prefix itself).
    const complete = (...words: string[]) =>
      execFileSync('zsh', ['-c', `compdef() { :; }\n${zsh}\ncompadd() { [[ "$1" == "--" ]] && shift; print -r -- "$*"; }\n_files() { print -r -- FILES; }\nwords=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; _flannelctl`], { encoding: 'utf8' }).trim();
    expect(complete('flannelctl', '')).toBe('status doctor config leases completion help');
    expect(complete('flannelctl', 'leases', '')).toBe('list reserve revoke watch');
    expect(complete('flannelctl', 'completion', '')).toBe('bash zsh');
    expect(complete('flannelctl', 'config', 'set', '--backend', '')).toBe('alloc udp vxlan host-gw');
    expect(complete('flannelctl', 'doctor', '--subnet-file', '')).toBe('FILES');
    expect(complete('flannelctl', 'leases', 'watch', '--')).toContain('--count');
  });

  it('prints the script through the command', async () => {
    const result = await run(['completion', 'bash']);
    expect(result).toEqual({ code: 0, stdout: `${bash}\n`, stderr: '' });
  });
});
