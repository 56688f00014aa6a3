/**
 * Lease churn: thousands of lease writes and deletes straight into etcd, as fast as it takes them, while real
 * containers on two hosts ping each other. After the churn stops, host 1's kernel equals the live leases exactly
 * (vxlan: route + neighbour + FDB entry each; host-gw: a route each; udp: the forwarder's table, probed), within
 * 5 s and from the event path alone (no reconcile had to repair anything), flanneld's memory stayed bounded, and
 * no ping was lost.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, churnSubnet, clearChurn, cpuSeconds, expectedPeerState, kernelPeerState, pingDuring, rssMiB, runLeaseChurn, stateDifferences, startLab, udpForwards, type LabHost } from '@flannel-ts/lab';
import { waitFor } from '@flannel-ts/testkit';
import { ping } from './net.js';

const POOL = 1500;

describe.each(['vxlan', 'host-gw', 'udp'] as const)('lease churn, %s', (backend) => {
  it('reflects every event: the kernel equals the live leases within 5 s, memory bounded, no ping lost', async () => {
    await using lab = await startLab({ hosts: 2 });
    const [h1, h2] = lab.hosts as [LabHost, LabHost];
    await lab.flannelctl(['config', 'set', '10.0.0.0/8', '--backend', backend]);
    await lab.startFlanneld(h1);
    await lab.startFlanneld(h2);
    const [c1, c2] = [await lab.addContainer(h1), await lab.addContainer(h2)];
    await waitFor(async () => (await ping(c1, c2.ip, ['-c', '1', '-W', '1'])).ok, { timeoutMs: 20_000, what: 'the containers reach each other' });
    const pid = h1.flanneld!.child.pid!;
    const rssBefore = (await rssMiB(pid))!;
    const cpuBefore = await cpuSeconds(pid);

    let rssPeak = rssBefore;
    const sampler = setInterval(() => void rssMiB(pid).then((rss) => (rssPeak = Math.max(rssPeak, rss ?? 0))), 200);
    const pinger = pingDuring(c1, c2.ip);
    // An operator watching the store: it must print every one of the events, and keep up.
    const watch = spawn(BIN.flannelctl, ['leases', 'watch', '--json', `--etcd-endpoints=${lab.etcd.localEndpoint}`]);
    let watchLines = 0;
    let watchErr = '';
    watch.stdout.on('data', (c: Buffer) => (watchLines += c.toString().split('\n').length - 1));
    watch.stderr.on('data', (c: Buffer) => (watchErr += c.toString()));
    const watchClosed = new Promise<void>((resolve) => watch.on('close', () => resolve()));
    await waitFor(() => watchErr.includes('watching '), { what: 'leases watch in place' });
    let churn;
    try {
      churn = await runLeaseChurn({ endpoint: lab.etcd.localEndpoint, backend, pool: POOL, maxEvents: 5_000, maxMs: 8_000 });
    } finally {
      clearInterval(sampler);
    }
    const stoppedAt = Date.now();
    const outputBefore = h1.flanneld!.output().length;

    // Converged from the event path: compared with the live leases every 100 ms.
    let convergedMs: number | undefined;
    if (backend === 'udp') {
      const live = [...Array(POOL).keys()].filter((i) => churn.live.has(`${churnSubnet(i)}-24`));
      const dead = [...Array(POOL).keys()].filter((i) => !churn.live.has(`${churnSubnet(i)}-24`));
      const sample = [...live.slice(0, 10), ...live.slice(-10)];
      const deadSample = [...dead.slice(0, 10), ...dead.slice(-10)];
      await waitFor(async () => (await Promise.all(sample.map((i) => udpForwards(c1, i)))).every(Boolean) && !(await Promise.all(deadSample.map((i) => udpForwards(c1, i)))).some(Boolean), {
        timeoutMs: 5_000,
        intervalMs: 100,
        what: 'the udp table equal to the live leases (sampled)',
      });
      convergedMs = Date.now() - stoppedAt;
    } else {
      const wanted = expectedPeerState(backend, churn.live);
      let differences: string[] = [];
      await waitFor(
        async () => {
          differences = stateDifferences(await kernelPeerState(h1, backend, '10.2'), wanted);
          return differences.length === 0;
        },
        { timeoutMs: 5_000, intervalMs: 100, what: `host 1's kernel equal to the ${wanted.size} live leases` },
      ).catch((err: Error) => {
        throw new Error(`${err.message}; first differences:\n${differences.join('\n')}`);
      });
      convergedMs = Date.now() - stoppedAt;
    }
    const loss = await pinger.stop();
    await waitFor(() => watchLines >= churn.events, { timeoutMs: 5_000, what: `leases watch printing all ${churn.events} events (has ${watchLines})` });
    watch.kill('SIGTERM');
    await watchClosed;
    expect(watchLines).toBe(churn.events);
    const cpuAfter = await cpuSeconds(pid);

    // Nothing was left for a reconcile to repair: the batches alone got the kernel right.
    await new Promise((r) => setTimeout(r, 200));
    const after = h1.flanneld!.output().slice(outputBefore);
    expect(after).not.toMatch(/repairing kernel entries|stale route removed|route recovered|route corrected/);
    expect(h1.flanneld!.child.exitCode).toBeNull();
    expect(churn.events).toBeGreaterThan(1_000);
    expect(convergedMs).toBeLessThan(5_000);
    expect(loss.lossPercent, `${loss.sent} pings`).toBe(0);
    // Memory follows the live set, not the event backlog (2000+ events a second would otherwise pile up).
    expect(rssPeak, `RSS ${rssBefore.toFixed(1)} -> peak ${rssPeak.toFixed(1)} MiB`).toBeLessThan(rssBefore * 1.5 + 16);
    process.stderr.write(
      `churn ${backend}: ${churn.events} events in ${churn.elapsedMs} ms (${Math.round((churn.events * 1000) / churn.elapsedMs)}/s), ${churn.live.size} live, ` +
        `converged ${convergedMs} ms after, RSS ${rssBefore.toFixed(1)} -> ${rssPeak.toFixed(1)} MiB, CPU ${(((cpuAfter - cpuBefore) * 1000) / churn.events).toFixed(3)} ms/event, ${loss.sent} pings 0 lost\n`,
    );
    await clearChurn(lab.etcd.localEndpoint);
  });
});
