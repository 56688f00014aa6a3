/**
 * Footprint benchmark (issue: footprint), each figure against a baseline measured in the same run:
 * 1. start-up of `flanneld --version`/`--help`, `flannelctl --help`, `flannel-docker-setup --help`, and of
 *    `flannelctl config get` / `leases list` against a local etcd, each paired run by run with a bare `node -e 0`
 *    (A B A B ..., the ratio taken pair by pair so a drift of the machine's speed cancels out);
 * 2. flanneld start -> subnet.env (new host, alloc backend, etcd reached over the lab's underlay from a namespace),
 *    paired with a bare node process that starts and writes a file in the same namespace;
 * 3. resident memory (VmRSS) of an idle flanneld, with no peers and with 1000 vxlan peers programmed, and of the udp
 *    backend with its two data-path worker threads, against an idle bare node process;
 * 4. CPU used by an idle flanneld (vxlan, default flags: forward rules checked every 5 s) over IDLE_SECONDS, with no
 *    peers and with 1000 peers, its child processes (reaped or still running: ip, iptables, helpers) included.
 *
 * BENCH_COMPARE_DIR=<another built checkout> measures that checkout's apps in the same run too (the "before" rows,
 * named by BENCH_COMPARE_LABEL).
 * Peer public IPs come from 198.18.0.0/15 (the benchmarking range); no packet is sent to them.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectEtcd } from '@flannel-ts/lease-manager';
import { startLab, type Lab, type LabHost } from '@flannel-ts/lab';
import { run, startDaemon, waitFor, type DaemonProcess } from '@flannel-ts/testkit';
import { createTempDir, startEtcd } from './fixtures.js';
import { saveReport } from './report.js';
import { median, round } from './stats.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const COMPARE = process.env['BENCH_COMPARE_DIR'] ? resolve(process.env['BENCH_COMPARE_DIR']) : undefined;
/** How the compared build is named in the report, e.g. `before, 1a2b3c4`. */
const COMPARE_LABEL = process.env['BENCH_COMPARE_LABEL'] ?? 'before';
const CLI_RUNS = Number(process.env['BENCH_RUNS'] ?? 15);
const START_RUNS = Number(process.env['BENCH_START_RUNS'] ?? 9);
const PEERS = Number(process.env['BENCH_PEERS'] ?? 1000);
// Five minutes: an idle daemon uses ~0.1 s of CPU a minute in 10 ms clock ticks, so two minutes left the ratio of
// two such daemons at the mercy of a few ticks (one full collection more or less).
const IDLE_SECONDS = Number(process.env['BENCH_IDLE_SECONDS'] ?? 300);
const CLK_TCK = 100;

interface Build {
  readonly label: 'ours' | 'before';
  readonly name: string;
  readonly flanneld: string;
  readonly flannelctl: string;
  readonly dockerSetup: string;
}

/**
 * flanneld is run as its bundle's own executable, as bin/flanneld runs it (its #! line, whatever it holds, is part
 * of what it costs). The other apps run as `node main.js`.
 */
const build = (label: Build['label'], root: string): Build => ({
  label,
  name: label === 'ours' ? 'ours' : COMPARE_LABEL,
  flanneld: join(root, 'apps/flanneld/dist/main.js'),
  flannelctl: join(root, 'apps/flannelctl/dist/main.js'),
  dockerSetup: join(root, 'apps/flannel-docker-setup/dist/main.js'),
});
const BUILDS: Build[] = [build('ours', REPO), ...(COMPARE ? [build('before', COMPARE)] : [])];

/** Runs a command to its end; resolves with wall ms. */
function timeRun(command: string, args: readonly string[]): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    child.once('error', reject);
    child.once('exit', () => resolvePromise(performance.now() - started));
  });
}

/** A and B in turn, CLI_RUNS pairs after one warm-up each; the median of A, of B and of the pairwise ratios. */
async function paired(a: () => Promise<number>, b: () => Promise<number>, runs = CLI_RUNS) {
  await a();
  await b();
  const as: number[] = [];
  const bs: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < runs; i++) {
    const x = await a();
    const y = await b();
    as.push(x);
    bs.push(y);
    ratios.push(x / y);
  }
  return { ours: median(as), baseline: median(bs), ratio: median(ratios), runs: { as, bs } };
}

