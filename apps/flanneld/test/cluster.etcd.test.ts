/**
 * flanneld with a 3-member etcd cluster: losing a member is invisible to the network.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectEtcd } from '@flannel-ts/lease-manager';
import { createTempDir, startDaemon, startEtcdCluster, waitFor } from '@flannel-ts/testkit';
import { FLANNELD_BIN, flanneldNamespace } from './harness.js';

describe('3-member etcd cluster', () => {
  it('keeps watching and renewing, missing no lease event, while a member is killed and restarted under load', async () => {
    await using cluster = await startEtcdCluster(3);
    await using dir = await createTempDir();
    const client = connectEtcd({ endpoints: cluster.localEndpoints, callTimeoutMs: 3000 });
    try {
      await client.put('/coreos.com/network/config').value('{"Network":"10.1.0.0/16","Backend":{"Type":"alloc"}}').exec();
      const ns = await flanneldNamespace();
      // A 10 s lease renews every 5 s: several renewals fall inside the run.
      await using flanneld = startDaemon('ip', [
        'netns', 'exec', ns.name, FLANNELD_BIN,
        `--etcd-endpoints=${cluster.localEndpoints.join(',')}`, '--iface=lo', '--public-ip=192.0.2.1',
        `--subnet-file=${join(dir.path, 'subnet.env')}`, '--subnet-lease-ttl=10', '--iptables-forward-rules=false',
      ]);
      await flanneldOutput(flanneld, /flanneld is running/);

      // Load: a peer joins every 150 ms and the one three before it leaves. Meanwhile each member in turn dies and
      // comes back (two of three always up), so whichever member flanneld's watch and renewals use goes away once.
      const put = (i: number) => retry(() => client.put(`/coreos.com/network/subnets/10.1.${100 + i}.0-24`).value(`{"PublicIP":"198.51.100.${i + 1}","PublicIPv6":null}`).exec());
      const del = (i: number) => retry(() => client.delete().key(`/coreos.com/network/subnets/10.1.${100 + i}.0-24`).exec());
      const [m1, m2, m3] = cluster.members as [typeof cluster.members[0], typeof cluster.members[0], typeof cluster.members[0]];
      const schedule = new Map<number, () => Promise<void>>([
        [10, () => m1!.stop('SIGKILL')],
        [25, () => m1!.start()],
        [35, () => m2!.stop('SIGKILL')],
        [50, () => m2!.start()],
        [60, () => m3!.stop('SIGKILL')],
        [75, () => m3!.start()],
      ]);
      const ops = 90;
      for (let i = 0; i < ops; i++) {
        await schedule.get(i)?.();
        // A restarted member needs a moment to rejoin before the next one may go.
        if (i === 26 || i === 51) await new Promise((r) => setTimeout(r, 1500));
        await put(i);
        if (i >= 3) await del(i - 3);
        await new Promise((r) => setTimeout(r, 150));
      }
      const adds = ops;
      const removes = ops - 3;
      await waitFor(() => count(flanneld.output(), /peer removed/) >= removes, { timeoutMs: 20_000, what: `${removes} removals seen` });
      expect(count(flanneld.output(), /peer added/)).toBe(adds);
      expect(count(flanneld.output(), /peer removed/)).toBe(removes);
      // Renewals went on across the member's death and return.
      expect(count(flanneld.output(), /renewed lease/)).toBeGreaterThanOrEqual(2);
      expect(flanneld.output()).not.toMatch(/error renewing lease|re-acquiring lease failed/);
      expect(flanneld.child.exitCode).toBeNull();
    } finally {
      client.close();
    }
  }, 120_000);
});

const count = (text: string, pattern: RegExp) => text.split('\n').filter((line) => pattern.test(line)).length;

async function retry<T>(operation: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (err) {
      // The test's own writer rides out the member changes too (etcd3's circuit breakers reopen after a while).
      if (attempt >= 60) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

function flanneldOutput(daemon: { waitForOutput(p: RegExp, t?: number): Promise<unknown> }, pattern: RegExp) {
  return daemon.waitForOutput(pattern, 30_000);
}
