/**
 * Real Docker on the lab's hosts: one dockerd (Debian docker.io 20.10) per host, inside the host's network
 * namespace, each with its own data root, exec root, pidfile, API socket, daemon.json and cgroup parent, so two
 * engines run side by side on one machine (techniques of shared/lab/docker-two-hosts.sh).
 *
 *   host i   dockerd -H unix://<dir>/docker.sock --config-file <dir>/daemon.json ... [$DOCKER_OPTS]
 *            docker0 from dockerd (first on Docker's default 172.17.0.1/16, until flannel-docker-setup moves it)
 *            FORWARD accepts the flannel network (what flannel's FLANNEL-FWD chain does; dockerd sets the
 *            FORWARD policy to DROP, and flanneld here does not install firewall rules yet)
 *
 * Restarting works as on a host without systemd: flannel-docker-setup gets `--restart-command`, a small script
 * that asks this process (over a unix socket) to stop that host's dockerd and start it again, the way a systemd
 * unit would: in env-file mode with the env file's $DOCKER_OPTS as flags (the deploy/ drop-in), in daemon.json
 * mode with no flags. dockerd stays a child of this process (killed with it, by pdeathsig), is stopped by PID,
 * and dispose removes containers first (a running `sleep` makes dockerd's shutdown take 13 s), then anything
 * left under the host's directory: containerd and shims by PID, mounts, cgroups.
 *
 * The image is busybox-static with every applet linked, brought in with `docker import` (no registry here).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, rmdir, symlink, copyFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseDotenv } from '@flannel-ts/subnet-env';
import { run, startDaemon, stopProcess, waitFor, type DaemonProcess } from '@flannel-ts/testkit';
import { BIN, type Lab, type LabHost } from './lab.js';

export const DOCKER_IMAGE = 'flannel-lab/busybox:1';
export const FLANNEL_DOCKER_SETUP = join(dirname(BIN.flanneld), 'flannel-docker-setup');

const DOCKERD = '/usr/sbin/dockerd';
/** Debian's CLI matches the daemon; a newer one in PATH also works (API version negotiation). */
const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const BUSYBOX = '/bin/busybox';
const PATH = `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
/** dockerd stops in about 2-3 s; a container that ignores SIGTERM makes it 13 s. */
const STOP_GRACE_MS = 20_000;
const READY_TIMEOUT_MS = 30_000;

export type DockerOptionsMode = 'env-file' | 'daemon-json';

export interface DockerLabOptions {
  /** How dockerd takes flannel's options: the env file's $DOCKER_OPTS as flags, or daemon.json. */
  readonly mode: DockerOptionsMode;
  /** The flannel network (CIDR): forwarded between docker0 and the overlay. */
  readonly network: string;
  /** Default: every host of the lab. */
  readonly hosts?: readonly LabHost[];
  readonly say?: (line: string) => void;
}

export interface SetupRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface LabDockerHost {
  readonly host: LabHost;
  readonly mode: DockerOptionsMode;
  readonly dir: string;
  /** `unix:///.../docker.sock` */
  readonly dockerHost: string;
  readonly pidfile: string;
  readonly daemonJson: string;
  /** The env file flannel-docker-setup writes in env-file mode (dockerd is restarted with its $DOCKER_OPTS). */
  readonly optsFile: string;
  /** What flannel-docker-setup runs to restart this host's dockerd. */
  readonly restartCommand: string;
  /** dockerd starts through the restart command so far. */
  readonly restarts: number;
  /** The running dockerd's PID. */
  pid(): number | undefined;
  /** The flags of the running dockerd (after the common ones). */
  flags(): readonly string[];
  /** dockerd's log output (all runs). */
  log(): string;
  /** The docker CLI against this host's daemon; resolves with stdout. */
  docker(args: readonly string[], options?: { timeoutMs?: number }): Promise<string>;
  /** `docker run -d --name NAME <image> ARGS...` */
  runContainer(name: string, args: readonly string[]): Promise<void>;
  containerIp(name: string): Promise<string>;
  /** flannel-docker-setup's arguments for this host (paths, socket, restart command, mode). */
  setupArgs(): string[];
  /** Runs bin/flannel-docker-setup inside the host's network namespace with setupArgs() and more; never throws. */
  setup(extraArgs?: readonly string[]): Promise<SetupRun>;
  /** The same with exactly these arguments. */
  runSetup(args: readonly string[]): Promise<SetupRun>;
}

export interface DockerLab extends AsyncDisposable {
  readonly hosts: LabDockerHost[];
  readonly image: string;
}

