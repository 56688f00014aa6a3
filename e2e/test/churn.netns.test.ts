/**
 * Lease churn: thousands of lease writes and deletes straight into etcd, as fast as it takes them, while real
 * containers on two hosts ping each other. After the churn stops, host 1's kernel equals the live leases exactly
 * (vxlan: route + neighbour + FDB entry each; host-gw: a route each; udp: the forwarder's table, probed), within
 * 5 s and from the event path alone (no reconcile had to repair anything), flanneld's memory stayed bounded, and
 * no ping was lost.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { churnSubnet, clearChurn, cpuSeconds, expectedPeerState, kernelPeerState, rssMiB, runLeaseChurn, stateDifferences, startLab, type LabContainer, type LabHost } from '@flannel-ts/lab';
import { waitFor } from '@flannel-ts/testkit';
import { ping } from './net.js';

const POOL = 1500;

/** Pings every 50 ms until stopped; resolves with the loss reported by ping. */
function pingDuring(from: LabContainer, to: string): { stop(): Promise<{ sent: number; lossPercent: number }> } {
  const child = spawn('ip', ['netns', 'exec', from.name, 'ping', '-i', '0.05', '-W', '1', to]);
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    async stop() {
      child.kill('SIGINT');
      await closed;
      const match = /(\d+) packets transmitted, (\d+) received/.exec(output);
      const sent = Number(match?.[1] ?? 0);
      return { sent, lossPercent: sent === 0 ? 100 : (100 * (sent - Number(match?.[2] ?? 0))) / sent };
    },
  };
}

/** udp keeps its table in the forwarder: a live subnet is forwarded (no answer), a dead one gets "net unreachable". */
async function udpForwards(container: LabContainer, subnetIndex: number): Promise<boolean> {
  const result = await ping(container, churnSubnet(subnetIndex).replace(/0$/, '7'), ['-c', '1', '-W', '1']);
  return !/Destination Net Unreachable/.test(result.output);
}

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
