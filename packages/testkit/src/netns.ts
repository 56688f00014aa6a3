/**
 * Network namespaces for tests: unique names (prefix `ft` + this process's PID, so leftovers of a dead run can be
 * told apart and swept), created with `ip netns add` and always deleted on dispose.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
let counter = 0;

export const NETNS_PREFIX = 'ft';

export interface Netns extends AsyncDisposable {
  readonly name: string;
  /** Runs a command inside the namespace; rejects with stderr on failure. */
  exec(command: string, args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** `ip -j ...` inside the namespace, parsed. */
  ipJson<T = unknown>(args: readonly string[]): Promise<T>;
}

export async function run(command: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const child = execFileAsync(command, [...args], { timeout: options.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 });
  if (options.input !== undefined) {
    child.child.stdin?.end(options.input);
  }
  try {
    return (await child).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

/** A short unique name: `ft<pid>x<n><suffix>` (interface names must stay under 16 characters). */
export function uniqueName(suffix = ''): string {
  counter += 1;
  return `${NETNS_PREFIX}${process.pid}x${counter}${suffix}`;
}

export function netnsHandle(name: string): Omit<Netns, typeof Symbol.asyncDispose> {
  return {
    name,
    exec: (command, args, options) => run('ip', ['netns', 'exec', name, command, ...args], options),
    ipJson: async <T>(args: readonly string[]) => JSON.parse((await run('ip', ['-n', name, '-j', ...args])) || '[]') as T,
  };
}

export async function createNetns(name = uniqueName()): Promise<Netns> {
  await run('ip', ['netns', 'add', name]);
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return {
    ...netnsHandle(name),
    [Symbol.asyncDispose]: () => deleteNetns(name),
  };
}

export async function deleteNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'del', name]).catch(() => undefined);
}

/** Deletes namespaces left by test processes that no longer run (their PID is in the name). */
export async function sweepStaleNetns(): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return [];
  }
  const stale = names.filter((name) => {
    const match = new RegExp(`^${NETNS_PREFIX}(\\d+)x`).exec(name);
    if (!match) return false;
    try {
      process.kill(Number(match[1]), 0);
      return false;
    } catch {
      return true;
    }
  });
  await Promise.all(stale.map(deleteNetns));
  return stale;
}
