/**
 * setupDocker: puts Docker on this host's flannel subnet, the seed scenario as one idempotent step.
 *
 *   1. wait for subnet.env (flanneld writes it once it holds a lease)
 *   2. Docker's options from it (mk-docker-opts rules), refuse a routing table that already routes the subnet
 *   3. find flag/daemon.json conflicts that would stop dockerd from starting: before anything is written
 *   4. write the env file or merge daemon.json, only when the content changes
 *   5. if the options changed or Docker is not on them: drop docker0's stale address, restart Docker
 *      (systemd, a given command, or not at all), then verify through the daemon and `ip`
 *
 * A second run with the same subnet.env finds everything in place and touches nothing.
 */
import { chown, readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { FlannelError, IpNet, errorMessage, type Logger } from '@flannel-ts/core';
import { writeFileAtomic } from '@flannel-ts/subnet-env';
import { DAEMON_JSON_KEYS, daemonJsonEntries, mergeDaemonJson, parseDaemonJson } from './daemon-json.js';
import { DEFAULT_DAEMON_JSON } from './options.js';
import type { DockerApi, DockerBridgeNetwork } from './docker-api.js';
import { dockerFlags, dockerOptionsFromSubnetEnv, formatDockerOptsFile, type DockerNetworkOptions, type DockerOptsFileFormat } from './docker-opts.js';
import { DockerSetupError } from './errors.js';
import { assertNoFlagConflicts, findFlagConflicts, flagValue, splitCommandLine, type FlagSource } from './flag-conflicts.js';
import type { BridgeState, DockerHostOps, ProcessInfo, RestartMethod } from './host.js';
import { assertNoConflictingRoutes } from './routes.js';
import { waitForSubnetEnv } from './wait.js';

export type DockerOptionsTarget =
  | { readonly kind: 'env-file'; readonly path: string; readonly format: DockerOptsFileFormat }
  /** path: default the running dockerd's --config-file, else /etc/docker/daemon.json. */
  | { readonly kind: 'daemon-json'; readonly path?: string | undefined };

export interface SetupDockerRequest {
  readonly subnetFile: string;
  /** How long to wait for subnet.env; 0 looks once. */
  readonly waitMs: number;
  readonly target: DockerOptionsTarget;
  /**
   * env-file mode: the daemon.json checked for keys that would clash with the flags. Default: the running
   * dockerd's --config-file, else /etc/docker/daemon.json. (daemon-json mode uses target.path.)
   */
  readonly daemonJson?: string | undefined;
  /** false leaves ip-masq out (mk-docker-opts' -m). */
  readonly ipMasq: boolean;
  readonly restart: RestartMethod;
  /** The Linux bridge Docker's default network uses. */
  readonly bridge: string;
  /** Where the running dockerd's PID is (its --pidfile), to read its flags. */
  readonly dockerPidfile: string;
  /** Flags dockerd will be started with that the host cannot show us (e.g. from a DOCKER_OPTS file). */
  readonly dockerdArgs: readonly FlagSource[];
  readonly restartTimeoutMs: number;
  readonly verifyTimeoutMs: number;
}

export interface SetupDockerDeps {
  readonly log: Logger;
  readonly host: DockerHostOps;
  readonly docker: DockerApi;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly signal?: AbortSignal | undefined;
}

/** What Docker looks like, checked through the daemon and `ip`. */
export interface DockerState {
  readonly version: string;
  readonly network: DockerBridgeNetwork;
  readonly bridge: BridgeState | undefined;
}

export interface SetupDockerResult {
  readonly subnetFile: string;
  readonly options: DockerNetworkOptions;
  readonly flags: readonly string[];
  readonly target: { readonly kind: DockerOptionsTarget['kind']; readonly path: string };
  /** True when the env file or daemon.json was (re)written. */
  readonly written: boolean;
  /**
   * `done`: Docker was restarted and verified. `not-needed`: the options and Docker were already in place.
   * `skipped`: a restart is needed (see `pending`) but the restart method is `none`.
   */
  readonly restart: 'done' | 'not-needed' | 'skipped';
  readonly restartMethod: RestartMethod;
  /** Why Docker still needs a restart (restart `skipped`). */
  readonly pending: readonly string[];
  /** Stale addresses removed from the bridge before the restart. */
  readonly removedAddresses: readonly string[];
  /** Set when the bridge MTU was lowered to the flannel MTU (an empty docker0 stays at 1500 on Docker 20.10). */
  readonly bridgeMtuSet: boolean;
  /** Docker's state after the run, when the daemon answered. */
  readonly state: DockerState | undefined;
}

export async function setupDocker(request: SetupDockerRequest, deps: SetupDockerDeps): Promise<SetupDockerResult> {
  const log = deps.log.child('docker-setup');
  const { host } = deps;
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => delay(ms, undefined, deps.signal ? { signal: deps.signal } : {}));

  // 1-2. subnet.env -> options; the routing table must not already route the subnet.
  log.info('waiting for subnet.env', { path: request.subnetFile, timeoutMs: request.waitMs });
  const env = await waitForSubnetEnv(request.subnetFile, request.waitMs, { host, now, sleep, signal: deps.signal, log });
  const options = dockerOptionsFromSubnetEnv(env.variables, { ipMasq: request.ipMasq, source: request.subnetFile });
  if (options.bip === undefined && options.mtu === undefined) {
    throw new DockerSetupError('SUBNET_ENV_INVALID', `${request.subnetFile} has neither FLANNEL_SUBNET nor FLANNEL_MTU: it is not a subnet.env written by flanneld`);
  }
  const flags = dockerFlags(options);
  log.info('docker options', { subnetFile: request.subnetFile, flags: flags.join(' ') });
  const subnet = options.bip === undefined ? undefined : IpNet.parse(options.bip, 4)!.masked();
  if (subnet) assertNoConflictingRoutes(subnet, await host.routes());

  const dockerd = await host.runningDockerd(request.dockerPidfile);
  const dockerdConfigFile = dockerd ? flagValue(dockerd.argv, 'config-file') : undefined;
  const target = resolveTarget(request.target, dockerdConfigFile);
  // 3-4. No flag/daemon.json clash dockerd would refuse; then write, only when the content changes.
  const written =
    target.kind === 'daemon-json'
      ? await writeDaemonJson(target.path, options, dockerd, request, deps, log)
      : await writeEnvFile(target, options, flags, request.daemonJson ?? dockerdConfigFile ?? DEFAULT_DAEMON_JSON, log);

  // 5. Restart only when something changed or Docker is not on the options.
  let before = await readDockerState(request, deps);
  let bridgeMtuSet = false;
  if (before.state && (await alignBridgeMtu(before.state, options, deps))) {
    bridgeMtuSet = true;
    before = await readDockerState(request, deps);
  }
  const stateBefore = before.state;
  const bridgeName = stateBefore?.network.bridge ?? request.bridge;
  const mismatches = stateBefore ? compareDockerState(options, stateBefore, request.bridge) : [`Docker does not answer on ${deps.docker.host} (${before.error})`];
  const pending = [...(written ? [`the options in ${target.path} changed`] : []), ...mismatches];
  const result = {
    subnetFile: request.subnetFile,
    options,
    flags,
    target: { kind: target.kind, path: target.path },
    written,
    restartMethod: request.restart,
  };
  if (pending.length === 0) {
    log.info('docker already runs on the flannel subnet: nothing to restart', { bip: options.bip, mtu: options.mtu });
    return { ...result, restart: 'not-needed', pending: [], removedAddresses: [], bridgeMtuSet, state: stateBefore };
  }
  if (request.restart.kind === 'none') {
    log.info('docker needs a restart to use the options; not restarting', { why: request.restart.why, pending: pending.join('; ') });
    return { ...result, restart: 'skipped', pending, removedAddresses: [], bridgeMtuSet, state: stateBefore };
  }

  const removedAddresses = await removeStaleAddresses(bridgeName, options, deps);
  const method = describeRestart(request.restart);
  log.info('restarting docker', { method, why: pending.join('; ') });
  try {
    await host.restart(request.restart, request.restartTimeoutMs);
  } catch (err) {
    throw new DockerSetupError('RESTART_FAILED', `restarting Docker with ${method} failed: ${errorMessage(err)}`, { cause: err });
  }

  const verified = await verifyDocker(request, target, options, deps, now, sleep);
  bridgeMtuSet ||= verified.bridgeMtuSet;
  log.info('docker verified on the flannel subnet', { bridge: verified.state.bridge?.name, bip: options.bip, mtu: options.mtu, version: verified.state.version });
  return { ...result, restart: 'done', pending, removedAddresses, bridgeMtuSet, state: verified.state };
}

