import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { waitProgress, type Logger } from '@flannel-ts/core';
import { readSubnetEnv, type SubnetEnvFile } from '@flannel-ts/subnet-env';
import { DockerSetupError } from './errors.js';
import { flagValue } from './flag-conflicts.js';
import type { DockerHostOps, ProcessInfo } from './host.js';

export interface WaitForSubnetEnvDeps {
  /** Gets a "still waiting" line every few seconds. */
  readonly log?: Logger;
  /** Looks for flanneld when the file does not come, to say what is missing. */
  readonly host?: Pick<DockerHostOps, 'flanneldProcesses'>;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly signal?: AbortSignal | undefined;
  readonly pollMs?: number;
}

/**
 * Waits until flanneld has written subnet.env (it writes it atomically, so a file that exists is complete).
 * `timeoutMs` 0 looks once. On timeout the error says whether flanneld runs at all, writes another file, or runs
 * without a lease yet.
 */
export async function waitForSubnetEnv(path: string, timeoutMs: number, deps: WaitForSubnetEnvDeps = {}): Promise<SubnetEnvFile> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => delay(ms, undefined, { signal: deps.signal }));
  const deadline = now() + timeoutMs;
  const progress = waitProgress(now());
  for (;;) {
    const env = await readSubnetEnv(path);
    if (env) return env;
    const remaining = deadline - now();
    if (remaining <= 0) break;
    const waited = progress.due(now());
    if (waited !== undefined) deps.log?.info('still waiting for subnet.env', { path, waitedSeconds: waited, timeoutSeconds: Math.round(timeoutMs / 1000) });
    await sleep(Math.min(deps.pollMs ?? 200, remaining));
  }
  const flanneld = deps.host ? await deps.host.flanneldProcesses().catch(() => []) : [];
  const waited = timeoutMs > 0 ? ` within ${formatSeconds(timeoutMs)}` : '';
  throw new DockerSetupError('SUBNET_ENV_MISSING', `${path} did not appear${waited}: flanneld writes it once it holds a subnet lease. ${diagnose(path, flanneld)}`);
}

function diagnose(path: string, processes: readonly ProcessInfo[]): string {
  if (processes.length === 0) {
    return 'No flanneld is running on this host: start it (systemctl start flanneld, or bin/flanneld --etcd-endpoints=...), then run this again.';
  }
  const wanted = resolve(path);
  const files = processes.map((p) => ({ pid: p.pid, file: resolve(subnetFileOf(p.argv)) }));
  const same = files.find((f) => f.file === wanted);
  if (same) {
    return `flanneld (pid ${same.pid}) runs but has no subnet lease yet: it is probably still waiting for etcd or for the network config; check its log and that the config exists (flannelctl config get).`;
  }
  const list = files.map((f) => `pid ${f.pid} writes ${f.file}`).join(', ');
  return `flanneld runs but writes its subnet file elsewhere (${list}): read that file instead, or start flanneld with --subnet-file=${path}.`;
}

function subnetFileOf(argv: readonly string[]): string {
  // flanneld takes Go-style flags too (-subnet-file=x).
  const normalized = argv.map((arg) => (/^-[a-z]/.test(arg) ? `-${arg}` : arg));
  return flagValue(normalized, 'subnet-file') ?? '/run/flannel/subnet.env';
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