const bareNode = () => timeRun(process.execPath, ['-e', '0']);

async function cliStartups(build: Build, etcdEndpoint: string) {
  const node = process.execPath;
  const etcdFlag = `--etcd-endpoints=${etcdEndpoint}`;
  return {
    'flanneld --version': await paired(() => timeRun(build.flanneld, ['--version']), bareNode),
    'flanneld --help': await paired(() => timeRun(build.flanneld, ['--help']), bareNode),
    'flannelctl --help': await paired(() => timeRun(node, [build.flannelctl, '--help']), bareNode),
    'flannel-docker-setup --help': await paired(() => timeRun(node, [build.dockerSetup, '--help']), bareNode),
    'flannelctl config get': await paired(() => timeRun(node, [build.flannelctl, 'config', 'get', etcdFlag]), bareNode),
    'flannelctl leases list': await paired(() => timeRun(node, [build.flannelctl, 'leases', 'list', etcdFlag]), bareNode),
  };
}

/** Spawns `command` in the namespace and resolves with ms until `file` exists (polled every 1 ms), then stops it. */
async function timeUntilFile(ns: string, command: string, args: string[], file: string): Promise<number> {
  await rm(file, { force: true });
  const started = performance.now();
  const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    for (;;) {
      if (existsSync(file)) return performance.now() - started;
      if (child.exitCode !== null) throw new Error(`${command} exited ${child.exitCode}: ${stderr}`);
      if (performance.now() - started > 30_000) throw new Error(`${command} did not write ${file} in 30 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    const exited = new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

async function startToSubnetEnv(lab: Lab, host: LabHost, build: Build, prefix: string) {
  let n = 0;
  const file = join(lab.dir, `start-${build.label}.env`);
  const target = join(lab.dir, `start-floor-${build.label}`);
  return paired(
    // A new host each run: a public IP no lease has yet, so flanneld allocates.
    () => timeUntilFile(host.name, build.flanneld, [`--etcd-endpoints=${lab.etcdEndpoint}`, `--etcd-prefix=${prefix}`, '--iface=eth0', `--public-ip=192.0.2.${100 + n++}`, `--subnet-file=${file}`], file),
    () => timeUntilFile(host.name, process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(target)}, 'x'); setInterval(() => {}, 1000)`], target),
    START_RUNS,
  );
}

async function procStatus(pid: number) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssKib: field('VmRSS'), threads: field('Threads') };
}

/**
 * CPU seconds of a process and everything below it: utime + stime + cutime + cstime of the process and of each
 * live descendant (a long-lived helper such as a shell or `ip monitor` counts, and so do the commands it ran).
 */
async function cpuSeconds(pid: number): Promise<number> {
  let ticks = 0;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    for (const task of await readdir(`/proc/${pid}/task`)) {
      const children = (await readFile(`/proc/${pid}/task/${task}/children`, 'utf8')).trim();
      for (const child of children ? children.split(' ') : []) ticks += (await cpuSeconds(Number(child))) * CLK_TCK;
    }
  } catch {
    // The process ended between listing and reading: its time is in its parent's cutime.
  }
  return ticks / CLK_TCK;
}

function startFlanneld(lab: Lab, host: LabHost, build: Build, args: readonly string[]): DaemonProcess {
  return startDaemon('ip', ['netns', 'exec', host.name, build.flanneld, `--etcd-endpoints=${lab.etcdEndpoint}`, '--iface=eth0', `--subnet-file=${join(lab.dir, `${host.name}.env`)}`, ...args]);
}