/** Why Docker cannot run in the lab here, or undefined when it can. */
export function dockerUnavailable(): string | undefined {
  for (const [path, pkg] of [
    [DOCKERD, 'docker.io'],
    ['/usr/bin/containerd', 'docker.io'],
    [BUSYBOX, 'busybox-static'],
    ['/usr/bin/nsenter', 'util-linux'],
  ] as const) {
    if (!existsSync(path)) return `${path} is missing: install ${pkg} (scripts/setup.sh does)`;
  }
  return undefined;
}

export async function startDockerLab(lab: Lab, options: DockerLabOptions): Promise<DockerLab> {
  const missing = dockerUnavailable();
  if (missing) throw new Error(`cannot run Docker in the lab: ${missing}`);
  const say = options.say ?? (() => undefined);
  await sweepStaleDocker();

  const controlSocket = join(lab.dir, 'docker-control.sock');
  const restartScript = join(lab.dir, 'restart-dockerd.mjs');
  const cliConfig = join(lab.dir, 'docker-cli');
  await mkdir(cliConfig, { recursive: true });
  await writeFile(restartScript, RESTART_CLIENT);
  const imageTar = await buildBusyboxImage(lab.dir);

  const members: DockerMember[] = (options.hosts ?? lab.hosts).map((host, i) => createMember(host, i, { lab, options, controlSocket, restartScript, cliConfig }));
  const server = await serveRestarts(controlSocket, members);
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    server.close();
    await Promise.all(members.map((m) => m.dispose()));
  };
  try {
    await Promise.all(
      members.map(async (member) => {
        await member.prepare();
        await member.start();
        await member.public.docker(['import', imageTar, DOCKER_IMAGE]);
        say(`host ${member.public.host.index}: dockerd pid ${member.public.pid()} on ${member.public.dockerHost}, docker0 ${await member.bridgeAddress()}`);
      }),
    );
  } catch (err) {
    await dispose();
    throw err;
  }
  return { hosts: members.map((m) => m.public), image: DOCKER_IMAGE, [Symbol.asyncDispose]: dispose };
}

