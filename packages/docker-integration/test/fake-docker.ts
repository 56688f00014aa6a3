/**
 * A simulated host with a dockerd, for setupDocker's flow: restarting reads the options the way dockerd would
 * (the env file's combined variable as flags, or daemon.json), re-addresses the bridge and records every call.
 */
import { readFileSync } from 'node:fs';
import { parseDotenv } from '@flannel-ts/subnet-env';
import type { BridgeState, DockerApi, DockerHostOps, ProcessInfo, RestartMethod, RouteInfo } from '../src/index.js';

export interface DockerdConfig {
  readonly bip?: string | undefined;
  readonly mtu?: number | undefined;
  readonly ipMasq?: boolean | undefined;
}

export interface FakeDockerOptions {
  /** How dockerd gets its options when restarted. */
  readonly reads?: { kind: 'env-file'; path: string; key: string } | { kind: 'daemon-json'; path: string } | { kind: 'nothing' };
  readonly running?: DockerdConfig | false;
  readonly routes?: RouteInfo[];
  readonly dockerdArgv?: string[];
  readonly flanneld?: ProcessInfo[];
  readonly restartFails?: string;
  readonly systemd?: boolean;
  readonly unitExecStart?: string;
}

export interface FakeDocker {
  readonly host: DockerHostOps;
  readonly docker: DockerApi;
  readonly calls: string[];
  restarts: number;
  running: DockerdConfig | false;
  bridge: { mtu: number; addresses: string[]; ports: number } | undefined;
}

export function createFakeDocker(options: FakeDockerOptions = {}): FakeDocker {
  const calls: string[] = [];
  const fake: FakeDocker = {
    calls,
    restarts: 0,
    running: options.running ?? false,
    bridge: undefined,
    host: undefined as unknown as DockerHostOps,
    docker: undefined as unknown as DockerApi,
  };
  const applyBridge = (config: DockerdConfig) => {
    const bip = config.bip ?? '172.17.0.1/16';
    fake.bridge ??= { mtu: 1500, addresses: [], ports: 0 };
    // dockerd adds its address when docker0 has none (it would re-address it anyway; the seed removes the old one).
    if (!fake.bridge.addresses.includes(bip)) fake.bridge.addresses = [...fake.bridge.addresses, bip];
  };
  if (fake.running) applyBridge(fake.running);

  const readConfig = (): DockerdConfig => {
    const reads = options.reads ?? { kind: 'nothing' };
    if (reads.kind === 'env-file') {
      const flags = (parseDotenv(readFileSync(reads.path, 'utf8'))[reads.key] ?? '').split(/\s+/).filter(Boolean);
      const value = (name: string) => flags.find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3);
      const mtu = value('mtu');
      const masq = value('ip-masq');
      return { bip: value('bip'), mtu: mtu === undefined ? undefined : Number(mtu), ipMasq: masq === undefined ? undefined : masq === 'true' };
    }
    if (reads.kind === 'daemon-json') {
      const json = JSON.parse(readFileSync(reads.path, 'utf8')) as Record<string, unknown>;
      return { bip: json['bip'] as string | undefined, mtu: json['mtu'] as number | undefined, ipMasq: json['ip-masq'] as boolean | undefined };
    }
    return fake.running || {};
  };

  const host: DockerHostOps = {
    async routes() {
      calls.push('routes');
      return options.routes ?? [{ dst: 'default', gateway: '192.0.2.1', dev: 'eth0' }];
    },
    async bridge(name): Promise<BridgeState | undefined> {
      if (!fake.bridge) return undefined;
      return {
        name,
        mtu: fake.bridge.mtu,
        ports: fake.bridge.ports,
        addresses: [...fake.bridge.addresses.map((cidr) => ({ family: 4 as const, cidr })), { family: 6 as const, cidr: 'fe80::42:1/64' }],
      };
    },
    async deleteAddress(device, cidr) {
      calls.push(`deleteAddress ${device} ${cidr}`);
      if (fake.bridge) fake.bridge.addresses = fake.bridge.addresses.filter((a) => a !== cidr);
    },
    async setMtu(device, mtu) {
      calls.push(`setMtu ${device} ${mtu}`);
      if (fake.bridge) fake.bridge.mtu = mtu;
    },
    async runningDockerd() {
      return fake.running && options.dockerdArgv ? { pid: 4242, argv: options.dockerdArgv } : undefined;
    },
    async systemdRunning() {
      return options.systemd ?? false;
    },
    async unitExecStart() {
      return options.unitExecStart;
    },
    async restart(method: RestartMethod) {
      calls.push(`restart ${method.kind}`);
      if (options.restartFails) throw new Error(options.restartFails);
      fake.restarts += 1;
      fake.running = readConfig();
      applyBridge(fake.running);
      return '';
    },
    async flanneldProcesses() {
      return options.flanneld ?? [];
    },
  };

  const docker: DockerApi = {
    host: 'unix:///fake/docker.sock',
    async ping() {
      if (!fake.running) throw new Error('connect ENOENT /fake/docker.sock');
    },
    async version() {
      return { version: '20.10.24', apiVersion: '1.41' };
    },
    async bridgeNetwork() {
      const config = fake.running || {};
      const bip = config.bip ?? '172.17.0.1/16';
      const [address = '', length = ''] = bip.split('/');
      const parts = address.split('.').map(Number);
      const bits = Number(length);
      const value = parts.reduce((acc, p) => acc * 256 + p, 0);
      const network = value - (value % 2 ** (32 - bits));
      const text = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.');
      return { bridge: 'docker0', subnet: `${text}/${bits}`, gateway: address, mtu: config.mtu ?? 1500, ipMasq: config.ipMasq ?? true };
    },
  };
  Object.assign(fake, { host, docker });
  return fake;
}
