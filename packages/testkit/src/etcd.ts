/**
 * A real etcd server (Debian `etcd-server`) for tests: free ports on 127.0.0.1, data under /dev/shm, tuned to be
 * healthy in about 100 ms. `stop()` and `start()` keep the data and ports, to test reconnection. Disposal kills the
 * process by PID and removes the data directory.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { spawnTracked, stopProcess } from './processes.js';
import { waitFor } from './wait.js';

export interface EtcdServer extends AsyncDisposable {
  /** Client URL, e.g. http://127.0.0.1:41234 (inside `netns` when one was given). */
  readonly endpoint: string;
  /** A unix socket URL for clients in any namespace, e.g. the test process when etcd runs in a lab namespace. */
  readonly localEndpoint: string;
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
  /** Run etcd inside this network namespace (`ip netns exec`), listening on `listenAddress`. */
  readonly netns?: string;
  readonly listenAddress?: string;
  readonly clientPort?: number;
}

export function etcdBinary(): string {
  for (const candidate of ['/usr/bin/etcd', '/usr/local/bin/etcd']) if (existsSync(candidate)) return candidate;
  throw new Error('etcd is not installed: run `apt-get install etcd-server` (the test harness needs a real etcd)');
}

export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdServer> {
  const binary = etcdBinary();
  const base = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
  const dataDir = await mkdtemp(join(base, 'flannel-ts-etcd-'));
  const host = options.listenAddress ?? '127.0.0.1';
  const clientPort = options.clientPort ?? (options.netns ? 2379 : await freePort());
  const peerPort = options.netns ? 2380 : await freePort();
  const scheme = options.scheme ?? 'http';
  const endpoint = `${scheme}://${host}:${clientPort}`;
  const peer = `http://${host}:${peerPort}`;
  // etcd names the socket file after the URL, port included: <dataDir>/etcd.sock:0
  const socketPath = join(dataDir, 'etcd.sock:0');
  const localEndpoint = `unix://${socketPath}`;
  const args = [
    '--name', 'test',
    '--data-dir', join(dataDir, 'data'),
    '--listen-client-urls', `${endpoint},unix://etcd.sock:0`,
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
    localEndpoint,
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
      // A killed etcd leaves its unix socket behind; it would fail to listen on it.
      await rm(socketPath, { force: true });
      const [command, argv] = options.netns ? ['ip', ['netns', 'exec', options.netns, binary, ...args]] : [binary, args];
      child = spawnTracked(command, argv, { cwd: dataDir, env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.env['ETCD_UNSUPPORTED_ARCH'] ?? '' } });
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const started = child;
      await waitFor(
        async () => {
          if (started.exitCode !== null) throw new Error(`etcd exited with ${started.exitCode}: ${output.slice(-2000)}`);
          if (scheme === 'https') return await probeUnix(socketPath);
          return await healthOverUnix(socketPath);
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

/** GET /health over the unix socket (works whatever namespace etcd's TCP listener is in). */
function healthOverUnix(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest({ socketPath, path: '/health', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function probeUnix(socketPath: string): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
