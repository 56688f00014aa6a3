/**
 * Running the delegate plugin as libcni's invoke package does: find `<type>` in the CNI_PATH directories, run it
 * with this process's environment and CNI_COMMAND set, the config on stdin, and read its result (or its CNI error)
 * from stdout. The delegate's stderr is passed on, so the runtime's log keeps it.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { CNI_CODE, CniError } from './cni-error.js';
import { isJsonObject } from './net-conf.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

export function findPlugin(type: string, cniPath: string): string {
  if (type === '' || type.includes('/') || type === '.' || type === '..') {
    throw new CniError(CNI_CODE.INVALID_CONFIG, `delegate type ${JSON.stringify(type)} is not a plugin name: give a name such as "bridge" (plugins are looked up in CNI_PATH)`);
  }
  const dirs = cniPath.split(':').filter((dir) => dir !== '');
  for (const dir of dirs) {
    const candidate = join(dir, type);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new CniError(
    CNI_CODE.INVALID_ENVIRONMENT,
    `failed to find plugin "${type}" in path [${dirs.join(' ')}]`,
    `install the ${type} plugin (Debian: apt-get install containernetworking-plugins, into /usr/lib/cni) and make sure the runtime's CNI plugin directories (CNI_PATH) include it`,
  );
}

export interface DelegateRun {
  readonly stdout: string;
}

/** Runs the delegate; resolves with its stdout on exit 0, throws CniError carrying the delegate's own error. */
export function execPlugin(
  pluginPath: string,
  type: string,
  command: CniCommand,
  config: string,
  env: Readonly<Record<string, string | undefined>>,
  stderr: { write(chunk: string): unknown },
): Promise<DelegateRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(pluginPath, [], { env: { ...env, CNI_COMMAND: command }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      err.push(chunk);
      stderr.write(chunk.toString());
    });
    child.on('error', (error) => reject(new CniError(CNI_CODE.IO_FAILURE, `cannot run ${pluginPath}: ${error.message}`, 'check the plugin file is executable')));
    child.stdin.on('error', () => undefined); // a delegate that exits without reading stdin
    child.stdin.end(config);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString();
      if (code === 0) return resolve({ stdout });
      reject(delegateError(type, command, stdout, Buffer.concat(err).toString(), code, signal));
    });
  });
}

function delegateError(type: string, command: CniCommand, stdout: string, stderr: string, code: number | null, signal: NodeJS.Signals | null): CniError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    parsed = undefined;
  }
  const verb = command === 'ADD' ? 'add' : command === 'DEL' ? 'delete' : 'check';
  if (isJsonObject(parsed) && typeof parsed['code'] === 'number' && typeof parsed['msg'] === 'string') {
    return new CniError(parsed['code'], `failed to delegate ${verb}: ${type}: ${parsed['msg']}`, typeof parsed['details'] === 'string' ? parsed['details'] : '');
  }
  const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
  const said = (stdout.trim() || stderr.trim()).split('\n').slice(-3).join(' ');
  return new CniError(CNI_CODE.INTERNAL, `failed to delegate ${verb}: ${type} ${how}${said ? `: ${said}` : ' without a CNI error'}`);
}
