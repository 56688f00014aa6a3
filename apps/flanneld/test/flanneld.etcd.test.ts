import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectEtcd } from '@flannel-ts/lease-manager';
import { existsSync } from 'node:fs';
import { createTempDir, freePort, startDaemon, startEtcd, waitFor, type EtcdServer } from '@flannel-ts/testkit';
import { fetchInNamespace, startFlanneld } from './harness.js';

const CONFIG_KEY = '/coreos.com/network/config';
const SUBNETS = '/coreos.com/network/subnets/';

async function withClient<T>(etcd: EtcdServer, fn: (client: ReturnType<typeof connectEtcd>) => Promise<T>): Promise<T> {
  const client = connectEtcd({ endpoints: [etcd.endpoint] });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

const putConfig = (etcd: EtcdServer, json: string) => withClient(etcd, (c) => c.put(CONFIG_KEY).value(json).exec());
const subnetKeys = (etcd: EtcdServer) => withClient(etcd, (c) => c.getAll().prefix(SUBNETS).keys());

describe('flanneld with the alloc backend', () => {
  it('waits for the config, then leases a subnet and writes subnet.env as flannel does', async () => {
    await using etcd = await startEtcd();
    await using dir = await createTempDir();
    const subnetFile = join(dir.path, 'run', 'subnet.env');
    await using flanneld = await startFlanneld(etcd, { publicIp: '192.0.2.1', subnetFile });
    await flanneld.waitForOutput(/waiting for a valid network config .*flannelctl config set/);
    await putConfig(etcd, '{"Network":"10.1.0.0/16","Backend":{"Type":"alloc"}}');
    const [, subnet] = await flanneld.waitForOutput(/flanneld is running subnet=(\S+)/);
    const keys = await subnetKeys(etcd);
    expect(keys).toEqual([`${SUBNETS}${subnet}`]);
    const third = subnet!.split('.')[2];
    expect(await readFile(subnetFile, 'utf8')).toBe(`FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.${third}.1/24\nFLANNEL_MTU=65536\nFLANNEL_IPMASQ=false\n`);
    expect(await withClient(etcd, (c) => c.get(keys[0]!).string())).toBe('{"PublicIP":"192.0.2.1","PublicIPv6":null}');

    // SIGTERM: exit 0, the lease stays.
    expect(await flanneld.stop('SIGTERM')).toBe(0);
    expect(await subnetKeys(etcd)).toEqual(keys);
  });

  it('keeps its subnet across restarts, by public IP and by the previous subnet.env', async () => {
    await using etcd = await startEtcd();
    await using dir = await createTempDir();
    await putConfig(etcd, '{"Network":"10.1.0.0/16","Backend":{"Type":"alloc"}}');
    const subnetFile = join(dir.path, 'subnet.env');
    const first = await startFlanneld(etcd, { publicIp: '192.0.2.1', subnetFile, args: ['--ip-masq'] });
    const [, subnet] = await first.waitForOutput(/flanneld is running subnet=(\S+)/);
    expect(await first.stop()).toBe(0);

    await using again = await startFlanneld(etcd, { publicIp: '192.0.2.1', subnetFile });
    await again.waitForOutput(new RegExp(`reusing lease subnet=${subnet}`));

    // A new public IP (the host was re-addressed) still gets its old subnet back from subnet.env once the old
    // lease is gone.
    await again.stop();
    await withClient(etcd, (c) => c.delete().key(`${SUBNETS}${subnet}`).exec());
    await using moved = await startFlanneld(etcd, { publicIp: '192.0.2.99', subnetFile });
    await moved.waitForOutput(new RegExp(`acquired lease subnet=${subnet} publicIP=192.0.2.99 source=previous`));
  });

  it('refuses the 4th host of a network with room for 3: exit 1 and a clear reason', async () => {
    await using etcd = await startEtcd();
    await using dir = await createTempDir();
    await putConfig(etcd, '{"Network":"10.3.0.0/28","Backend":{"Type":"alloc"}}');
    const hosts = await Promise.all([1, 2, 3].map((n) => startFlanneld(etcd, { publicIp: `192.0.2.${n}`, subnetFile: join(dir.path, `${n}.env`) })));
    try {
      await Promise.all(hosts.map((h) => h.waitForOutput(/flanneld is running/)));
      const fourth = await startFlanneld(etcd, { publicIp: '192.0.2.4', subnetFile: join(dir.path, '4.env') });
      expect(await fourth.exited()).toBe(1);
      expect(fourth.output()).toMatch(/flanneld failed reason="out of subnets: every \/30 from 10.3.0.4 to 10.3.0.12 .* revoke unused leases/);
      expect((await subnetKeys(etcd)).sort()).toEqual([`${SUBNETS}10.3.0.12-30`, `${SUBNETS}10.3.0.4-30`, `${SUBNETS}10.3.0.8-30`]);
    } finally {
      await Promise.all(hosts.map((h) => h.stop()));
    }
  });

  it('refuses a subnet file it cannot create before taking a lease: /proc, a file as parent (exit 1 within a second)', async () => {
    await using etcd = await startEtcd();
    await using dir = await createTempDir();
    await putConfig(etcd, '{"Network":"10.1.0.0/16","Backend":{"Type":"alloc"}}');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir.path, 'file'), 'x');
    for (const [subnetFile, reason] of [
      ['/proc/nope/subnet.env', /cannot write \/proc\/nope\/subnet\.env: cannot create directory \/proc\/nope \(ENOENT/],
      [join(dir.path, 'file', 'x', 'subnet.env'), /\/file is a file, not a directory/],
    ] as const) {
      const started = Date.now();
      const flanneld = await startFlanneld(etcd, { publicIp: '192.0.2.1', subnetFile });
      expect(await flanneld.exited()).toBe(1);
      expect(Date.now() - started).toBeLessThan(3000); // process start included; the check itself takes milliseconds
      expect(flanneld.output()).toMatch(reason);
    }
    expect(await subnetKeys(etcd)).toEqual([]);
  });

  it('honours SIGTERM within a second while waiting for the config; --log-format=json writes one object a line', async () => {
    await using etcd = await startEtcd();
    await using dir = await createTempDir();
    const flanneld = await startFlanneld(etcd, { publicIp: '192.0.2.1', subnetFile: join(dir.path, 'subnet.env'), args: ['--log-format=json'] });
    await flanneld.waitForOutput(/"msg":"waiting for a valid network config"/);
    const started = Date.now();
    expect(await flanneld.stop('SIGTERM')).toBe(0);
    expect(Date.now() - started).toBeLessThan(1000);
    const lines = flanneld.output().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const line of lines) expect(Object.keys(line).slice(0, 4)).toEqual(['time', 'level', 'component', 'msg']);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', component: 'flanneld', msg: 'using etcd', tls: false, auth: false }));
  });

  it('fails with a clear message for a backend this build does not have', async () => {
    await using etcd = await startEtcd();
    await using dir = await createTempDir();
    await putConfig(etcd, '{"Network":"10.1.0.0/16","Backend":{"Type":"wireguard"}}');
    const flanneld = await startFlanneld(etcd, { publicIp: '192.0.2.1', subnetFile: join(dir.path, 'subnet.env') });
    expect(await flanneld.exited()).toBe(1);
    expect(flanneld.output()).toMatch(/backend type \\"wireguard\\" is not supported by this build of flanneld yet \(supported: alloc/);
    expect(await subnetKeys(etcd)).toEqual([]);
  });

  it('keeps serving peers when a malformed key lands in the store', async () => {
    await using etcd = await startEtcd();
    await using dir = await createTempDir();
    await putConfig(etcd, '{"Network":"10.1.0.0/16","Backend":{"Type":"alloc"}}');
    await using a = await startFlanneld(etcd, { publicIp: '192.0.2.1', subnetFile: join(dir.path, 'a.env') });
    await a.waitForOutput(/flanneld is running/);
    await withClient(etcd, (c) => c.put(`${SUBNETS}10.1.99.0-24`).value('{"PublicIP":42}').exec());
    await using b = await startFlanneld(etcd, { publicIp: '192.0.2.2', subnetFile: join(dir.path, 'b.env') });
    await b.waitForOutput(/flanneld is running/);
    await a.waitForOutput(/peer added subnet=\S+ publicIP=192.0.2.2/);
    expect(a.output()).toMatch(/skipped malformed lease key=\/coreos.com\/network\/subnets\/10.1.99.0-24 reason="PublicIP 42 is not an IPv4 address"/);
    expect(a.output()).not.toMatch(/peer removed/);
  });

  it('reconnects after etcd is stopped and restarted, keeps its lease, and serves health checks', async () => {
    await using etcd = await startEtcd();
    await using dir = await createTempDir();
    await putConfig(etcd, '{"Network":"10.1.0.0/16","Backend":{"Type":"alloc"}}');
    const port = await freePort();
    await using flanneld = await startFlanneld(etcd, { publicIp: '192.0.2.1', subnetFile: join(dir.path, 'subnet.env'), args: [`--healthz-ip=127.0.0.1`, `--healthz-port=${port}`] });
    const [, subnet] = await flanneld.waitForOutput(/flanneld is running subnet=(\S+)/);
    expect((await fetchInNamespace(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    const ready = await fetchInNamespace(`http://127.0.0.1:${port}/readyz`);
    expect([ready.status, ready.body]).toEqual([200, 'flanneld is ready\n']);

    await etcd.stop();
    await flanneld.waitForOutput(/etcd unreachable, retrying with back-off/);
    await new Promise((r) => setTimeout(r, 2000));
    await etcd.start();
    await flanneld.waitForOutput(/etcd reachable again/, 20_000);
    expect(flanneld.output().match(/etcd unreachable/g)?.length).toBe(1); // logged once per state change

    // The own-lease watch is live again: an admin revoking the lease makes flanneld take it back.
    await waitFor(async () => (await subnetKeys(etcd)).length === 1);
    await withClient(etcd, (c) => c.delete().key(`${SUBNETS}${subnet}`).exec());
    await flanneld.waitForOutput(/lease was removed from etcd/, 20_000);
    await waitFor(async () => (await subnetKeys(etcd)).includes(`${SUBNETS}${subnet}`), { what: 'the lease back' });
    expect(flanneld.child.exitCode).toBeNull();
  });

  it('takes its settings from FLANNELD_* variables', async () => {
    await using etcd = await startEtcd();
    await using dir = await createTempDir();
    await withClient(etcd, (c) => c.put('/custom/network/config').value('{"Network":"10.5.0.0/16","Backend":{"Type":"alloc"}}').exec());
    const subnetFile = join(dir.path, 'env.env');
    await using flanneld = await startFlanneld(etcd, { publicIp: '192.0.2.1', subnetFile, env: { FLANNELD_ETCD_PREFIX: '/custom/network', FLANNELD_IP_MASQ: 'true' } });
    await flanneld.waitForOutput(/flanneld is running/);
    expect(await readFile(subnetFile, 'utf8')).toMatch(/^FLANNEL_NETWORK=10.5.0.0\/16\nFLANNEL_SUBNET=10.5.\d+.1\/24\nFLANNEL_MTU=65536\nFLANNEL_IPMASQ=true\n$/);
  });

  it('serves /metrics, turns /readyz to 503 while etcd is unreachable past the threshold, and notifies systemd', async () => {
    await using etcd = await startEtcd();
    await using dir = await createTempDir();
    await putConfig(etcd, '{"Network":"10.1.0.0/16","Backend":{"Type":"alloc"}}');
    const notifySocket = join(dir.path, 'notify.sock');
    await using receiver = startDaemon('socat', ['-u', `UNIX-RECV:${notifySocket}`, 'STDOUT']);
    await waitFor(() => existsSync(notifySocket), { what: 'notify socket' });
    const port = await freePort();
    await using flanneld = await startFlanneld(etcd, {
      publicIp: '192.0.2.1',
      subnetFile: join(dir.path, 'subnet.env'),
      args: ['--healthz-ip=127.0.0.1', `--healthz-port=${port}`, '--readiness-etcd-timeout=2'],
      env: { NOTIFY_SOCKET: notifySocket },
    });
    await flanneld.waitForOutput(/flanneld is running/);
    await receiver.waitForOutput(/READY=1/);
    const metrics = await fetchInNamespace(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^flanneld_etcd_reachable 1$/m);
    expect(metrics.body).toMatch(/^flanneld_peers_known 0$/m);
    expect(metrics.body).toMatch(/^flanneld_lease_expiry_timestamp_seconds \d+/m);
    expect(metrics.body).toMatch(/^flanneld_programming_errors_total 0$/m);

    await etcd.stop();
    await waitFor(async () => (await fetchInNamespace(`http://127.0.0.1:${port}/readyz`)).status === 503, { timeoutMs: 15_000, what: 'readyz 503' });
    const notReady = await fetchInNamespace(`http://127.0.0.1:${port}/readyz`);
    expect(notReady.body).toMatch(/^flanneld is not ready yet: etcd unreachable for \d+ s/);
    expect((await fetchInNamespace(`http://127.0.0.1:${port}/metrics`)).body).toMatch(/^flanneld_etcd_reachable 0$/m);
    expect((await fetchInNamespace(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    await etcd.start();
    await waitFor(async () => (await fetchInNamespace(`http://127.0.0.1:${port}/readyz`)).status === 200, { timeoutMs: 20_000, what: 'readyz 200 again' });
  });

  it('reports a duplicate public IP instead of silently sharing the subnet', async () => {
    await using etcd = await startEtcd();
    await using dir = await createTempDir();
    await putConfig(etcd, '{"Network":"10.1.0.0/16","Backend":{"Type":"alloc"}}');
    const port = await freePort();
    await using first = await startFlanneld(etcd, { publicIp: '192.0.2.7', subnetFile: join(dir.path, 'a.env'), args: ['--healthz-ip=127.0.0.1', `--healthz-port=${port}`] });
    await first.waitForOutput(/flanneld is running/);
    // A second host configured with the same address: flannel's reuse-by-PublicIP hands it the first one's lease.
    await using second = await startFlanneld(etcd, { publicIp: '192.0.2.7', subnetFile: join(dir.path, 'b.env') });
    await second.waitForOutput(/reusing lease/);
    await first.waitForOutput(/duplicate public IP: another host took over this lease subnet=\S+ publicIP=192.0.2.7/);
    const ready = await fetchInNamespace(`http://127.0.0.1:${port}/readyz`);
    expect([ready.status, ready.body]).toEqual([503, expect.stringMatching(/duplicate public IP/)]);
  });
});
