/** `status` and `leases watch` against a real etcd (testkit): every flag, and every event kind in order. */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { encodeLeaseAttrs, IpNet, parseNetworkConfig, silentLogger, type LeaseAttrs } from '@flannel-ts/core';
import { EtcdRegistry, LeaseManager, connectEtcd } from '@flannel-ts/lease-manager';
import { startEtcd, waitFor, type EtcdServer } from '@flannel-ts/testkit';
import { runCli } from '../src/index.js';
import { run, type RunOptions } from './helpers.js';

const PREFIX = '/coreos.com/network';

interface Harness extends AsyncDisposable {
  readonly etcd: EtcdServer;
  readonly registry: EtcdRegistry;
  /** A raw etcd client, for writing keys as another tool would. */
  readonly client: ReturnType<typeof connectEtcd>;
  readonly manager: LeaseManager;
  ctl(argv: readonly string[], options?: RunOptions): ReturnType<typeof run>;
  /** Writes a lease key with an etcd lease of `ttlSeconds` (null: a reservation). */
  put(subnet: string, attrs: LeaseAttrs, ttlSeconds: number | null): Promise<void>;
}

async function createHarness(config = '{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}'): Promise<Harness> {
  const etcd = await startEtcd();
  const client = connectEtcd({ endpoints: [etcd.endpoint], callTimeoutMs: 3000 });
  const registry = new EtcdRegistry(client, PREFIX);
  const manager = new LeaseManager({ registry, log: silentLogger });
  if (config) await registry.putConfigText(config);
  return {
    etcd,
    registry,
    client,
    manager,
    ctl: (argv, options = {}) => run(argv, { ...options, env: { FLANNELD_ETCD_ENDPOINTS: etcd.endpoint, ...options.env } }),
    put: async (subnet, attrs, ttlSeconds) => {
      const put = client.put(registry.leaseKey({ subnet: IpNet.parse(subnet), ipv6Subnet: undefined })).value(encodeLeaseAttrs(attrs));
      if (ttlSeconds !== null) put.lease(await registry.grantLease(ttlSeconds));
      await put.exec();
    },
    async [Symbol.asyncDispose]() {
      client.close();
      await etcd[Symbol.asyncDispose]();
    },
  };
}

const vxlan = (publicIP: string, mac: string): LeaseAttrs => ({ publicIP, backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } });

interface HostRow {
  subnet: string;
  publicIP: string;
  vtepMac: string | null;
  flags: string[];
  expiresInSeconds: number | null;
  renewedSecondsAgo: number | null;
  renewedAt: string | null;
  reserved: boolean;
}

