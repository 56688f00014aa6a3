/**
 * CNI plugin benchmark (issue 14): how long a runtime waits for our `flannel` plugin on ADD and DEL, against
 * calling Debian's `bridge` plugin directly with the very delegate config `flannel` produced (read back from its
 * dataDir), in the same run, alternating, on the same host namespace and container namespace. The difference is
 * what the plugin costs: Node start, loading the one-file bundle, reading subnet.env, saving the config, one
 * extra exec. Both are started the same way (nsenter into the host namespace), as a runtime on that host would,
 * and `flannel` is the copy `flannel install` makes (what runtimes run: one file, `#!/usr/bin/node`). A bare
 * `node` start (empty program) in the same run shows how much of the difference is Node's own start.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLANNEL_CNI, runCniPlugin, type CniCall } from '@flannel-ts/lab';
import { createNetns, createTempDir, run, sweepStaleNetns, uniqueName } from '@flannel-ts/testkit';
import { saveReport } from './report.js';
import { median, percentile, round } from './stats.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS_CNI'] ?? 25);
const BRIDGE = '/usr/lib/cni/bridge';
const BUNDLE = fileURLToPath(new URL('../../apps/cni-plugin/dist/flannel.cjs', import.meta.url));

async function timed(call: CniCall): Promise<number> {
  const started = performance.now();
  const result = await runCniPlugin(call);
  const ms = performance.now() - started;
  if (result.code !== 0) throw new Error(`${call.plugin} ${call.command} failed: ${result.stdout}${result.stderr}`);
  return ms;
}

async function main(): Promise<void> {
  await sweepStaleNetns();
  await using host = await createNetns(uniqueName('bh'));
  await using container = await createNetns(uniqueName('bc'));
  await using tmp = await createTempDir('bench-cni-');
  const subnetFile = join(tmp.path, 'subnet.env');
  const dataDir = join(tmp.path, 'flannel');
  await writeFile(subnetFile, 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  const flannelConf = { cniVersion: '1.0.0', name: 'benchnet', type: 'flannel', subnetFile, dataDir, ipam: { dataDir: join(tmp.path, 'ipam') } };
  const base = { hostNetns: host.name, netnsPath: `/run/netns/${container.name}` };
  const binDir = join(tmp.path, 'cni-bin');
  await mkdir(binDir);
  await run(FLANNEL_CNI, ['install', '--dir', binDir]);
  const flannel = join(binDir, 'flannel');

  // One ADD to create cni0 (both sides then find it there) and to get the delegate config flannel hands to bridge.
  await timed({ ...base, plugin: flannel, command: 'ADD', containerId: 'warm', config: flannelConf });
  const delegateConfig = await readFile(join(dataDir, 'warm'), 'utf8');
  await timed({ ...base, plugin: flannel, command: 'DEL', containerId: 'warm', config: flannelConf });

  const samples = { flannelAdd: [] as number[], flannelDel: [] as number[], bridgeAdd: [] as number[], bridgeDel: [] as number[], flannelVersion: [] as number[], bridgeVersion: [] as number[], nodeStart: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    const id = `r${i}`;
    samples.flannelAdd.push(await timed({ ...base, plugin: flannel, command: 'ADD', containerId: id, config: flannelConf }));
    samples.flannelDel.push(await timed({ ...base, plugin: flannel, command: 'DEL', containerId: id, config: flannelConf }));
    samples.bridgeAdd.push(await timed({ ...base, plugin: BRIDGE, command: 'ADD', containerId: id, config: delegateConfig }));
    samples.bridgeDel.push(await timed({ ...base, plugin: BRIDGE, command: 'DEL', containerId: id, config: delegateConfig }));
    samples.flannelVersion.push(await timed({ ...base, plugin: flannel, command: 'VERSION', containerId: id, config: {} }));
    samples.bridgeVersion.push(await timed({ ...base, plugin: BRIDGE, command: 'VERSION', containerId: id, config: {} }));
    // node with an empty program on stdin: Node's start alone.
    samples.nodeStart.push(await timed({ ...base, plugin: process.execPath, command: 'VERSION', containerId: id, config: '' }));
  }
  const bundleKiB = (await stat(BUNDLE)).size / 1024;

  const ms = (values: number[]) => `${round(median(values), 1)} ms (p90 ${round(percentile(values, 90), 1)})`;
  const ratio = (a: number[], b: number[]) => `${round(median(a) / median(b))}x`;
  const extra = (a: number[], b: number[]) => `+${round(median(a) - median(b), 1)} ms`;
  await saveReport({
    name: 'cni',
    title: 'CNI plugin: ADD/DEL latency of `flannel` vs calling `bridge` directly with the same delegate config',
    rows: [
      [`CNI ADD (container on cni0, host-local address), median of ${ROUNDS}`, ms(samples.flannelAdd), `${ms(samples.bridgeAdd)} (bridge ADD, same delegate config)`, ratio(samples.flannelAdd, samples.bridgeAdd), `${extra(samples.flannelAdd, samples.bridgeAdd)}: node start, bundle load, subnet.env, saved config, one more exec`],
      [`CNI DEL, median of ${ROUNDS}`, ms(samples.flannelDel), `${ms(samples.bridgeDel)} (bridge DEL)`, ratio(samples.flannelDel, samples.bridgeDel), `${extra(samples.flannelDel, samples.bridgeDel)}; reads and removes the saved config`],
      [`plugin start-up (CNI VERSION), median of ${ROUNDS}`, ms(samples.flannelVersion), `${ms(samples.bridgeVersion)} (bridge VERSION, Go)`, ratio(samples.flannelVersion, samples.bridgeVersion), `one bundled file of ${round(bundleKiB, 0)} KiB; loads no etcd3, grpc, prom-client or koffi`],
      [`plugin start-up vs Node's own start, median of ${ROUNDS}`, ms(samples.flannelVersion), `${ms(samples.nodeStart)} (node, empty program)`, ratio(samples.flannelVersion, samples.nodeStart), `${extra(samples.flannelVersion, samples.nodeStart)}: loading and running the bundle`],
    ],
    raw: { rounds: ROUNDS, bundleBytes: Math.round(bundleKiB * 1024), samples },
  });
}

await main();