type ResolvedTarget = { readonly kind: 'env-file'; readonly path: string; readonly format: DockerOptsFileFormat } | { readonly kind: 'daemon-json'; readonly path: string };

function resolveTarget(target: DockerOptionsTarget, dockerdConfigFile: string | undefined): ResolvedTarget {
  if (target.kind === 'env-file') return target;
  return { kind: 'daemon-json', path: target.path ?? dockerdConfigFile ?? DEFAULT_DAEMON_JSON };
}

/** daemon.json mode: refuses flags that would clash, merges the keys (other keys, mode and owner kept). */
async function writeDaemonJson(
  path: string,
  options: DockerNetworkOptions,
  dockerd: ProcessInfo | undefined,
  request: SetupDockerRequest,
  deps: SetupDockerDeps,
  log: Logger,
): Promise<boolean> {
  const configFile = dockerd ? flagValue(dockerd.argv, 'config-file') : undefined;
  if (dockerd && configFile !== undefined && resolve(configFile) !== resolve(path)) {
    throw new DockerSetupError(
      'FLAG_CONFLICT',
      `the running dockerd (pid ${dockerd.pid}) reads its settings from ${configFile} (--config-file), not ${path}: write that file instead, or nothing would change`,
    );
  }
  const current = await readExisting(path);
  const merge = mergeDaemonJson(current?.text, options, path);
  const sources: FlagSource[] = [...request.dockerdArgs];
  if (dockerd) sources.push({ label: `the running dockerd (pid ${dockerd.pid})`, args: dockerd.argv.slice(1) });
  if (request.restart.kind === 'systemd') {
    const execStart = await deps.host.unitExecStart(request.restart.unit);
    if (execStart !== undefined) sources.push({ label: `the ExecStart of ${request.restart.unit}.service`, args: splitCommandLine(execStart) });
  }
  const keys = daemonJsonEntries(options).map(([key]) => key);
  assertNoFlagConflicts(
    findFlagConflicts(sources, keys, path),
    "Take those flags off dockerd's command line (a DOCKER_OPTS or a systemd drop-in left from env-file mode?), or use env-file mode instead of daemon.json.",
  );
  if (!merge.changed) return false;
  await writeFileAtomic(path, merge.text, current?.mode ?? 0o644);
  if (current) await chown(path, current.uid, current.gid).catch((err: unknown) => log.warn('could not keep the owner of daemon.json', { path, error: errorMessage(err) }));
  log.info('merged docker options into daemon.json', { path, keys: merge.changedKeys.join(',') });
  return true;
}

