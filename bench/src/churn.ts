/**
 * Lease churn at scale (issue: lease churn), per backend, against the same run's pre-churn figures: a 2-host lab
 * with containers pinging, 1000 peer leases already programmed, then writes and deletes over a pool of 4000
 * subnets as fast as etcd takes them for BENCH_CHURN_SECONDS (default 30). Measured on host 1's flanneld:
 * events per second sustained, time from the last write until the kernel equals the live leases exactly, resident
 * memory before and at its peak, CPU per event, ping loss between the real containers.
 * Targets: converged within 5 s, RSS peak <= 1.5x pre-churn, CPU per event <= 0.5 ms, 0% loss.
 */
import { connectEtcd } from '@flannel-ts/lease-manager';
import { churnSubnet, cpuSeconds, expectedPeerState, kernelPeerState, pingDuring, rssMiB, runLeaseChurn, startLab, stateDifferences, udpForwards, type ChurnBackend, type LabHost } from '@flannel-ts/lab';
import { waitFor } from '@flannel-ts/testkit';
import { saveReport } from './report.js';
import { round } from './stats.js';

const SECONDS = Number(process.env['BENCH_CHURN_SECONDS'] ?? 30);
const POOL = 4000;
const PRELOAD = 1000;

interface ChurnFigures {
  readonly backend: ChurnBackend;
  readonly events: number;
  readonly eventsPerSecond: number;
  readonly live: number;
  /** -1: not converged within 60 s (then `differences` kernel entries still differed). */
  readonly convergedMs: number;
  readonly differences: number;
  readonly rssBeforeMiB: number;
  readonly rssPeakMiB: number;
  readonly cpuMsPerEvent: number;
  readonly idleCpuMsPerSecond: number;
  readonly pings: number;
  readonly lossPercent: number;
}

async function churnRun(backend: ChurnBackend): Promise<ChurnFigures> {
  await using lab = await startLab({ hosts: 2 });
  const [h1, h2] = lab.hosts as [LabHost, LabHost];
  await lab.flannelctl(['config', 'set', '10.0.0.0/8', '--backend', backend]);
  await lab.startFlanneld(h1);
  await lab.startFlanneld(h2);
  const [c1, c2] = [await lab.addContainer(h1), await lab.addContainer(h2)];
  await waitFor(async () => (await c1.exec('ping', ['-c', '1', '-W', '1', c2.ip]).catch(() => '')).includes(' 0% packet loss'), { timeoutMs: 20_000, what: 'containers up' });
  // Pre-churn: 1000 peers programmed (a put for each of the first PRELOAD subnets), then idle.
  const preload = await runLeaseChurn({ endpoint: lab.etcd.localEndpoint, backend, pool: PRELOAD, maxEvents: PRELOAD * 3, maxMs: 60_000, deleteRatio: 0, seed: 1 });
  if (backend !== 'udp') {
    const wanted = expectedPeerState(backend, preload.live);
    await waitFor(async () => stateDifferences(await kernelPeerState(h1, backend, '10.2'), wanted).length === 0, { timeoutMs: 30_000, what: 'pre-load programmed' });
  }
  await new Promise((r) => setTimeout(r, 2_000));
  const pid = h1.flanneld!.child.pid!;
  const idleCpu0 = await cpuSeconds(pid);
  await new Promise((r) => setTimeout(r, 5_000));
  const idleCpuMsPerSecond = ((await cpuSeconds(pid)) - idleCpu0) * 200;
  const rssBefore = (await rssMiB(pid))!;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => void rssMiB(pid).then((rss) => (rssPeak = Math.max(rssPeak, rss ?? 0))), 200);
  const pinger = pingDuring(c1, c2.ip);
  const cpu0 = await cpuSeconds(pid);
  process.stderr.write(`churn ${backend}: ${SECONDS} s of churn over ${POOL} subnets\n`);
  const churn = await runLeaseChurn({ endpoint: lab.etcd.localEndpoint, backend, pool: POOL, maxEvents: 10_000_000, maxMs: SECONDS * 1000, seed: 7 });
  const stoppedAt = Date.now();
  // The final set is the store's: the pre-load and the churn both wrote under 10.2xx.
  const client = connectEtcd({ endpoints: [lab.etcd.localEndpoint] });
  const stored = await client.getAll().prefix('/coreos.com/network/subnets/10.2').strings();
  client.close();
  const final = new Map<string, { publicIP: string; mac: string }>();
  for (const [fullKey, value] of Object.entries(stored)) {
    const attrs = JSON.parse(value) as { PublicIP: string; BackendData?: { VtepMAC: string } };
    final.set(fullKey.slice('/coreos.com/network/subnets/'.length), { publicIP: attrs.PublicIP, mac: attrs.BackendData?.VtepMAC ?? '' });
  }
  let converged = true;
  let missing = 0;
  if (backend === 'udp') {
    const liveIdx = [...Array(POOL).keys()].filter((i) => final.has(`${churnSubnet(i)}-24`));
    const deadIdx = [...Array(POOL).keys()].filter((i) => !final.has(`${churnSubnet(i)}-24`));
    const sample = [...liveIdx.slice(0, 10), ...liveIdx.slice(-10)];
    const deadSample = [...deadIdx.slice(0, 10), ...deadIdx.slice(-10)];
    await waitFor(
      async () => {
        const liveOk = await Promise.all(sample.map((i) => udpForwards(c1, i)));
        const deadOk = await Promise.all(deadSample.map((i) => udpForwards(c1, i)));
        missing = liveOk.filter((ok) => !ok).length + deadOk.filter(Boolean).length;
        return missing === 0;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'udp converged' },
    ).catch(() => (converged = false));
  } else {
    const wanted = expectedPeerState(backend, final);
    await waitFor(async () => (missing = stateDifferences(await kernelPeerState(h1, backend, '10.2'), wanted, 100_000).length) === 0, { timeoutMs: 60_000, intervalMs: 100, what: 'converged' }).catch(() => (converged = false));
  }
  const convergedMs = converged ? Date.now() - stoppedAt : -1;
  const cpu1 = await cpuSeconds(pid);
  clearInterval(sampler);
  const loss = await pinger.stop();
  return {
    backend,
    events: churn.events,
    eventsPerSecond: Math.round((churn.events * 1000) / churn.elapsedMs),
    live: final.size,
    convergedMs,
    differences: missing,
    rssBeforeMiB: round(rssBefore, 1),
    rssPeakMiB: round(rssPeak, 1),
    cpuMsPerEvent: round(((cpu1 - cpu0) * 1000) / churn.events, 3),
    idleCpuMsPerSecond: round(idleCpuMsPerSecond, 2),
    pings: loss.sent,
    lossPercent: round(loss.lossPercent, 2),
  };
}

