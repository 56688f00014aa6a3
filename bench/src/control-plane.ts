/**
 * Control-plane benchmark (issue: control plane):
 * 1. time from `flanneld` start to subnet.env written, median of several runs, for a new host and for a restart
 *    (lease reuse); baseline: a bare Node process that starts and writes a file (the floor any Node daemon pays);
 * 2. leases acquired per second by many agents at once; baseline: the same number of create-if-absent
 *    transactions sent straight to etcd at the same concurrency (the store's own ceiling).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNetworkConfig } from '@flannel-ts/core';
import { EtcdRegistry, LeaseManager, connectEtcd } from '@flannel-ts/lease-manager';
import { createTempDir, silentLoggerForBench, startEtcd } from './fixtures.js';
import { saveReport } from './report.js';
import { median, round } from './stats.js';

const FLANNELD = fileURLToPath(new URL('../../bin/flanneld', import.meta.url));
const RUNS = Number(process.env['BENCH_RUNS'] ?? 7);
const AGENTS = Number(process.env['BENCH_AGENTS'] ?? 200);
const CLIENTS = 10;

/** Spawns a command and resolves with ms until `file` exists (polled every 1 ms), then kills it. */
async function timeUntilFile(command: string, args: string[], file: string): Promise<number> {
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
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
    child.kill('SIGTERM');
    const exited = new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    const timer = setTimeout(() => {
      process.stderr.write(`${command} did not stop within 5 s of SIGTERM; killing it\n${stderr}\n`);
      child.kill('SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(timer);
  }
}

async function main() {
  await using etcd = await startEtcd();
  await using dir = await createTempDir();
  const client = connectEtcd({ endpoints: [etcd.endpoint] });
  await client.put('/coreos.com/network/config').value('{"Network":"10.0.0.0/12","Backend":{"Type":"alloc"}}').exec();

  // 1. start -> subnet.env
  const fresh: number[] = [];
  const restart: number[] = [];
  const floor: number[] = [];
  const clientFloor: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    // No firewall rules: this flanneld runs in the machine's own namespace.
    const args = (file: string) => [`--etcd-endpoints=${etcd.endpoint}`, '--iface=lo', `--public-ip=192.0.2.${run + 1}`, `--subnet-file=${file}`, '--iptables-forward-rules=false'];
    fresh.push(await timeUntilFile(FLANNELD, args(join(dir.path, `fresh-${run}.env`)), join(dir.path, `fresh-${run}.env`)));
    restart.push(await timeUntilFile(FLANNELD, args(join(dir.path, `again-${run}.env`)), join(dir.path, `again-${run}.env`)));
    const target = join(dir.path, `floor-${run}`);
    floor.push(await timeUntilFile(process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(target)}, 'x'); setInterval(() => {}, 1000)`], target));
    // The floor of any Node etcd client: load etcd3 (grpc, protobuf), connect, one read, write a file.
    const clientTarget = join(dir.path, `client-floor-${run}`);
    const clientScript = `const { connectEtcd } = await import('@flannel-ts/lease-manager'); const c = connectEtcd({ endpoints: [${JSON.stringify(etcd.endpoint)}] }); await c.get('/coreos.com/network/config').string(); (await import('node:fs')).writeFileSync(${JSON.stringify(clientTarget)}, 'x'); setInterval(() => {}, 1000);`;
    clientFloor.push(await timeUntilFile(process.execPath, ['--input-type=module', '-e', clientScript], clientTarget));
  }

  // 2. many agents acquiring at once
  const config = parseNetworkConfig('{"Network":"10.0.0.0/12"}');
  const clients = Array.from({ length: CLIENTS }, () => connectEtcd({ endpoints: [etcd.endpoint] }));
  await Promise.all(clients.map((c) => c.get('warm').exec()));
  const managers = Array.from({ length: AGENTS }, (_, i) => new LeaseManager({ registry: new EtcdRegistry(clients[i % CLIENTS]!, '/bench/agents'), log: silentLoggerForBench }));
  let started = performance.now();
  const leases = await Promise.all(managers.map((m, i) => m.acquireLease({ config, attrs: { publicIP: `198.51.${100 + Math.floor(i / 250)}.${(i % 250) + 1}` } })));
  const agentsMs = performance.now() - started;
  const distinct = new Set(leases.map((l) => l.key)).size;
  if (distinct !== AGENTS) throw new Error(`expected ${AGENTS} distinct subnets, got ${distinct}`);

  started = performance.now();
  await Promise.all(
    Array.from({ length: AGENTS }, async (_, i) => {
      const c = clients[i % CLIENTS]!;
      const key = `/bench/raw/subnets/10.${i >> 8}.${i & 255}.0-24`;
      const grant = await c.leaseClient.leaseGrant({ TTL: 86400, ID: 0 });
      await c.if(key, 'Create', '==', 0).then(c.put(key).value('{"PublicIP":"198.51.100.1","PublicIPv6":null}').lease(grant.ID)).commit();
    }),
  );
  const rawMs = performance.now() - started;
  for (const c of clients) c.close();
  client.close();

  const m = { fresh: median(fresh), restart: median(restart), floor: median(floor), clientFloor: median(clientFloor) };
  const agentRate = AGENTS / (agentsMs / 1000);
  const rawRate = AGENTS / (rawMs / 1000);
  await saveReport({
    name: 'control-plane',
    title: 'Control plane: flanneld start to subnet.env, concurrent lease acquisition',
    rows: [
      ['flanneld start → subnet.env (new host), median of ' + RUNS, `${round(m.fresh, 1)} ms`, `${round(m.floor, 1)} ms (bare node start + write)`, `${round(m.fresh / m.floor)}x`, 'includes etcd connect, config read, interface lookup, list + txn'],
      ['flanneld start → subnet.env (new host) vs a bare etcd client, median of ' + RUNS, `${round(m.fresh, 1)} ms`, `${round(m.clientFloor, 1)} ms (node + etcd3 load, connect, 1 get, write)`, `${round(m.fresh / m.clientFloor)}x`, 'what flanneld adds over loading an etcd client'],
      ['flanneld start → subnet.env (restart, lease reuse), median of ' + RUNS, `${round(m.restart, 1)} ms`, `${round(m.floor, 1)} ms`, `${round(m.restart / m.floor)}x`, ''],
      [`leases acquired/s, ${AGENTS} agents at once`, `${round(agentRate, 0)}/s`, `${round(rawRate, 0)}/s (raw grant + create txn)`, `${round(agentRate / rawRate)}x`, `all ${AGENTS} subnets distinct; each agent lists, plans, and retries lost races`],
    ],
    raw: { fresh, restart, floor, clientFloor, agents: AGENTS, clients: CLIENTS, agentsMs, rawMs },
  });
}

await main();
