/**
 * vxlan backend benchmarks (issue: vxlan), each against a baseline measured in the same run:
 * 1. container-to-container TCP throughput over our flannel.1 vs a VXLAN pair configured by hand with ip/bridge
 *    between the same namespaces (alternating rounds);
 * 2. scale: 1000 peer leases in etcd, time from flanneld start to all 1000 peers programmed (route, neighbour and
 *    FDB entry each), vs the same entries through one `ip -batch` + `bridge -batch` run (the lower bound);
 * 3. time from a new lease written to its route present on the host, over 100 leases (median, p99);
 * 4. flanneld resident memory with 1000 peers.
 * Peer public IPs for the scale runs come from 198.18.0.0/15 (the benchmarking range); no packet is sent to them.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connectEtcd } from '@flannel-ts/lease-manager';
import { startLab, type LabContainer, type LabHost } from '@flannel-ts/lab';
import { run, waitFor } from '@flannel-ts/testkit';
import { saveReport } from './report.js';
import { median, percentile, round } from './stats.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const PEERS = Number(process.env['BENCH_PEERS'] ?? 1000);
const NEW_LEASES = 100;

async function throughputMbps(client: LabContainer, server: LabContainer): Promise<number> {
  const iperf = spawn('ip', ['netns', 'exec', server.name, 'iperf3', '-s', '-1', '-B', server.ip]);
  const exited = new Promise((resolve) => iperf.once('close', resolve));
  await new Promise((r) => setTimeout(r, 300));
  const report = JSON.parse(await client.exec('iperf3', ['-c', server.ip, '-t', String(SECONDS), '-J'], { timeoutMs: (SECONDS + 20) * 1000 })) as { end: { sum_received: { bits_per_second: number } } };
  iperf.kill();
  await exited;
  return report.end.sum_received.bits_per_second / 1e6;
}

const reachable = async (from: LabContainer, to: LabContainer) => (await from.exec('ping', ['-c', '1', '-W', '1', to.ip]).catch(() => '')).includes(' 0% packet loss');

async function throughput() {
  await using lab = await startLab({ hosts: 2 });
  await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'vxlan']);
  const [h1, h2] = lab.hosts as [LabHost, LabHost];
  for (const host of lab.hosts) await lab.startFlanneld(host);
  const c1 = await lab.addContainer(h1);
  const c2 = await lab.addContainer(h2);
  const s1 = (await h1.subnetEnv()).subnet!;
  const s2 = (await h2.subnetEnv()).subnet!;
  const ours: number[] = [];
  const manual: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    process.stderr.write(`vxlan throughput round ${round + 1}/${ROUNDS}\n`);
    await waitFor(() => reachable(c1, c2), { what: 'overlay up' });
    ours.push(await throughputMbps(c1, c2));
    // Replace flannel.1 with a pair made by hand: same VNI, port, MTU and entries.
    for (const host of lab.hosts) await lab.stopFlanneld(host);
    for (const [host, own, peer, peerHost] of [
      [h1, s1, s2, h2],
      [h2, s2, s1, h1],
    ] as const) {
      await host.exec('ip', ['link', 'del', 'flannel.1']);
      const mac = host === h1 ? '02:00:00:00:01:01' : '02:00:00:00:01:02';
      const peerMac = host === h1 ? '02:00:00:00:01:02' : '02:00:00:00:01:01';
      await host.exec('ip', ['link', 'add', 'vx0', 'address', mac, 'mtu', '1450', 'type', 'vxlan', 'id', '1', 'local', host.underlayIp, 'dev', 'eth0', 'dstport', '8472', 'nolearning']);
      await host.exec('ip', ['addr', 'add', `${own.addressText()}/32`, 'dev', 'vx0']);
      await host.exec('ip', ['link', 'set', 'vx0', 'up']);
      await host.exec('ip', ['neigh', 'replace', peer.addressText(), 'lladdr', peerMac, 'dev', 'vx0', 'nud', 'permanent']);
      await host.exec('bridge', ['fdb', 'replace', peerMac, 'dev', 'vx0', 'dst', peerHost.underlayIp, 'self', 'permanent']);
      await host.exec('ip', ['route', 'replace', peer.toString(), 'via', peer.addressText(), 'dev', 'vx0', 'onlink']);
    }
    await waitFor(() => reachable(c1, c2), { what: 'hand-made vxlan up' });
    manual.push(await throughputMbps(c1, c2));
    for (const host of lab.hosts) await host.exec('ip', ['link', 'del', 'vx0']);
    for (const host of lab.hosts) await lab.startFlanneld(host);
  }
  return { ours, manual };
}

function peerLease(i: number) {
  const subnet = `10.${(i >> 8) + 1}.${i & 255}.0`;
  const publicIP = `198.18.${i >> 8}.${(i & 255) || 1}`;
  const mac = `02:18:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  return { key: `${subnet}-24`, subnet, publicIP, mac, value: `{"PublicIP":"${publicIP}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${mac}"}}` };
}

async function countEntries(host: LabHost): Promise<{ routes: number; neighbours: number; fdb: number }> {
  const [routes, neighbours, fdb] = await Promise.all([
    host.ipJson<unknown[]>(['route', 'show', 'dev', 'flannel.1']).catch(() => []),
    host.ipJson<unknown[]>(['neigh', 'show', 'dev', 'flannel.1', 'nud', 'permanent']).catch(() => []),
    run('ip', ['netns', 'exec', host.name, 'bridge', '-j', 'fdb', 'show', 'dev', 'flannel.1']).then((t) => (JSON.parse(t || '[]') as unknown[]).length).catch(() => 0),
  ]);
  return { routes: routes.length, neighbours: neighbours.length, fdb };
}

async function scale() {
  await using lab = await startLab({ hosts: 1 });
  await lab.flannelctl(['config', 'set', '10.0.0.0/8', '--backend', 'vxlan']);
  const host = lab.hosts[0]!;
  const client = connectEtcd({ endpoints: [lab.etcd.localEndpoint] });
  try {
    const leases = Array.from({ length: PEERS }, (_, i) => peerLease(i));
    for (let i = 0; i < leases.length; i += 100) {
      await Promise.all(leases.slice(i, i + 100).map((l) => client.put(`/coreos.com/network/subnets/${l.key}`).value(l.value).exec()));
    }

    // Startup with no peer entries to program: a flanneld with another prefix (same etcd, empty network).
    await client.put('/empty/network/config').value('{"Network":"10.0.0.0/8","Backend":{"Type":"vxlan","VNI":7}}').exec();
    let started = performance.now();
    await lab.startFlanneld(host, ['--etcd-prefix=/empty/network']);
    const emptyStartMs = performance.now() - started;
    await lab.stopFlanneld(host);
    await host.exec('ip', ['link', 'del', 'flannel.7']);

    started = performance.now();
    const flanneld = lab.startFlanneld(host);
    // FDB entries are applied last (bridge -batch after ip -batch): poll only them, then check everything.
    const fdbCount = async () => (JSON.parse((await run('ip', ['netns', 'exec', host.name, 'bridge', '-j', 'fdb', 'show', 'dev', 'flannel.1']).catch(() => '[]')) || '[]') as unknown[]).length;
    await waitFor(async () => (await fdbCount()) >= PEERS, { timeoutMs: 120_000, intervalMs: 20, what: `${PEERS} peers programmed` });
    const programmedMs = performance.now() - started;
    const programmed = await countEntries(host);
    if (programmed.routes < PEERS || programmed.neighbours < PEERS) throw new Error(`only ${JSON.stringify(programmed)} programmed`);
    await flanneld;
    const pid = host.flanneld!.pid!;
    // flanneld's own timestamps: the full peer listing in hand -> every entry applied (it logs "running" after).
    const logTime = (pattern: RegExp) => Date.parse(/^(\S+)/.exec(host.flanneld!.output().split('\n').find((l) => pattern.test(l)) ?? '')?.[1] ?? '');
    const listedToProgrammedMs = logTime(/flanneld is running/) - logTime(/peers listed/);
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

    // New lease -> route present, timed by `ip monitor route` in the host.
    const monitor = spawn('ip', ['-n', host.name, 'monitor', 'route']);
    const seen = new Map<string, number>();
    let buffered = '';
    monitor.stdout.on('data', (chunk: Buffer) => {
      const now = performance.now();
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const dst = /^(10\.\d+\.\d+\.0\/24) via/.exec(line)?.[1];
        if (dst && !seen.has(dst)) seen.set(dst, now);
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    const latencies: number[] = [];
    for (let i = PEERS; i < PEERS + NEW_LEASES; i++) {
      const lease = peerLease(i);
      const put = performance.now();
      await client.put(`/coreos.com/network/subnets/${lease.key}`).value(lease.value).exec();
      const dst = `${lease.subnet}/24`;
      await waitFor(() => seen.has(dst), { timeoutMs: 10_000, intervalMs: 1, what: `route ${dst}` });
      latencies.push(seen.get(dst)! - put);
    }
    monitor.kill();

    // The lower bound: the same 1000 x 3 entries in one ip -batch and one bridge -batch run, on a fresh device.
    await lab.stopFlanneld(host);
    await host.exec('ip', ['link', 'del', 'flannel.1']);
    await host.exec('ip', ['link', 'add', 'flannel.1', 'mtu', '1450', 'type', 'vxlan', 'id', '1', 'local', host.underlayIp, 'dev', 'eth0', 'dstport', '8472', 'nolearning']);
    await host.exec('ip', ['link', 'set', 'flannel.1', 'up']);
    const ipLines = leases.flatMap((l) => [`neigh replace ${l.subnet} lladdr ${l.mac} dev flannel.1 nud permanent`, `route replace ${l.subnet}/24 via ${l.subnet} dev flannel.1 onlink`]).join('\n');
    const fdbLines = leases.map((l) => `fdb replace ${l.mac} dev flannel.1 dst ${l.publicIP} self permanent`).join('\n');
    const batchStart = performance.now();
    await run('ip', ['-n', host.name, '-batch', '-'], { input: `${ipLines}\n` });
    await run('ip', ['netns', 'exec', host.name, 'bridge', '-batch', '-'], { input: `${fdbLines}\n` });
    const batchMs = performance.now() - batchStart;
    const check = await countEntries(host);
    if (check.routes < PEERS || check.fdb < PEERS) throw new Error(`lower-bound batch programmed only ${JSON.stringify(check)}`);
    return { emptyStartMs, programmedMs, listedToProgrammedMs, batchMs, latencies, rssKb };
  } finally {
    client.close();
  }
}

async function main() {
  const tp = await throughput();
  process.stderr.write(`vxlan scale: ${PEERS} peers\n`);
  const sc = await scale();
  const programmingMs = sc.programmedMs - sc.emptyStartMs;
  await saveReport({
    name: 'vxlan',
    title: 'vxlan backend: throughput vs a hand-made VXLAN pair; programming 1000 peers',
    rows: [
      [`TCP throughput (iperf3, ${SECONDS} s), median of ${ROUNDS}`, `${round(median(tp.ours), 0)} Mbit/s`, `${round(median(tp.manual), 0)} Mbit/s (VXLAN pair by hand)`, `${round(median(tp.ours) / median(tp.manual))}x`, 'target >= 0.95x; same kernel data path'],
      [`flanneld start → ${PEERS} peers programmed (3 entries each)`, `${round(sc.programmedMs, 0)} ms`, `${round(sc.batchMs, 0)} ms (one ip -batch + bridge -batch)`, `${round(sc.programmedMs / sc.batchMs)}x`, `includes process start; flanneld start with no peers: ${round(sc.emptyStartMs, 0)} ms`],
      [`programming part (above minus start with no peers)`, `${round(programmingMs, 0)} ms`, `${round(sc.batchMs, 0)} ms`, `${round(programmingMs / sc.batchMs)}x`, 'listing 1000 leases from etcd, planning, reading the kernel, one batched apply'],
      [`peer listing in hand → ${PEERS} peers programmed (flanneld's log)`, `${round(sc.listedToProgrammedMs, 0)} ms`, `${round(sc.batchMs, 0)} ms`, `${round(sc.listedToProgrammedMs / sc.batchMs)}x`, 'target within 2x: plan, read kernel state, diff, one ip -batch + one bridge -batch'],
      [`new lease written → route present, ${NEW_LEASES} leases`, `median ${round(median(sc.latencies), 1)} ms, p99 ${round(percentile(sc.latencies, 99), 1)} ms`, '-', '-', `with ${PEERS} peers programmed`],
      [`flanneld resident memory with ${PEERS + NEW_LEASES} peers`, `${round(sc.rssKb / 1024, 1)} MiB`, '-', '-', 'VmRSS'],
    ],
    raw: { throughput: tp, scale: sc, peers: PEERS },
  });
}

await main();