function peerLease(i: number) {
  const subnet = `10.${(i >> 8) + 1}.${i & 255}.0`;
  const publicIP = `198.18.${i >> 8}.${(i & 255) || 1}`;
  const mac = `02:18:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  return { key: `${subnet}-24`, value: `{"PublicIP":"${publicIP}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${mac}"}}` };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  await using etcd = await startEtcd();
  await using _tmp = await createTempDir();
  {
    const client = connectEtcd({ endpoints: [etcd.endpoint] });
    await client.put('/coreos.com/network/config').value('{"Network":"10.0.0.0/12","Backend":{"Type":"vxlan"}}').exec();
    for (let i = 0; i < 20; i++) await client.put(`/coreos.com/network/subnets/${peerLease(i).key}`).value(peerLease(i).value).exec();
    client.close();
  }
  const cli: Record<string, Awaited<ReturnType<typeof cliStartups>>> = {};
  for (const b of BUILDS) {
    process.stderr.write(`footprint: command start-up (${b.label})\n`);
    cli[b.label] = await cliStartups(b, etcd.endpoint);
  }

  // One lab: host 1 times start-up; hosts 2.. run the idle daemons, two per build (no peers, PEERS peers).
  await using lab = await startLab({ hosts: 1 + 3 * BUILDS.length });
  const client = connectEtcd({ endpoints: [lab.etcd.localEndpoint] });
  const daemons: Array<{ build: Build; kind: 'idle' | 'peers' | 'udp'; host: LabHost; daemon: DaemonProcess }> = [];
  try {
    const start: Record<string, Awaited<ReturnType<typeof paired>>> = {};
    for (const b of BUILDS) {
      process.stderr.write(`footprint: start -> subnet.env (${b.label})\n`);
      const prefix = `/start-${b.label}/network`;
      await client.put(`${prefix}/config`).value('{"Network":"10.0.0.0/12","Backend":{"Type":"alloc"}}').exec();
      start[b.label] = await startToSubnetEnv(lab, lab.hosts[0]!, b, prefix);
    }

    process.stderr.write(`footprint: ${PEERS} peer leases\n`);
    await client.put('/coreos.com/network/config').value('{"Network":"10.0.0.0/8","Backend":{"Type":"vxlan"}}').exec();
    for (let i = 0; i < PEERS; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, PEERS - i) }, (_, j) => peerLease(i + j)).map((l) => client.put(`/coreos.com/network/subnets/${l.key}`).value(l.value).exec()));
    }
    let hostIndex = 1;
    for (const b of BUILDS) {
      await client.put(`/idle-${b.label}/network/config`).value('{"Network":"10.0.0.0/8","Backend":{"Type":"vxlan","VNI":7}}').exec();
      await client.put(`/udp-${b.label}/network/config`).value('{"Network":"10.0.0.0/8","Backend":{"Type":"udp"}}').exec();
      for (const [kind, prefix] of [['idle', `/idle-${b.label}/network`], ['peers', '/coreos.com/network'], ['udp', `/udp-${b.label}/network`]] as const) {
        const host = lab.hosts[hostIndex++]!;
        daemons.push({ build: b, kind, host, daemon: startFlanneld(lab, host, b, [`--etcd-prefix=${prefix}`]) });
      }
    }
    for (const d of daemons) await d.daemon.waitForOutput(/flanneld is running/, 60_000);
    // The 1000-peer daemons have programmed every peer once the FDB holds them all.
    for (const d of daemons.filter((x) => x.kind === 'peers')) {
      await waitFor(async () => (JSON.parse((await run('ip', ['netns', 'exec', d.host.name, 'bridge', '-j', 'fdb', 'show', 'dev', 'flannel.1'])) || '[]') as unknown[]).length >= PEERS, {
        timeoutMs: 120_000,
        intervalMs: 100,
        what: `${PEERS} peers programmed (${d.build.label})`,
      });
    }
    const floor = spawn('ip', ['netns', 'exec', lab.hosts[0]!.name, process.execPath, '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      // Let start-up garbage be collected and the first periodic work run before sampling.
      await sleep(15_000);
      process.stderr.write(`footprint: idle for ${IDLE_SECONDS} s\n`);
      const pids = [...daemons.map((d) => d.daemon.pid!), floor.pid!];
      const cpuBefore = await Promise.all(pids.map(cpuSeconds));
      await sleep(IDLE_SECONDS * 1000);
      const cpuAfter = await Promise.all(pids.map(cpuSeconds));
      const memory = await Promise.all(pids.map(procStatus));
      const of = (i: number) => ({ cpuSeconds: round(cpuAfter[i]! - cpuBefore[i]!, 2), rssMib: round(memory[i]!.rssKib / 1024, 1), threads: memory[i]!.threads });
      const idle: Record<string, Record<string, ReturnType<typeof of>>> = {};
      daemons.forEach((d, i) => ((idle[d.build.label] ??= {})[d.kind] = of(i)));
      const bare = of(pids.length - 1);
      await report(cli, start, idle, bare);
    } finally {
      floor.kill();
    }
  } finally {
    client.close();
    await Promise.all(daemons.map((d) => d.daemon.stop('SIGTERM').catch(() => undefined)));
  }
}

function report(
  cli: Record<string, Awaited<ReturnType<typeof cliStartups>>>,
  start: Record<string, Awaited<ReturnType<typeof paired>>>,
  idle: Record<string, Record<string, { cpuSeconds: number; rssMib: number; threads: number }>>,
  bare: { cpuSeconds: number; rssMib: number; threads: number },
) {
  const rows: Array<[string, string, string, string, string]> = [];
  const ms = (value: number) => `${round(value, 1)} ms`;
  const x = (value: number) => `${round(value)}x`;
  const targets: Record<string, string> = {
    'flanneld --version': 'target <= 1.6x',
    'flanneld --help': 'target <= 1.6x',
    'flannelctl --help': 'target <= 1.6x',
    'flannel-docker-setup --help': 'target <= 1.6x',
    'flannelctl config get': 'target <= 3x; local etcd',
    'flannelctl leases list': 'target <= 3x; local etcd, 20 leases',
  };
  for (const [name, target] of Object.entries(targets)) {
    for (const b of BUILDS) {
      const r = cli[b.label]![name as keyof (typeof cli)[string]];
      rows.push([`${name} (${b.name}), median of ${CLI_RUNS} pairs`, ms(r.ours), `${ms(r.baseline)} (node -e 0)`, x(r.ratio), target]);
    }
  }
  for (const b of BUILDS) {
    const r = start[b.label]!;
    rows.push([`flanneld start → subnet.env, new host, alloc (${b.name}), median of ${START_RUNS} pairs`, ms(r.ours), `${ms(r.baseline)} (bare node start + write, same namespace)`, x(r.ratio), 'target <= 3.5x; etcd over the underlay, firewall forward rules on (the default)']);
  }
  const mib = (value: number) => `${value} MiB`;
  for (const b of BUILDS) {
    const i = idle[b.label]!;
    rows.push([`resident memory, idle, no peers (${b.name})`, mib(i['idle']!.rssMib), `${mib(bare.rssMib)} (idle bare node)`, x(i['idle']!.rssMib / bare.rssMib), 'target <= 1.6x; VmRSS after start-up settled']);
    rows.push([`resident memory, ${PEERS} vxlan peers programmed (${b.name})`, mib(i['peers']!.rssMib), `${mib(bare.rssMib)}`, x(i['peers']!.rssMib / bare.rssMib), 'target <= 1.7x']);
    rows.push([`resident memory, udp backend with its data-path workers (${b.name})`, mib(i['udp']!.rssMib), `${mib(bare.rssMib)}`, x(i['udp']!.rssMib / bare.rssMib), `${i['udp']!.threads} threads; the workers cost ${round(i['udp']!.rssMib - i['idle']!.rssMib, 1)} MiB over the idle vxlan daemon`]);
  }
  const pct = (seconds: number) => `${round((seconds / IDLE_SECONDS) * 100, 3)}% of a core`;
  for (const b of BUILDS) {
    const i = idle[b.label]!;
    rows.push([`CPU of an idle flanneld, no peers, ${IDLE_SECONDS} s (${b.name})`, `${i['idle']!.cpuSeconds} s (${pct(i['idle']!.cpuSeconds)})`, `${bare.cpuSeconds} s (idle bare node)`, '-', 'target <= 0.25% of a core; child processes (ip, iptables, helpers) included']);
    rows.push([`CPU of an idle flanneld, ${PEERS} peers, ${IDLE_SECONDS} s (${b.name})`, `${i['peers']!.cpuSeconds} s (${pct(i['peers']!.cpuSeconds)})`, `${i['idle']!.cpuSeconds} s (same, no peers)`, i['idle']!.cpuSeconds > 0 ? x(i['peers']!.cpuSeconds / i['idle']!.cpuSeconds) : '-', 'target within 1.2x of no peers']);
  }
  return saveReport({
    name: 'footprint',
    title: 'Footprint: command start-up, start → subnet.env, memory and idle CPU',
    rows,
    raw: { cli, start, idle, bare, idleSeconds: IDLE_SECONDS, peers: PEERS, compare: COMPARE },
  });
}

await main();