describe('status', () => {
  it('shows capacity and one row per lease, flagging duplicates, expiring, outside-config and reserved leases', async () => {
    await using h = await createHarness();
    // Fixed subnets above the first 100, where the acquired lease cannot land (it picks among the first 100 free).
    const config = parseNetworkConfig((await h.registry.getConfigText())!);
    await h.manager.acquireLease({ config, attrs: vxlan('192.0.2.11', '02:00:00:00:00:11') });
    await h.put('10.1.120.0/24', vxlan('192.0.2.12', '02:00:00:00:00:12'), 600);
    await h.put('10.1.130.0/24', { publicIP: '192.0.2.12' }, null);
    await h.put('10.9.0.0/24', vxlan('192.0.2.13', '02:00:00:00:00:13'), 86_400);
    await sleep(1100);

    const json = await h.ctl(['status', '--json']);
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { capacity: unknown; hosts: HostRow[]; summary: unknown; config: { network: string; backendType: string } };
    expect(report.config).toMatchObject({ network: '10.1.0.0/16', backendType: 'vxlan' });
    expect(report.capacity).toEqual({ family: 4, total: 255, leased: 2, reserved: 1, outside: 1, free: 252 });
    const bySubnet = new Map(report.hosts.map((row) => [row.subnet, row]));
    // Sorted by subnet, numerically.
    const order = report.hosts.map((row) => IpNet.parse(row.subnet)!.address);
    expect(order).toEqual([...order].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(report.hosts.at(-1)!.subnet).toBe('10.9.0.0/24');
    const own = report.hosts.find((row) => row.publicIP === '192.0.2.11')!;
    expect(own).toMatchObject({ vtepMac: '02:00:00:00:00:11', flags: [], reserved: false });
    expect(own.expiresInSeconds).toBeGreaterThan(86_000);
    // Last renewed = granted TTL - TTL left: a second or two ago.
    expect(own.renewedSecondsAgo).toBeGreaterThanOrEqual(1);
    expect(own.renewedSecondsAgo).toBeLessThan(10);
    expect(Date.parse(own.renewedAt!)).toBeLessThan(Date.now());
    expect(bySubnet.get('10.1.120.0/24')!.flags).toEqual(['duplicate-public-ip', 'expiring']);
    expect(bySubnet.get('10.1.130.0/24')).toMatchObject({ flags: ['duplicate-public-ip', 'rejected', 'reserved'], reserved: true, expiresInSeconds: null, renewedSecondsAgo: null });
    expect(bySubnet.get('10.9.0.0/24')!.flags).toEqual(['outside-config', 'rejected']);
    expect(report.summary).toEqual({ leases: 4, flagged: 3, counts: { 'duplicate-public-ip': 2, expiring: 1, 'outside-config': 1, rejected: 2, reserved: 1 } });

    const text = await h.ctl(['status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Subnets: +255 total, 2 leased, 1 reserved, 252 free; 1 lease outside the config$/m);
    expect(text.stdout).toMatch(/^10\.1\.120\.0\/24 +192\.0\.2\.12 +vxlan +02:00:00:00:00:12 +in 9m\d+s +\ds ago +duplicate-public-ip,expiring$/m);
    expect(text.stdout.trimEnd().split('\n').at(-1)).toBe('4 leases (1 reserved), 3 flagged: 2 duplicate-public-ip, 1 expiring, 1 outside-config, 2 rejected');

    // A 5-minute warning no longer flags the 10-minute lease.
    const relaxed = JSON.parse((await h.ctl(['status', '--json', '--expiry-warning', '5m'])).stdout) as { hosts: HostRow[] };
    expect(relaxed.hosts.find((row) => row.subnet === '10.1.120.0/24')!.flags).toEqual(['duplicate-public-ip']);
  });

  it('still lists the leases when the config is missing, and exits 1', async () => {
    await using h = await createHarness('');
    await h.put('10.1.20.0/24', vxlan('192.0.2.12', '02:00:00:00:00:12'), 600);
    const result = await h.ctl(['status']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^Config: +none usable at \/coreos\.com\/network\/config: flannel config not found/m);
    expect(result.stdout).toContain('10.1.20.0/24');
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe('1 lease; no usable network config');
  });
});

/** `leases watch` in-process, its output readable while it runs. */
function startWatch(h: Harness, argv: readonly string[]) {
  let stdout = '';
  let stderr = '';
  const controller = new AbortController();
  const done = runCli(['leases', 'watch', ...argv], {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    env: { FLANNELD_ETCD_ENDPOINTS: h.etcd.endpoint },
    signal: controller.signal,
  });
  return {
    done,
    stop: () => controller.abort(),
    lines: () => stdout.split('\n').filter(Boolean),
    stderr: () => stderr,
    started: () => waitFor(() => stderr.includes('watching '), { timeoutMs: 10_000, what: 'the watch to start' }),
  };
}

describe('leases watch', () => {
  it('prints added, renewed, changed, removed and expired events in order, one JSON object per line', async () => {
    await using h = await createHarness();
    const config = parseNetworkConfig((await h.registry.getConfigText())!);
    const watch = startWatch(h, ['--json', '--count', '6']);
    await watch.started();
    expect(watch.stderr()).toMatch(/^watching \/coreos\.com\/network\/subnets\/ from revision \d+ \(0 leases now\); stop with Ctrl-C\n$/);

    const lease = await h.manager.acquireLease({ config, attrs: vxlan('192.0.2.11', '02:00:00:00:00:11') });
    await h.manager.renewLease(lease);
    await h.registry.putLease(lease.key, vxlan('192.0.2.11', '02:00:00:00:00:99'), 3600);
    await h.manager.revokeLease(lease.key);
    // A host that stops renewing: its etcd lease runs out and etcd deletes the key.
    await h.put('10.1.77.0/24', vxlan('192.0.2.77', '02:00:00:00:00:77'), 1);

    expect(await watch.done).toBe(0);
    const events = watch.lines().map((line) => JSON.parse(line) as { time: string; type: string; key: string; subnet: string; publicIP: string; backendData: { vtepMac: string }; expiresAt: string | null; revision: number; previous?: { backendData: { vtepMac: string } } });
    expect(events.map((e) => [e.type, e.key])).toEqual([
      ['added', lease.key],
      ['renewed', lease.key],
      ['changed', lease.key],
      ['removed', lease.key],
      ['added', '10.1.77.0-24'],
      ['expired', '10.1.77.0-24'],
    ]);
    for (const e of events) expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(events.map((e) => Date.parse(e.time))).toEqual(events.map((e) => Date.parse(e.time)).sort((a, b) => a - b));
    expect(events[0]).toMatchObject({ subnet: lease.subnet!.toString(), publicIP: '192.0.2.11' });
    expect(Date.parse(events[0]!.expiresAt!)).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    expect(events[2]).toMatchObject({ backendData: { vtepMac: '02:00:00:00:00:99' }, previous: { backendData: { vtepMac: '02:00:00:00:00:11' } } });
    for (const e of events) expect(typeof e.revision).toBe('number');
    // A delete carries the attributes the lease had, so the operator sees which host left.
    expect(events[3]).toMatchObject({ publicIP: '192.0.2.11', expiresAt: null, reserved: false });
    expect(events[5]).toMatchObject({ subnet: '10.1.77.0/24', publicIP: '192.0.2.77' });
  });

  it('prints readable lines and stops at SIGINT/SIGTERM with exit 0', async () => {
    await using h = await createHarness();
    await h.put('10.1.5.0/24', vxlan('192.0.2.5', '02:00:00:00:00:05'), 3600);
    const watch = startWatch(h, []);
    await watch.started();
    expect(watch.stderr()).toContain('(1 lease now)');
    await h.put('10.1.6.0/24', { publicIP: '192.0.2.6' }, null);
    await h.manager.revokeLease('10.1.5.0-24');
    await h.client.put('/coreos.com/network/subnets/10.1.7.0-24').value('not json');
    // A header, then one aligned line per event.
    await waitFor(() => watch.lines().length === 4, { what: 'three events' });
    watch.stop();
    expect(await watch.done).toBe(0);
    const [header, added, removed, garbage] = watch.lines();
    expect(header).toMatch(/^TIME +EVENT +SUBNET +PUBLIC IP +BACKEND +VTEP MAC +EXPIRES +FLAGS +DETAIL$/);
    expect(added).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}added {4}10\.1\.6\.0\/24 +192\.0\.2\.6 +- +- +never +reserved +reserved \(no expiry\)$/);
    expect(removed).toMatch(/^\S+ {2}removed {2}10\.1\.5\.0\/24 +192\.0\.2\.5 +vxlan +02:00:00:00:00:05 +- +- +deleted from etcd$/);
    // Not JSON: unreadable, not "reserved".
    expect(garbage).toMatch(/^\S+ {2}added {4}10\.1\.7\.0\/24 +- +- +- +- +unreadable +the value is not a lease: /);
    expect(header!.indexOf('PUBLIC IP')).toBe(added!.indexOf('192.0.2.6'));
  });

  it('exits 1 naming the endpoints when etcd is not there', async () => {
    const result = await run(['leases', 'watch'], { env: { FLANNELD_ETCD_ENDPOINTS: 'http://127.0.0.1:1' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: cannot reach etcd at http:\/\/127\.0\.0\.1:1/);
  });
});