/** env-file mode: refuses keys in daemon.json that the flags would clash with, writes mk-docker-opts' file. */
async function writeEnvFile(
  target: Extract<ResolvedTarget, { kind: 'env-file' }>,
  options: DockerNetworkOptions,
  flags: readonly string[],
  daemonJson: string,
  log: Logger,
): Promise<boolean> {
  const existing = await readExisting(daemonJson);
  const managed: readonly string[] = Object.values(DAEMON_JSON_KEYS);
  const inFile = Object.keys(parseDaemonJson(existing?.text, daemonJson)).filter((key) => managed.includes(key));
  assertNoFlagConflicts(
    findFlagConflicts([{ label: `the options written to ${target.path}`, args: flags }], inFile, daemonJson),
    `Remove those keys from ${daemonJson}, or use daemon.json mode instead of the env file.`,
  );
  const text = formatDockerOptsFile(options, target.format);
  const current = await readExisting(target.path);
  if (current?.text === text) return false;
  await writeFileAtomic(target.path, text, 0o644);
  log.info('wrote docker options file', { path: target.path });
  return true;
}

/** What differs between Docker's state and the options (empty: in place). */
export function compareDockerState(options: DockerNetworkOptions, state: DockerState, bridgeName: string): string[] {
  const out: string[] = [];
  const { network, bridge } = state;
  const name = network.bridge ?? bridgeName;
  if (options.bip !== undefined) {
    const want = IpNet.parse(options.bip, 4)!;
    const gateway = want.ipText();
    const subnet = want.masked().toString();
    if (network.subnet !== subnet || network.gateway !== gateway) {
      out.push(`Docker's bridge network is ${network.subnet ?? 'unset'} (gateway ${network.gateway ?? 'unset'}), not ${subnet} (gateway ${gateway})`);
    }
    if (!bridge) out.push(`${name} does not exist`);
    else if (!bridge.addresses.some((a) => a.cidr === options.bip)) {
      const v4 = bridge.addresses.filter((a) => a.family === 4).map((a) => a.cidr);
      out.push(`${name} has ${v4.length > 0 ? v4.join(', ') : 'no IPv4 address'}, not ${options.bip}`);
    }
  }
  if (options.mtu !== undefined) {
    if (network.mtu !== options.mtu) out.push(`Docker's network MTU is ${network.mtu ?? 'unset'}, not ${options.mtu}`);
    else if (bridge && bridge.mtu !== options.mtu) out.push(`${name} has MTU ${bridge.mtu}, not ${options.mtu}`);
  }
  if (options.ipMasq !== undefined && network.ipMasq !== options.ipMasq) {
    out.push(`Docker's ip-masq is ${network.ipMasq ?? 'unset'}, not ${options.ipMasq}`);
  }
  return out;
}

