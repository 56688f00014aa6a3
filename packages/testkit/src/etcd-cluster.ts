/**
 * A real multi-member etcd cluster for tests: each member on free ports of 127.0.0.1 plus its own unix socket,
 * so clients in any namespace can reach every member. Members can be killed and restarted one by one.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { etcdBinary } from './etcd.js';
import { freePort } from './ports.js';
import { spawnTracked, stopProcess } from './processes.js';
import { waitFor } from './wait.js';

export interface EtcdMember {
  readonly name: string;
  readonly endpoint: string;
  readonly localEndpoint: string;
  readonly running: boolean;
  stop(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

export interface EtcdCluster extends AsyncDisposable {
  readonly members: readonly EtcdMember[];
  /** Every member's unix-socket endpoint. */
  readonly localEndpoints: readonly string[];
}

export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  const binary = etcdBinary();
  const base = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
  const root = await mkdtemp(join(base, 'flannel-ts-etcd-cluster-'));
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), peer: await freePort() })));
  const names = ports.map((_, i) => `m${i + 1}`);
  const initialCluster = names.map((name, i) => `${name}=http://127.0.0.1:${ports[i]!.peer}`).join(',');
  const children: Array<ChildProcess | undefined> = names.map(() => undefined);
  let firstStart = true;

  const members: EtcdMember[] = names.map((name, i) => {
    const dir = join(root, name);
    const endpoint = `http://127.0.0.1:${ports[i]!.client}`;
    const socket = join(root, `${name}.sock:0`);
    const args = () => [
      '--name', name,
      '--data-dir', join(dir, 'data'),
      '--listen-client-urls', `${endpoint},unix://${name}.sock:0`,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${ports[i]!.peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${ports[i]!.peer}`,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', firstStart ? 'new' : 'existing',
      '--initial-cluster-token', root,
      '--heartbeat-interval', '50',
      '--election-timeout', '500',
      '--log-level', 'error',
    ];
    const member: EtcdMember = {
      name,
      endpoint,
      localEndpoint: `unix://${socket}`,
      get running() {
        const child = children[i];
        return child !== undefined && child.exitCode === null && child.signalCode === null;
      },
      async start() {
        if (member.running) return;
        // A killed member leaves its unix socket behind; etcd would fail to listen on it.
        await rm(socket, { force: true });
        children[i] = spawnTracked(binary, args(), { cwd: root });
      },
      async stop(signal: NodeJS.Signals = 'SIGTERM') {
        const child = children[i];
        if (child) await stopProcess(child, signal);
      },
    };
    return member;
  });

  const healthy = (socketPath: string) =>
    new Promise<boolean>((resolve) => {
      const req = httpRequest({ socketPath, path: '/health', timeout: 1000 }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(res.statusCode === 200 && body.includes('"true"')));
      });
      req.on('error', () => resolve(false));
      req.end();
    });

  const cluster: EtcdCluster = {
    members,
    localEndpoints: members.map((m) => m.localEndpoint),
    async [Symbol.asyncDispose]() {
      await Promise.all(children.filter((c) => c !== undefined).map((c) => stopProcess(c, 'SIGKILL')));
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(members.map((m) => m.start()));
    firstStart = false;
    await waitFor(async () => (await Promise.all(members.map((m) => healthy(m.localEndpoint.slice('unix://'.length))))).every(Boolean), { timeoutMs: 20_000, what: 'etcd cluster healthy' });
  } catch (err) {
    await cluster[Symbol.asyncDispose]();
    throw err;
  }
  return cluster;
}