interface DockerMember {
  readonly public: LabDockerHost;
  prepare(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  bridgeAddress(): Promise<string>;
  dispose(): Promise<void>;
}

function createMember(
  host: LabHost,
  index: number,
  shared: { lab: Lab; options: DockerLabOptions; controlSocket: string; restartScript: string; cliConfig: string },
): DockerMember {
  const { mode, network } = shared.options;
  // The host's name (ft<pid>x<n>h<i>) is in every path, so leftovers of a dead run can be found (sweepStaleDocker).
  const dir = join(shared.lab.dir, `${host.name}-docker`);
  const socket = join(dir, 'docker.sock');
  const pidfile = join(dir, 'docker.pid');
  const daemonJson = join(dir, 'daemon.json');
  const optsFile = join(dir, 'docker_opts.env');
  const cgroupParent = `/${host.name}-docker`;
  const restartCommand = [process.execPath, shared.restartScript, shared.controlSocket, String(index)].map(shellWord).join(' ');
  let dockerd: DaemonProcess | undefined;
  let flags: string[] = [];
  let log = '';
  let restarts = 0;

  const docker = async (args: readonly string[], opts: { timeoutMs?: number } = {}) => {
    const env = { ...process.env, PATH, DOCKER_CONFIG: shared.cliConfig, DOCKER_CLI_HINTS: 'false' };
    return runWithEnv(DOCKER_CLI, ['-H', `unix://${socket}`, ...args], env, opts.timeoutMs ?? 60_000);
  };

  const start = async () => {
    flags = mode === 'env-file' && existsSync(optsFile) ? (parseDotenv(await readFile(optsFile, 'utf8'))['DOCKER_OPTS'] ?? '').split(/\s+/).filter(Boolean) : [];
    const args = [
      `--net=/run/netns/${host.name}`,
      DOCKERD,
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '--pidfile', pidfile,
      '-H', `unix://${socket}`,
      '--config-file', daemonJson,
      '--cgroup-parent', cgroupParent,
      ...flags,
    ];
    const started = startDaemon('/usr/bin/nsenter', args, { env: { ...process.env, PATH } });
    dockerd = started;
    try {
      await waitFor(
        async () => {
          if (started.child.exitCode !== null) throw new Error(`dockerd exited (${started.child.exitCode})`);
          return (await ping(socket)) || undefined;
        },
        { timeoutMs: READY_TIMEOUT_MS, intervalMs: 100, what: `dockerd on host ${host.index}` },
      );
    } catch (err) {
      log += started.output();
      throw new Error(`dockerd on host ${host.index} did not start: ${(err as Error).message}\n${tail(started.output())}`, { cause: err });
    }
  };

  const stop = async () => {
    const current = dockerd;
    dockerd = undefined;
    if (!current) return;
    await stopProcess(current.child, 'SIGTERM', STOP_GRACE_MS);
    log += current.output();
  };

  const member: DockerMember = {
    public: {
      host,
      mode,
      dir,
      dockerHost: `unix://${socket}`,
      pidfile,
      daemonJson,
      optsFile,
      restartCommand,
      get restarts() {
        return restarts;
      },
      pid: () => dockerd?.pid,
      flags: () => flags,
      log: () => log + (dockerd?.output() ?? ''),
      docker,
      async runContainer(name, args) {
        await docker(['run', '-d', '--name', name, DOCKER_IMAGE, ...args]);
      },
      async containerIp(name) {
        return (await docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', name])).trim();
      },
      setupArgs() {
        return [
          `--subnet-file=${host.subnetFile}`,
          '--wait=30',
          `--docker-host=unix://${socket}`,
          `--docker-pidfile=${pidfile}`,
          `--daemon-json-file=${daemonJson}`,
          `--restart-command=${restartCommand}`,
          '--verify-timeout=60',
          ...(mode === 'env-file' ? [`--opts-file=${optsFile}`] : ['--daemon-json']),
        ];
      },
      setup(extraArgs = []) {
        return member.public.runSetup([...member.public.setupArgs(), ...extraArgs]);
      },
      async runSetup(args) {
        const started = Date.now();
        const result = await spawnCollect('/usr/bin/nsenter', [`--net=/run/netns/${host.name}`, FLANNEL_DOCKER_SETUP, ...args], 180_000);
        return { ...result, ms: Date.now() - started };
      },
    },
    async prepare() {
      await mkdir(dir, { recursive: true });
      // Never /etc/docker/daemon.json; a key of its own shows that merging keeps the others.
      await writeFile(daemonJson, '{\n  "log-level": "warn"\n}\n');
      for (const flag of ['-s', '-d']) await host.exec('iptables', ['-A', 'FORWARD', flag, network, '-j', 'ACCEPT']);
    },
    start,
    async restart() {
      await stop();
      restarts += 1;
      await start();
    },
    async bridgeAddress() {
      const links = await host.ipJson<Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>>(['-4', 'addr', 'show', 'docker0']);
      return links[0]?.addr_info.map((a) => `${a.local}/${a.prefixlen}`).join(',') ?? 'none';
    },
    async dispose() {
      if (dockerd) {
        const ids = (await docker(['ps', '-aq'], { timeoutMs: 20_000 }).catch(() => '')).split('\n').filter(Boolean);
        if (ids.length > 0) await docker(['rm', '-f', ...ids], { timeoutMs: 60_000 }).catch(() => undefined);
      }
      await stop().catch(() => undefined);
      await cleanUpUnder(dir, cgroupParent);
    },
  };
  return member;
}

/** The lab side of `--restart-command`: one line `restart <index>` in, `ok` or `error: ...` out. */
async function serveRestarts(path: string, members: readonly DockerMember[]): Promise<Server> {
  const server = createServer((socket) => {
    let line = '';
    socket.on('data', (chunk) => {
      line += chunk.toString();
      if (!line.includes('\n')) return;
      const member = members[Number(/^restart (\d+)/.exec(line)?.[1] ?? -1)];
      if (!member) return void socket.end(`error: unknown request ${JSON.stringify(line.trim())}\n`);
      member.restart().then(
        () => socket.end('ok\n'),
        (err: Error) => socket.end(`error: ${err.message}\n`),
      );
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
  return server;
}

const RESTART_CLIENT = `// Restarts one lab host's dockerd (flannel-docker-setup --restart-command); written by packages/lab/src/docker.ts.
import { connect } from 'node:net';
const [path, index] = process.argv.slice(2);
let reply = '';
const socket = connect(path, () => socket.write('restart ' + index + '\\n'));
socket.on('data', (chunk) => (reply += chunk));
socket.on('error', (err) => { process.stderr.write('cannot reach the lab at ' + path + ': ' + err.message + '\\n'); process.exit(1); });
socket.on('close', () => {
  if (reply.startsWith('ok')) process.exit(0);
  process.stderr.write(reply || 'the lab closed the connection\\n');
  process.exit(1);
});
`;

/** busybox-static plus a link per applet, as a tar for `docker import`. */
async function buildBusyboxImage(labDir: string): Promise<string> {
  const rootfs = join(labDir, 'busybox-rootfs');
  const tar = join(labDir, 'busybox.tar');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await copyFile(BUSYBOX, join(rootfs, 'bin', 'busybox'));
  const applets = (await run(BUSYBOX, ['--list'])).split('\n').filter((a) => a !== '' && a !== 'busybox');
  await Promise.all(applets.map((applet) => symlink('busybox', join(rootfs, 'bin', applet))));
  for (const d of ['tmp', 'etc']) await mkdir(join(rootfs, d), { recursive: true });
  await run('tar', ['-C', rootfs, '-cf', tar, '.']);
  await rm(rootfs, { recursive: true, force: true });
  return tar;
}

/** GET /_ping over the socket: true when the daemon answers OK. */
function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'OK'));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function spawnCollect(command: string, args: readonly string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH } });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function runWithEnv(command: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`docker ${args.slice(2).join(' ')} failed (${code}): ${stderr.trim() || stdout.trim()}`);
  return stdout;
}

/** A word for `sh -c`: as it is when it needs no quoting. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function tail(text: string, lines = 15): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

// ---- leftovers ----------------------------------------------------------------------------------------------

const OWNED = /\/(ft(\d+)x\d+h\d+)-docker(?:\/|\s|\0|$)/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes (by PID) whose command line mentions `marker`, other than this one. */
async function processesMentioning(test: (cmdline: string) => boolean): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline && test(cmdline)) pids.push(Number(entry));
  }
  return pids;
}

