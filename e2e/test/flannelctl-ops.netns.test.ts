/**
 * flannelctl for operators on a 3-host vxlan lab: `status` and `doctor` report a healthy network; each injected
 * fault (a route deleted, a wrong MTU, a stale FDB entry, flanneld stopped, a peer unreachable, a duplicate public
 * IP, etcd down) is reported by `doctor` with the right finding and exit 1, and the network is healthy again
 * afterwards; `leases watch` prints a host leaving and joining, in order.
 *
 * flanneld repairs kernel entries at its next reconcile (every 10 s), so a kernel fault can be gone before doctor
 * reads the tables: such faults are injected again (at most 3 times) until doctor has seen them.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, startLab, type Lab, type LabHost } from '@flannel-ts/lab';
import { waitFor } from '@flannel-ts/testkit';

const HEALTHZ_PORT = 8471;
const HEALTHZ_ARGS = ['--healthz-ip=127.0.0.1', `--healthz-port=${HEALTHZ_PORT}`];

interface Finding {
  readonly check: string;
  readonly status: 'ok' | 'warn' | 'fail';
  readonly message: string;
  readonly fix: string | null;
}

interface DoctorRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly findings: Finding[];
}

interface StatusJson {
  readonly capacity: { total: number; leased: number; reserved: number; free: number };
  readonly hosts: Array<{ subnet: string; publicIP: string; backendType: string | null; vtepMac: string | null; expiresInSeconds: number | null; renewedSecondsAgo: number | null; flags: string[] }>;
  readonly summary: { leases: number; flagged: number };
}

function runIn(namespace: string, command: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', namespace, command, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const failures = (run: DoctorRun) => run.findings.filter((f) => f.status === 'fail');
const failed = (run: DoctorRun, check: string, text: string | RegExp) =>
  run.findings.find((f) => f.status === 'fail' && f.check === check && (typeof text === 'string' ? f.message.includes(text) : text.test(f.message)));

describe('flannelctl status, doctor and leases watch on a 3-host vxlan lab', () => {
  let lab: Lab;
  let hosts: [LabHost, LabHost, LabHost];

  /** bin/flannelctl doctor inside the host's namespace, as an operator runs it there. */
  async function doctor(host: LabHost, extra: readonly string[] = [], json = true): Promise<DoctorRun> {
    const args = ['doctor', `--etcd-endpoints=${lab.etcdEndpoint}`, `--subnet-file=${host.subnetFile}`, ...(json ? ['--json'] : []), ...extra];
    const result = await runIn(host.name, BIN.flannelctl, args);
    const findings = json && result.stdout.startsWith('{') ? ((JSON.parse(result.stdout) as { findings: Finding[] }).findings) : [];
    return { ...result, findings };
  }

  async function expectHealthy(host: LabHost): Promise<DoctorRun> {
    const run = await doctor(host);
    expect(failures(run), `doctor on host ${host.index}:\n${run.stdout}${run.stderr}`).toEqual([]);
    expect(run.code).toBe(0);
    return run;
  }

  async function waitHealthy(host: LabHost, timeoutMs = 30_000): Promise<void> {
    let last: DoctorRun | undefined;
    await waitFor(async () => (last = await doctor(host)).code === 0, { timeoutMs, intervalMs: 500, what: `doctor healthy on host ${host.index}` }).catch((err: Error) => {
      throw new Error(`${err.message}; last doctor run:\n${JSON.stringify(last ? failures(last) : undefined, null, 2)}\n${last?.stderr ?? ''}`);
    });
  }

  /** Injects a fault flanneld may repair on its own, until a doctor run has seen it (at most 3 tries). */
  async function diagnose(host: LabHost, inject: () => Promise<unknown>, check: string, text: string | RegExp): Promise<{ run: DoctorRun; finding: Finding }> {
    let last: DoctorRun | undefined;
    for (let attempt = 1; attempt <= 3; attempt++) {
      await inject();
      last = await doctor(host);
      const finding = failed(last, check, text);
      if (finding) return { run: last, finding };
    }
    throw new Error(`doctor on host ${host.index} never reported ${check} ${String(text)}:\n${last?.stdout ?? ''}${last?.stderr ?? ''}`);
  }

  const subnetOf = async (host: LabHost) => (await host.subnetEnv()).subnet!;

  beforeAll(async () => {
    lab = await startLab({ hosts: 3 });
    hosts = lab.hosts as [LabHost, LabHost, LabHost];
    await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'vxlan']);
    for (const host of hosts) await lab.startFlanneld(host, HEALTHZ_ARGS);
    for (const host of hosts) await lab.addContainer(host);
    for (const host of hosts) await host.flanneld!.waitForOutput(/(peer added[\s\S]*){2}/);
  });

  afterAll(async () => {
    await lab?.[Symbol.asyncDispose]();
  });

  it('status shows the config, the capacity and one healthy row per host', async () => {
    const text = await lab.flannelctl(['status']);
    expect(text).toMatch(/^Network: +10\.1\.0\.0\/16 \(SubnetLen 24, 10\.1\.1\.0 to 10\.1\.255\.0\)$/m);
    expect(text).toMatch(/^Backend: +vxlan$/m);
    expect(text).toMatch(/^Subnets: +255 total, 3 leased, 0 reserved, 252 free$/m);
    expect(text).toMatch(/^SUBNET +PUBLIC IP +BACKEND +VTEP MAC +EXPIRES +RENEWED +FLAGS$/m);
    expect(text.trimEnd().split('\n').at(-1)).toBe('3 leases, none flagged');

    const status = JSON.parse(await lab.flannelctl(['status', '--json'])) as StatusJson;
    expect(status.capacity).toMatchObject({ total: 255, leased: 3, reserved: 0, free: 252 });
    expect(status.summary).toMatchObject({ leases: 3, flagged: 0 });
    for (const host of hosts) {
      const row = status.hosts.find((h) => h.publicIP === host.underlayIp);
      const [link] = await host.ipJson<Array<{ address: string }>>(['link', 'show', 'flannel.1']);
      expect(row).toMatchObject({ subnet: (await subnetOf(host)).toString(), backendType: 'vxlan', vtepMac: link!.address, flags: [] });
      expect(row!.expiresInSeconds).toBeGreaterThan(86_000);
      expect(row!.renewedSecondsAgo).toBeLessThan(300);
      expect(text).toContain(`${row!.subnet}`);
    }
  });

  it('doctor reports each host healthy, every check ok', async () => {
    for (const host of hosts) {
      const run = await expectHealthy(host);
      const okChecks = new Set(run.findings.filter((f) => f.status === 'ok').map((f) => f.check));
      for (const check of ['flanneld', 'ready', 'etcd', 'config', 'lease', 'duplicate-public-ip', 'subnet-env', 'interface', 'device', 'mtu', 'routes', 'neighbours', 'fdb', 'firewall', 'peer', 'peer-mtu']) {
        expect(okChecks, `${check} on host ${host.index}`).toContain(check);
      }
      expect(run.findings.filter((f) => f.status === 'warn')).toEqual([]);
      expect(run.findings.find((f) => f.check === 'routes')!.message).toBe('2 peer routes on flannel.1, as the leases say');
      expect(run.findings.find((f) => f.check === 'peer')!.message).toMatch(/^2 peers answer at their gateway/);
    }
    const human = await doctor(hosts[0], [], false);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^✓ routes +2 peer routes on flannel\.1, as the leases say$/m);
    expect(human.stdout.trimEnd().split('\n').at(-1)).toMatch(/^healthy: \d+ checks ok$/);
  });

  it('reports a deleted route, with the command that puts it back', async () => {
    const [h1, , h3] = hosts;
    const peer = await subnetOf(h3);
    const { run, finding } = await diagnose(h1, () => h1.exec('ip', ['route', 'del', peer.toString(), 'dev', 'flannel.1']).catch(() => undefined), 'routes', `1 missing: ${peer} via ${peer.addressText()} dev flannel.1 onlink (peer ${h3.underlayIp})`);
    expect(run.code).toBe(1);
    expect(finding.fix).toContain(`ip route replace ${peer} via ${peer.addressText()} dev flannel.1 onlink`);
    await waitHealthy(h1);
  });

  it('reports a wrong MTU on the vxlan device', async () => {
    const [h1] = hosts;
    try {
      const { run, finding } = await diagnose(h1, () => h1.exec('ip', ['link', 'set', 'flannel.1', 'mtu', '1400']), 'mtu', 'flannel.1 has MTU 1400 but FLANNEL_MTU is 1450');
      expect(run.code).toBe(1);
      expect(finding.fix).toContain('ip link set flannel.1 mtu 1450');
    } finally {
      await h1.exec('ip', ['link', 'set', 'flannel.1', 'mtu', '1450']);
    }
    await waitHealthy(h1);
  });

  it('reports an MTU that does not fit the underlay any more', async () => {
    // eth0 shrinks under a running flanneld: FLANNEL_MTU (1450) no longer fits, and full-size packets get lost.
    const [h1] = hosts;
    await h1.exec('ip', ['link', 'set', 'eth0', 'mtu', '1400']);
    try {
      const run = await doctor(h1);
      expect(run.code).toBe(1);
      expect(failed(run, 'mtu', 'FLANNEL_MTU is 1450 but eth0 MTU 1400 - 50 (vxlan) gives 1350'), run.stdout).toBeDefined();
      expect(failed(run, 'peer-mtu', /^1450-byte packets \(FLANNEL_MTU\) to 10\.1\.\d+\.1 .* do not get through, small ones do/), run.stdout).toBeDefined();
    } finally {
      await h1.exec('ip', ['link', 'set', 'eth0', 'mtu', '1500']);
      // The kernel remembers the smaller path MTU it learned towards the peers; forget it.
      await h1.exec('ip', ['route', 'flush', 'cache']);
    }
    await waitHealthy(h1);
  });

  it('reports a stale FDB entry', async () => {
    const [h1] = hosts;
    const inject = () => h1.exec('bridge', ['fdb', 'replace', '02:00:00:00:00:99', 'dev', 'flannel.1', 'dst', '192.0.2.99', 'self', 'permanent']);
    try {
      const { run, finding } = await diagnose(h1, inject, 'fdb', '1 stale: 02:00:00:00:00:99 dst 192.0.2.99 (no lease for it)');
      expect(run.code).toBe(1);
      expect(finding.fix).toContain('bridge fdb del 02:00:00:00:00:99 dev flannel.1 dst 192.0.2.99 self');
    } finally {
      await h1.exec('bridge', ['fdb', 'del', '02:00:00:00:00:99', 'dev', 'flannel.1', 'dst', '192.0.2.99', 'self']).catch(() => undefined);
    }
    await waitHealthy(h1);
  });

  it('reports flanneld stopped', async () => {
    const [, h2] = hosts;
    expect(await lab.stopFlanneld(h2)).toBe(0);
    try {
      const run = await doctor(h2, [`--healthz-url=http://127.0.0.1:${HEALTHZ_PORT}`]);
      expect(run.code).toBe(1);
      expect(failed(run, 'flanneld', 'flanneld is not running on this host'), run.stdout).toBeDefined();
      expect(failed(run, 'ready', `no answer from http://127.0.0.1:${HEALTHZ_PORT}/readyz (ECONNREFUSED)`), run.stdout).toBeDefined();
      // The data path outlives flanneld: everything else still holds.
      expect(failures(run).map((f) => f.check).sort()).toEqual(['flanneld', 'ready']);
      // Without --healthz-url doctor takes the port from the running flanneld; with none running it cannot know it.
      const guessed = await doctor(h2);
      expect(guessed.findings.find((f) => f.check === 'ready')).toMatchObject({ status: 'warn' });
    } finally {
      await lab.startFlanneld(h2, HEALTHZ_ARGS);
    }
    await waitHealthy(h2);
  });

  it('reports a peer that does not answer', async () => {
    const [h1, , h3] = hosts;
    const peer = await subnetOf(h3);
    await h3.exec('ip', ['link', 'set', 'eth0', 'down']);
    try {
      const run = await doctor(h1);
      expect(run.code).toBe(1);
      const finding = failed(run, 'peer', `${peer} of ${h3.underlayIp}: its gateway ${peer.addressText(1n)} does not answer within 1 s, nor does ${h3.underlayIp} itself`);
      expect(finding, run.stdout).toBeDefined();
      expect(failures(run).map((f) => f.check)).toEqual(['peer']);
      // On the host itself, the cause is plain.
      const local = await doctor(h3, ['--etcd-timeout=2s']);
      expect(failed(local, 'interface', 'eth0 is down'), local.stdout).toBeDefined();
    } finally {
      await h3.exec('ip', ['link', 'set', 'eth0', 'up']);
    }
    for (const host of hosts) await waitHealthy(host, 45_000);
  });

  it('reports a duplicate public IP in status and doctor', async () => {
    const [h1, h2] = hosts;
    const used = new Set(await Promise.all(hosts.map(async (h) => (await subnetOf(h)).toString())));
    const spare = ['10.1.254.0/24', '10.1.253.0/24'].find((s) => !used.has(s))!;
    await lab.flannelctl(['leases', 'reserve', spare, '--public-ip', h2.underlayIp]);
    try {
      const status = JSON.parse(await lab.flannelctl(['status', '--json'])) as StatusJson;
      const flagged = status.hosts.filter((h) => h.flags.includes('duplicate-public-ip'));
      expect(flagged.map((h) => h.subnet).sort()).toEqual([(await subnetOf(h2)).toString(), spare].sort());
      // Until its owner rewrites it, a reservation has no BackendType: peers do not program it (admission).
      expect(status.hosts.find((h) => h.subnet === spare)!.flags).toEqual(['duplicate-public-ip', 'rejected', 'reserved']);
      const text = await lab.flannelctl(['status']);
      expect(text.trimEnd().split('\n').at(-1)).toBe('4 leases (1 reserved), 2 flagged: 2 duplicate-public-ip, 1 rejected');

      const run = await doctor(h2);
      expect(run.code).toBe(1);
      const finding = failed(run, 'duplicate-public-ip', `this host's public IP ${h2.underlayIp} is also named by ${spare} (reserved)`);
      expect(finding, run.stdout).toBeDefined();
      expect(finding!.fix).toContain(`flannelctl leases revoke ${spare.replace('/', '-')}`);
      // Another host sees the duplicate as a warning (it is not its own address).
      const other = await doctor(h1);
      expect(other.findings.find((f) => f.check === 'duplicate-public-ip')).toMatchObject({ status: 'warn' });
    } finally {
      await lab.flannelctl(['leases', 'revoke', spare]);
    }
    // flanneld on h2 saw the conflict and stays not ready (it says why) until it is restarted.
    const after = await doctor(h2);
    if (after.code !== 0) expect(failures(after).map((f) => f.check)).toEqual(['ready']);
    await lab.stopFlanneld(h2);
    await lab.startFlanneld(h2, HEALTHZ_ARGS);
    await waitHealthy(h2);
  });

  it('reports etcd down, and still checks the host', async () => {
    const [h1] = hosts;
    await lab.etcd.stop();
    try {
      const run = await doctor(h1, ['--etcd-timeout=3s']);
      expect(run.code).toBe(1);
      expect(failed(run, 'etcd', `cannot read the network from etcd at ${lab.etcdEndpoint}`), run.stdout).toBeDefined();
      expect(failures(run).map((f) => f.check)).toEqual(['etcd']);
      // The local checks ran anyway.
      for (const check of ['flanneld', 'device', 'mtu', 'interface', 'subnet-env']) {
        expect(run.findings.find((f) => f.check === check), check).toMatchObject({ status: 'ok' });
      }
    } finally {
      await lab.etcd.start();
    }
    for (const host of hosts) await waitHealthy(host, 45_000);
  });

  it('leases watch prints a host leaving and joining, in order, with timestamps', async () => {
    const [h1, , h3] = hosts;
    const subnet = await subnetOf(h3);
    const watch = spawn(BIN.flannelctl, ['leases', 'watch', '--json', '--count', '2', `--etcd-endpoints=${lab.etcd.localEndpoint}`]);
    let stdout = '';
    let stderr = '';
    watch.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    watch.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => watch.once('close', resolve));
    try {
      await waitFor(() => stderr.includes('watching'), { timeoutMs: 15_000, what: 'the watch to start' });
      await lab.stopFlanneld(h3);
      await lab.flannelctl(['leases', 'revoke', subnet.toString()]);
      await lab.startFlanneld(h3, HEALTHZ_ARGS);
      expect(await exited).toBe(0);
    } finally {
      if (watch.exitCode === null) watch.kill();
    }
    const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as { time: string; type: string; subnet: string; publicIP: string; backendType: string });
    expect(events.map((e) => [e.type, e.subnet, e.publicIP])).toEqual([
      ['removed', subnet.toString(), h3.underlayIp],
      ['added', subnet.toString(), h3.underlayIp],
    ]);
    expect(events[1]!.backendType).toBe('vxlan');
    expect(Date.parse(events[0]!.time)).toBeLessThanOrEqual(Date.parse(events[1]!.time));
    await waitHealthy(h1);
  });

  it('status and doctor are healthy again after every fault', async () => {
    for (const host of hosts) await waitHealthy(host, 30_000);
    for (const host of hosts) await expectHealthy(host);
    const status = JSON.parse(await lab.flannelctl(['status', '--json'])) as StatusJson;
    expect(status.summary).toMatchObject({ leases: 3, flagged: 0 });
  });
});
