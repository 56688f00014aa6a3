/**
 * `flannelctl doctor` is right on every backend: on a healthy 2-host lab it reports no failure for alloc (which has
 * no data path, so no peer is pinged and the MTU rule is the interface's), udp and host-gw, and its peer finding
 * says what the backend does. (vxlan, with its faults, is covered by flannelctl-ops.netns.test.ts.) A reservation
 * for a host that never joined is a warning, not a failure.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, startLab } from '@flannel-ts/lab';

interface Finding {
  readonly check: string;
  readonly status: 'ok' | 'warn' | 'fail';
  readonly message: string;
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

const EXPECTED_PEER: Record<string, RegExp> = {
  alloc: /^not probed: the alloc backend has no data path \(2 peer leases known\)$/,
  udp: /^1 peer answers at its gateway/,
  'host-gw': /^1 peer answers at its gateway/,
};

describe('flannelctl doctor on each backend', () => {
  for (const backend of ['alloc', 'udp', 'host-gw'] as const) {
    it(`reports a healthy ${backend} host with no failure`, async () => {
      await using lab = await startLab({ hosts: 2 });
      await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', backend]);
      for (const host of lab.hosts) await lab.startFlanneld(host);
      for (const host of lab.hosts) await lab.addContainer(host);
      for (const host of lab.hosts) await host.flanneld!.waitForOutput(/peer added/);
      // A host that never joined: a reservation.
      await lab.flannelctl(['leases', 'reserve', '10.1.250.0/24', '--public-ip', '192.0.2.99']);
      const [h1] = lab.hosts;
      const result = await runIn(h1!.name, BIN.flannelctl, ['doctor', '--json', `--etcd-endpoints=${lab.etcdEndpoint}`, `--subnet-file=${h1!.subnetFile}`]);
      const findings = (JSON.parse(result.stdout) as { findings: Finding[] }).findings;
      const failures = findings.filter((f) => f.status === 'fail');
      expect(failures, `${backend}: ${result.stdout}`).toEqual([]);
      expect(result.code).toBe(0);
      const peer = findings.filter((f) => f.check === 'peer');
      expect(peer[0]!.message).toMatch(EXPECTED_PEER[backend]!);
      // The reservation is a warning: not probed (udp), or rejected for its empty BackendType (host-gw), never a failure.
      const aboutReservation = findings.filter((f) => f.message.includes('10.1.250.0'));
      if (backend !== 'alloc') expect(aboutReservation.length, JSON.stringify(findings, null, 2)).toBeGreaterThan(0);
      for (const finding of aboutReservation) expect(finding.status).toBe('warn');
      const mtu = findings.find((f) => f.check === 'mtu')!;
      expect(mtu.message).not.toMatch(backend === 'alloc' ? /host-gw/ : /alloc/);
    });
  }
});