async function mountsMatching(test: (mountPoint: string) => boolean): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const points = text
    .split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((p): p is string => p !== undefined && test(p));
  // Deepest first.
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

async function removeCgroups(parent: string): Promise<void> {
  const controllers = await readdir('/sys/fs/cgroup').catch(() => [] as string[]);
  for (const controller of controllers) {
    const root = join('/sys/fs/cgroup', controller, parent);
    if (!existsSync(root)) continue;
    const removeTree = async (path: string): Promise<void> => {
      const children = await readdir(path, { withFileTypes: true }).catch(() => []);
      for (const child of children) if (child.isDirectory()) await removeTree(join(path, child.name));
      await rmdir(path).catch(() => undefined);
    };
    await removeTree(root);
  }
}

/** Kills what is left of one host's Docker (containerd, shims), unmounts under its directory, removes its cgroups. */
async function cleanUpUnder(dir: string, cgroupParent: string): Promise<void> {
  for (const pid of await processesMentioning((cmdline) => cmdline.includes(`${dir}/`) || cmdline.includes(`${dir}\0`))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  for (const point of await mountsMatching((p) => p === dir || p.startsWith(`${dir}/`))) {
    await run('umount', ['-l', point]).catch(() => undefined);
  }
  await removeCgroups(cgroupParent);
}

/**
 * Removes what lab Docker hosts of dead test processes left behind (their PID is in every path): dockerd,
 * containerd and shims are killed by PID, their mounts unmounted, their cgroups removed.
 */
export async function sweepStaleDocker(): Promise<void> {
  const dead = (text: string) => {
    const match = OWNED.exec(text);
    return match !== null && !alive(Number(match[2]));
  };
  for (const pid of await processesMentioning(dead)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  for (const point of await mountsMatching(dead)) await run('umount', ['-l', point]).catch(() => undefined);
  // Their directories (images, container layers) inside lab temp dirs.
  for (const labDir of (await readdir(tmpdir()).catch(() => [] as string[])).filter((name) => name.startsWith('flannel-lab-'))) {
    for (const name of await readdir(join(tmpdir(), labDir)).catch(() => [] as string[])) {
      const path = join(tmpdir(), labDir, name);
      if (dead(`${path}/`)) await rm(path, { recursive: true, force: true }).catch(() => undefined);
    }
  }
  const controllers = await readdir('/sys/fs/cgroup').catch(() => [] as string[]);
  const parents = new Set<string>();
  for (const controller of controllers) {
    for (const name of await readdir(join('/sys/fs/cgroup', controller)).catch(() => [] as string[])) {
      const match = /^(ft(\d+)x\d+h\d+)-docker$/.exec(name);
      if (match && !alive(Number(match[2]))) parents.add(`/${name}`);
    }
  }
  for (const parent of parents) await removeCgroups(parent);
}
