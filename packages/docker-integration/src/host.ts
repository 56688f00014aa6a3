/**
 * Everything setupDocker reads from or does to the host, behind one interface so the flow is tested with a fake:
 * routes and docker0 (through HostNetwork, @flannel-ts/host-net: the one way to the kernel), dockerd's command
 * line (/proc), systemd (`systemctl`), and the restart itself.
 */
import { execFile } from 'node:child_process';
import { access, readFile, readdir } from 'node:fs/promises';
import { basename } from 'node:path';
import { HostCommandError, type HostNetwork } from '@flannel-ts/core';
import { createHostNetwork } from '@flannel-ts/host-net';
import type { RouteInfo } from './routes.js';

export interface BridgeAddress {
  readonly family: 4 | 6;
  /** `10.1.74.1/24` */
  readonly cidr: string;
}

export interface BridgeState {
  readonly name: string;
  readonly mtu: number;
  readonly addresses: readonly BridgeAddress[];
  /** Interfaces attached to the bridge (container veths). */
  readonly ports: number;
}

export interface ProcessInfo {
  readonly pid: number;
  readonly argv: readonly string[];
}

export type RestartMethod =
  | { readonly kind: 'systemd'; readonly unit: string }
  | { readonly kind: 'command'; readonly command: string }
  | { readonly kind: 'none'; readonly why: 'asked' | 'no-systemd' };

export interface DockerHostOps {
  /** The main table's IPv4 routes. */
  routes(): Promise<RouteInfo[]>;
  /** The bridge's addresses, MTU and port count; undefined when it does not exist. */
  bridge(name: string): Promise<BridgeState | undefined>;
  deleteAddress(device: string, cidr: string): Promise<void>;
  setMtu(device: string, mtu: number): Promise<void>;
  /** The dockerd whose PID is in the pidfile, if that process runs and is a dockerd. */
  runningDockerd(pidfile: string): Promise<ProcessInfo | undefined>;
  /** True when systemd is the init system (`/run/systemd/system` exists, as sd_booted() checks). */
  systemdRunning(): Promise<boolean>;
  /** The unit's ExecStart command line, as `systemctl show` gives it; undefined when unknown. */
  unitExecStart(unit: string): Promise<string | undefined>;
  /** Runs the restart; resolves with its output, rejects with HostCommandError. */
  restart(method: RestartMethod, timeoutMs: number): Promise<string>;
  /** Running flanneld processes (for a helpful message when subnet.env does not appear). */
  flanneldProcesses(): Promise<ProcessInfo[]>;
}

export type CommandRunner = (command: string, args: readonly string[], options: { timeoutMs: number }) => Promise<string>;

export interface HostOpsOptions {
  /** Routes, links and addresses; default the host's own (createHostNetwork()). */
  readonly network?: HostNetwork;
  /** Runs systemctl and the restart command; default execFile. Tests wrap it to run inside a network namespace. */
  readonly run?: CommandRunner;
  readonly procRoot?: string;
  readonly systemdDir?: string;
}

export const runCommand: CommandRunner = (command, args, { timeoutMs }) =>
  new Promise((resolve, reject) => {
    execFile(command, [...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = typeof err.code === 'number' ? err.code : null;
      const why = err.killed ? `timed out after ${timeoutMs / 1000} s` : stderr.trim() || err.message;
      reject(new HostCommandError([command, ...args].join(' '), code, stderr, `${command} ${args.join(' ')} failed: ${why}`));
    });
  });

const SYSTEMCTL_TIMEOUT_MS = 10_000;

export function createHostOps(options: HostOpsOptions = {}): DockerHostOps {
  const run = options.run ?? runCommand;
  const network = options.network ?? createHostNetwork();
  const proc = options.procRoot ?? '/proc';

  const commandLine = async (pid: number): Promise<string[] | undefined> => {
    try {
      const raw = await readFile(`${proc}/${pid}/cmdline`, 'utf8');
      const argv = raw.split('\0');
      if (argv.at(-1) === '') argv.pop();
      return argv.length > 0 ? argv : undefined;
    } catch {
      return undefined;
    }
  };

  return {
    async routes() {
      return network.routes({ family: 4 });
    },
    async bridge(name) {
      const links = await network.links();
      const link = links.find((l) => l.name === name);
      if (!link) return undefined;
      return {
        name: link.name,
        mtu: link.mtu,
        addresses: link.addresses.map((a) => ({ family: a.family, cidr: `${a.address}/${a.prefixLength}` })),
        ports: links.filter((l) => l.master === name).length,
      };
    },
    async deleteAddress(device, cidr) {
      await network.apply([{ kind: 'address', action: 'delete', dev: device, cidr }]);
    },
    async setMtu(device, mtu) {
      await network.apply([{ kind: 'link', name: device, mtu }]);
    },
    async runningDockerd(pidfile) {
      let pid: number;
      try {
        pid = Number((await readFile(pidfile, 'utf8')).trim());
      } catch {
        return undefined;
      }
      if (!Number.isInteger(pid) || pid <= 0) return undefined;
      const argv = await commandLine(pid);
      if (!argv || !basename(argv[0] ?? '').startsWith('dockerd')) return undefined;
      return { pid, argv };
    },
    async systemdRunning() {
      try {
        await access(options.systemdDir ?? '/run/systemd/system');
        return true;
      } catch {
        return false;
      }
    },
    async unitExecStart(unit) {
      try {
        const text = await run('systemctl', ['show', '--property=ExecStart', '--value', unit], { timeoutMs: SYSTEMCTL_TIMEOUT_MS });
        // `{ path=/usr/sbin/dockerd ; argv[]=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS ; ignore_errors=no ; ... }`
        const argv = /argv\[\]=([^;]*)/.exec(text)?.[1]?.trim();
        return argv || undefined;
      } catch {
        return undefined;
      }
    },
    async restart(method, timeoutMs) {
      if (method.kind === 'systemd') return run('systemctl', ['restart', method.unit], { timeoutMs });
      if (method.kind === 'command') return run('sh', ['-c', method.command], { timeoutMs });
      return '';
    },
    async flanneldProcesses() {
      const entries = await readdir(proc).catch(() => [] as string[]);
      const found: ProcessInfo[] = [];
      for (const entry of entries) {
        if (!/^\d+$/.test(entry)) continue;
        const argv = await commandLine(Number(entry));
        if (argv && argv.slice(0, 2).some((arg) => basename(arg) === 'flanneld' || /flanneld\/dist\/main\.js$/.test(arg))) {
          found.push({ pid: Number(entry), argv });
        }
      }
      return found;
    },
  };
}
