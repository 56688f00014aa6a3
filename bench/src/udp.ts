/**
 * udp backend benchmark (issue: udp backend): container-to-container TCP throughput (iperf3) and ping latency over
 * our udp backend, and over a plain C user-space tunnel of the same design (socat with TUN and UDP-DATAGRAM
 * addresses: one datagram per packet, sendto without connect so an early ICMP port-unreachable cannot end it)
 * between the same namespaces, alternating in the same run; reported as ratios.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { startLab, type LabContainer, type LabHost } from '@flannel-ts/lab';
import { waitFor } from '@flannel-ts/testkit';
import { saveReport } from './report.js';
import { median, round } from './stats.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const PINGS = 300;

async function throughputMbps(client: LabContainer, server: LabContainer): Promise<number> {
  const iperf = spawn('ip', ['netns', 'exec', server.name, 'iperf3', '-s', '-1', '-B', server.ip]);
  const exited = new Promise((resolve) => iperf.once('close', resolve));
  await new Promise((r) => setTimeout(r, 300));
  const report = JSON.parse(await client.exec('iperf3', ['-c', server.ip, '-t', String(SECONDS), '-J'], { timeoutMs: (SECONDS + 20) * 1000 })) as {
    end: { sum_received: { bits_per_second: number } };
  };
  iperf.kill();
  await exited;
  return report.end.sum_received.bits_per_second / 1e6;
}

async function pingMs(client: LabContainer, server: LabContainer): Promise<number> {
  const out = await client.exec('ping', ['-q', '-c', String(PINGS), '-i', '0.005', '-W', '2', server.ip], { timeoutMs: 60_000 });
  const match = /= [\d.]+\/([\d.]+)\//.exec(out);
  if (!match) throw new Error(`unexpected ping output: ${out}`);
  return Number(match[1]);
}

async function startSocat(h1: LabHost, h2: LabHost, s1: string, s2: string): Promise<ChildProcess[]> {
  const tunnel = (host: LabHost, peer: LabHost) =>
    spawn('ip', ['netns', 'exec', host.name, 'socat', 'TUN,tun-type=tun,iff-no-pi,iff-up,tun-name=socat0', `UDP-DATAGRAM:${peer.underlayIp}:8285,bind=${host.underlayIp}:8285`], { stdio: ['ignore', 'ignore', 'inherit'] });
  const processes = [tunnel(h1, h2), tunnel(h2, h1)];
  for (const [host, peerSubnet] of [
    [h1, s2],
    [h2, s1],
  ] as const) {
    await waitFor(async () => (await host.exec('ip', ['link', 'show', 'socat0']).catch(() => '')).includes('socat0:'), { what: 'socat0 on ' + host.name });
    await host.exec('ip', ['link', 'set', 'socat0', 'mtu', '1472', 'up']);
    await host.exec('ip', ['route', 'replace', peerSubnet, 'dev', 'socat0']);
  }
  return processes;
}

async function stopAll(processes: ChildProcess[]): Promise<void> {
  await Promise.all(
    processes.map(
      (p) =>
        new Promise((resolve) => {
          if (p.exitCode !== null) return resolve(undefined);
          p.once('close', resolve);
          p.kill('SIGTERM');
        }),
    ),
  );
}

async function main() {
  await using lab = await startLab({ hosts: 2 });
  await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'udp']);
  const [h1, h2] = lab.hosts as [LabHost, LabHost];
  for (const host of lab.hosts) await lab.startFlanneld(host);
  const c1 = await lab.addContainer(h1);
  const c2 = await lab.addContainer(h2);
  const s1 = (await h1.subnetEnv()).subnet!.toString();
  const s2 = (await h2.subnetEnv()).subnet!.toString();

  const ours = { mbps: [] as number[], ms: [] as number[] };
  const socat = { mbps: [] as number[], ms: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    process.stderr.write(`round ${round + 1}/${ROUNDS}: flannel udp\n`);
    await waitFor(async () => (await c1.exec('ping', ['-c', '1', '-W', '1', c2.ip]).catch(() => '')).includes(' 0% packet loss'), { what: 'overlay up' });
    ours.mbps.push(await throughputMbps(c1, c2));
    ours.ms.push(await pingMs(c1, c2));
    // flannel0 and its routes go away with flanneld; the socat tunnel takes the same path.
    for (const host of lab.hosts) await lab.stopFlanneld(host);
    process.stderr.write(`round ${round + 1}/${ROUNDS}: socat\n`);
    const tunnels = await startSocat(h1, h2, s1, s2);
    await waitFor(async () => (await c1.exec('ping', ['-c', '1', '-W', '1', c2.ip]).catch(() => '')).includes(' 0% packet loss'), { what: 'socat tunnel up' });
    socat.mbps.push(await throughputMbps(c1, c2));
    socat.ms.push(await pingMs(c1, c2));
    await stopAll(tunnels);
    for (const host of lab.hosts) await lab.startFlanneld(host);
  }

  const m = { ours: median(ours.mbps), socat: median(socat.mbps), oursMs: median(ours.ms), socatMs: median(socat.ms) };
  await saveReport({
    name: 'udp',
    title: 'udp backend: container to container over flannel udp vs a socat TUN/UDP tunnel',
    rows: [
      [`TCP throughput (iperf3, ${SECONDS} s), median of ${ROUNDS}`, `${round(m.ours, 0)} Mbit/s`, `${round(m.socat, 0)} Mbit/s (socat TUN<->UDP)`, `${round(m.ours / m.socat)}x`, 'target >= 1.0x; both tunnels MTU 1472, same namespaces, alternating'],
      [`ping RTT (${PINGS} pings, 5 ms apart), median of ${ROUNDS}`, `${round(m.oursMs, 3)} ms`, `${round(m.socatMs, 3)} ms`, `${round(m.oursMs / m.socatMs)}x`, 'lower is better'],
    ],
    raw: { ours, socat, seconds: SECONDS, rounds: ROUNDS },
  });
}

await main();