const figures: ChurnFigures[] = [];
const backends = (process.env['BENCH_CHURN_BACKENDS']?.split(',') ?? ['vxlan', 'host-gw', 'udp']) as ChurnBackend[];
for (const backend of backends) figures.push(await churnRun(backend));

await saveReport({
  name: 'churn',
  title: 'Lease churn: every event reflected, memory bounded, cost per event',
  rows: figures.flatMap((f) => [
    [`${f.backend}: events sustained (${SECONDS} s over ${POOL} subnets, 32 writers)`, `${f.eventsPerSecond}/s (${f.events})`, '-', '-', `${f.live} live leases at the end; ${PRELOAD} programmed before`],
    [`${f.backend}: last write → kernel equals the live leases`, f.convergedMs < 0 ? `not within 60 s (${f.differences} entries differ)` : `${f.convergedMs} ms`, '5000 ms (target)', f.convergedMs < 0 ? '-' : `${round(f.convergedMs / 5000, 2)}x`, f.backend === 'udp' ? 'forwarder table, sampled by probes' : 'every route, neighbour and FDB entry compared'],
    [`${f.backend}: resident memory, pre-churn → peak`, `${f.rssPeakMiB} MiB`, `${f.rssBeforeMiB} MiB (pre-churn, same run)`, `${round(f.rssPeakMiB / f.rssBeforeMiB, 2)}x`, 'target <= 1.5x'],
    [`${f.backend}: CPU per lease event`, `${f.cpuMsPerEvent} ms`, `${f.idleCpuMsPerSecond} ms/s idle with ${PRELOAD} peers`, '-', 'target <= 0.5 ms; churn until converged, over events written'],
    [`${f.backend}: ping loss between the real containers`, `${f.lossPercent}%`, '0% (target)', '-', `${f.pings} pings, 50 ms apart, during the churn`],
  ]),
  raw: figures,
});
