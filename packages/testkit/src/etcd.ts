/**
 * A real etcd server (Debian `etcd-server`) for tests: free ports on 127.0.0.1, data under /dev/shm, tuned to be
 * healthy in about 100 ms. `stop()` and `start()` keep the data and ports, to test reconnection. Disposal kills the
 * process by PID and removes the data directory.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { spawnTracked, stopProcess } from './processes.js';
import { waitFor } from './wait.js';

export interface EtcdServer extends AsyncDisposable {
  /** Client URL, e.g. http://127.0.0.1:41234 */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly dataDir: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  stop(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

export interface EtcdOptions {
  /** Extra etcd flags (e.g. TLS or auth settings). */
  readonly extraArgs?: readonly string[];
  /** Client URL scheme; `https` needs TLS flags in extraArgs. */
  readonly scheme?: 'http' | 'https';
}

export function etcdBinary(): string {
  for (const candidate of ['/usr/bin/etcd', '/usr/local/bin/etcd']) if (existsSync(candidate)) return candidate;
  throw new Error('etcd is not installed: run `apt-get install etcd-server` (the test harness needs a real etcd)');
}

export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdServer> {
  const binary = etcdBinary();
  const base = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
  const dataDir = await mkdtemp(join(base, 'flannel-ts-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const scheme = options.scheme ?? 'http';
  const endpoint = `${scheme}://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 'test',
    '--data-dir', join(dataDir, 'data'),
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `test=${peer}`,
    '--heartbeat-interval', '10',
    '--election-timeout', '100',
    '--log-level', 'error',
    ...(options.extraArgs ?? []),
  ];
  let child: ChildProcess | undefined;
  let output = '';

  const server: EtcdServer = {
    endpoint,
    clientPort,
    dataDir,
    get pid() {
      return child?.pid;
    },
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      if (server.running) return;
      output = '';
      child = spawnTracked(binary, args, { env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.env['ETCD_UNSUPPORTED_ARCH'] ?? '' } });
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const started = child;
      await waitFor(
        async () => {
          if (started.exitCode !== null) throw new Error(`etcd exited with ${started.exitCode}: ${output.slice(-2000)}`);
          if (scheme === 'https') return await probeTcp(clientPort);
          const res = await fetch(`${endpoint}/health`).catch(() => undefined);
          return res?.ok === true;
        },
        { timeoutMs: 15_000, intervalMs: 20, what: `etcd on ${endpoint}` },
      );
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child) await stopProcess(child, signal);
    },
    async [Symbol.asyncDispose]() {
      if (child) await stopProcess(child, 'SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await server.start();
  } catch (err) {
    await server[Symbol.asyncDispose]();
    throw err;
  }
  return server;
}

async function probeTcp(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
