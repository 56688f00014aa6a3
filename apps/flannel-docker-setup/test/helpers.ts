import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DockerApi, DockerHostOps, RestartMethod, RouteInfo } from '@flannel-ts/docker-integration';
import { parseDotenv } from '@flannel-ts/subnet-env';
import { runCli, type CliDeps } from '../src/index.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs flannel-docker-setup in-process with captured streams. */
export async function run(argv: readonly string[], deps: CliDeps = {}, env: Record<string, string | undefined> = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: { write: (c: string) => (stdout += c) }, stderr: { write: (c: string) => (stderr += c) }, env }, { sleep: async () => undefined, ...deps });
  return { code, stdout, stderr };
}

/** stderr without the info lines (the default log level shows progress; these tests look at the outcome). */
export function withoutInfo(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => !/^\S+Z info /.test(line))
    .join('\n');
}

export interface FakeHost {
  readonly deps: CliDeps;
  readonly calls: string[];
  /** dockerd's current options; undefined: not running. */
  dockerd: { bip?: string; mtu?: number; ipMasq?: boolean } | undefined;
}

/**
 * A host whose dockerd, when restarted, reads the combined variable of `envFile` (or daemon.json) as a systemd
 * drop-in would. The bridge follows dockerd's --bip.
 */
export function fakeHost(options: { envFile?: string; key?: string; daemonJson?: string; systemd?: boolean; routes?: RouteInfo[]; dockerdArgv?: string[] } = {}): FakeHost {
  const calls: string[] = [];
  let bridgeMtu = 1500;
  const fake: FakeHost = { deps: {}, calls, dockerd: {} };
  const flags = () => {
    if (options.daemonJson) {
      const json = JSON.parse(readFileSync(options.daemonJson, 'utf8')) as Record<string, unknown>;
      return { bip: json['bip'] as string, mtu: json['mtu'] as number, ipMasq: json['ip-masq'] as boolean };
    }
    const text = options.envFile && existsSync(options.envFile) ? (parseDotenv(readFileSync(options.envFile, 'utf8'))[options.key ?? 'DOCKER_OPTS'] ?? '') : '';
    const value = (name: string) => text.split(/\s+/).find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3);
    const mtu = value('mtu');
    const masq = value('ip-masq');
    return { ...(value('bip') ? { bip: value('bip')! } : {}), ...(mtu ? { mtu: Number(mtu) } : {}), ...(masq ? { ipMasq: masq === 'true' } : {}) };
  };
  const host: DockerHostOps = {
    routes: async () => options.routes ?? [],
    bridge: async (name) =>
      fake.dockerd ? { name, mtu: bridgeMtu, ports: 0, addresses: [{ family: 4, cidr: fake.dockerd.bip ?? '172.17.0.1/16' }] } : undefined,
    deleteAddress: async (device, cidr) => void calls.push(`ip addr del ${cidr} dev ${device}`),
    setMtu: async (device, mtu) => {
      calls.push(`ip link set ${device} mtu ${mtu}`);
      bridgeMtu = mtu;
    },
    runningDockerd: async () => (fake.dockerd && options.dockerdArgv ? { pid: 99, argv: options.dockerdArgv } : undefined),
    systemdRunning: async () => options.systemd ?? false,
    unitExecStart: async () => undefined,
    restart: async (method: RestartMethod) => {
      calls.push(method.kind === 'systemd' ? `systemctl restart ${method.unit}` : method.kind === 'command' ? `sh -c ${method.command}` : 'none');
      fake.dockerd = flags();
      return '';
    },
    flanneldProcesses: async () => [],
  };
  const docker = (url: string): DockerApi => ({
    host: url,
    ping: async () => {
      if (!fake.dockerd) throw new Error(`connect ENOENT ${url}`);
    },
    version: async () => ({ version: '20.10.24', apiVersion: '1.41' }),
    bridgeNetwork: async () => {
      const bip = fake.dockerd?.bip ?? '172.17.0.1/16';
      const [address = '', length = '24'] = bip.split('/');
      const network = length === '16' ? address.replace(/\.\d+\.\d+$/, '.0.0') : address.replace(/\.\d+$/, '.0');
      return { bridge: 'docker0', subnet: `${network}/${length}`, gateway: address, mtu: fake.dockerd?.mtu ?? 1500, ipMasq: fake.dockerd?.ipMasq ?? true };
    },
  });
  Object.assign(fake, { deps: { host, docker } });
  return fake;
}

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = join(appDir, '..', '..');
export const binPath = join(REPO, 'bin', 'flannel-docker-setup');

/** Fails clearly when dist/ is missing or older than src/ (the spawned bin runs the build). */
export function assertBuilt(): void {
  const main = join(appDir, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error('apps/flannel-docker-setup/dist/main.js is missing: run `pnpm build` first');
  const newest = (dir: string): number =>
    Math.max(...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  if (newest(join(appDir, 'src')) > statSync(main).mtimeMs) throw new Error('apps/flannel-docker-setup/dist is older than src: run `pnpm build` first');
}

/** Runs the real bin/flannel-docker-setup. */
export function spawnBin(argv: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binPath, [...argv], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