export function describeRestart(method: RestartMethod): string {
  if (method.kind === 'systemd') return `systemctl restart ${method.unit}`;
  if (method.kind === 'command') return `restart command "${method.command}"`;
  return 'no restart';
}

async function readDockerState(request: SetupDockerRequest, deps: SetupDockerDeps): Promise<{ state: DockerState; error?: undefined } | { state?: undefined; error: string }> {
  try {
    await deps.docker.ping();
    const [version, network] = await Promise.all([deps.docker.version(), deps.docker.bridgeNetwork()]);
    const bridge = await deps.host.bridge(network.bridge ?? request.bridge);
    return { state: { version: version.version, network, bridge } };
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

/**
 * Docker 20.10 sets the MTU on container interfaces but leaves an empty docker0 at 1500 until the first container
 * joins. When Docker's network already has the flannel MTU, lower the empty bridge to match, so the bridge never
 * offers more than the overlay carries (the kernel keeps an MTU set this way as containers join and leave).
 */
async function alignBridgeMtu(state: DockerState, options: DockerNetworkOptions, deps: SetupDockerDeps): Promise<boolean> {
  const { bridge, network } = state;
  if (options.mtu === undefined || !bridge || network.mtu !== options.mtu || bridge.mtu === options.mtu || bridge.ports > 0) return false;
  await deps.host.setMtu(bridge.name, options.mtu);
  deps.log.child('docker-setup').info('set the empty bridge to the flannel mtu', { bridge: bridge.name, mtu: options.mtu, was: bridge.mtu });
  return true;
}

/** The seed's rule: a docker0 left on another subnet loses that address, so dockerd re-creates it on --bip. */
async function removeStaleAddresses(bridgeName: string, options: DockerNetworkOptions, deps: SetupDockerDeps): Promise<string[]> {
  if (options.bip === undefined) return [];
  const bridge = await deps.host.bridge(bridgeName);
  const stale = (bridge?.addresses ?? []).filter((a) => a.family === 4 && a.cidr !== options.bip).map((a) => a.cidr);
  for (const cidr of stale) {
    await deps.host.deleteAddress(bridgeName, cidr);
    deps.log.child('docker-setup').info('removed stale bridge address', { bridge: bridgeName, address: cidr });
  }
  return stale;
}

async function verifyDocker(
  request: SetupDockerRequest,
  target: ResolvedTarget,
  options: DockerNetworkOptions,
  deps: SetupDockerDeps,
  now: () => number,
  sleep: (ms: number) => Promise<void>,
): Promise<{ state: DockerState; bridgeMtuSet: boolean }> {
  const deadline = now() + request.verifyTimeoutMs;
  let bridgeMtuSet = false;
  let last: string[];
  for (;;) {
    const read = await readDockerState(request, deps);
    if (read.state) {
      if (!bridgeMtuSet && (await alignBridgeMtu(read.state, options, deps))) {
        bridgeMtuSet = true;
        continue;
      }
      last = compareDockerState(options, read.state, request.bridge);
      if (last.length === 0) return { state: read.state, bridgeMtuSet };
    } else {
      last = [`Docker does not answer on ${deps.docker.host} (${read.error})`];
    }
    if (now() >= deadline) break;
    await sleep(250);
  }
  const hint =
    target.kind === 'env-file'
      ? `check that dockerd is started with the options from ${target.path} (the systemd drop-in in deploy/ passes $${target.format.key})`
      : `check that dockerd reads ${target.path}`;
  throw new DockerSetupError('VERIFY_FAILED', `after the restart, Docker is not on the flannel options within ${request.verifyTimeoutMs / 1000} s: ${last.join('; ')}; ${hint}`);
}

async function readExisting(path: string): Promise<{ text: string; mode: number; uid: number; gid: number } | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { text, mode: info.mode & 0o7777, uid: info.uid, gid: info.gid };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FlannelError('FILE_IO_FAILED', `cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  }
}
