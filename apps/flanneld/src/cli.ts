/**
 * flanneld's command line: parse (node:util), resolve against FLANNELD_* variables, build the logger, run the daemon,
 * and map the outcome to an exit code: 0 success or signalled stop, 1 failure, 2 usage error.
 */
import { parseArgs as parseNodeArgs } from 'node:util';
import { createLineLogger, errorMessage, isFlannelError, type Logger } from '@flannel-ts/core';
import packageJson from '../package.json' with { type: 'json' };
// The daemon (etcd, backends, firewall) is imported only to run it: --help, --version and usage errors load none of it.
import type { DaemonDeps } from './daemon.js';
import { FLAGS, UsageError, envName, normalizeArgv, resolveOptions, type FlanneldOptions } from './options.js';

export const VERSION: string = packageJson.version;

export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

export type ParsedCommand = { kind: 'run'; options: FlanneldOptions } | { kind: 'help' } | { kind: 'version' };

export function parseArgs(argv: readonly string[], env: CliIo['env']): ParsedCommand {
  // node:util parseArgs, not cac: it keeps values as given (cac turns "007" into 7) and rejects unknown flags.
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const spec of Object.values(FLAGS)) options[spec.flag] = { type: 'string', ...(spec.kind === 'repeat' ? { multiple: true } : {}) };
  let parsed: ReturnType<typeof parseNodeArgs>;
  try {
    parsed = parseNodeArgs({ args: normalizeArgv(argv), options, strict: true, allowPositionals: true });
  } catch (err) {
    const message = errorMessage(err);
    const unknown = /Unknown option '([^']+)'/.exec(message);
    const missing = /Option '--([^ ']+)[^']*' argument missing/.exec(message);
    if (unknown) throw new UsageError(`unknown flag ${unknown[1]}: see flanneld --help`);
    if (missing) throw new UsageError(`--${missing[1]} needs a value, e.g. --${missing[1]}=VALUE`);
    throw new UsageError(message);
  }
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0]}": flanneld takes only flags; see flanneld --help`);
  if (parsed.values['help']) return { kind: 'help' };
  const raw: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(FLAGS)) {
    const value = parsed.values[spec.flag];
    if (value !== undefined) raw[key] = value;
  }
  const resolved = resolveOptions(raw, env);
  if (resolved.version) return { kind: 'version' };
  return { kind: 'run', options: resolved };
}

export function helpText(): string {
  const rows = Object.values(FLAGS).map((spec) => {
    const name = spec.kind === 'bool' ? `--${spec.flag}` : `--${spec.flag}=${spec.kind === 'int' ? 'N' : 'VALUE'}`;
    const shown = spec.placeholder ?? (Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default));
    const dflt = shown === '' ? '' : ` (default ${shown})`;
    const env = spec.noEnv ? '' : `\n      env ${envName(spec.flag)}`;
    return `  ${name}\n      ${spec.help}${dflt}${env}`;
  });
  return `flanneld ${VERSION}: the flannel daemon. Takes a subnet lease for this host from the network config in etcd,
writes it to the subnet file, keeps the lease renewed, and runs the data-path backend named in the config.

Usage: flanneld [flags]

Flags (Go style also works: -etcd-endpoints=URL, -ip-masq=true; -v=N maps to --log-level):
${rows.join('\n')}
  -h, --help
      show this help

Every flag can also be set with its FLANNELD_* variable; the command line wins.

Examples:
  flanneld --etcd-endpoints=http://10.0.0.5:2379 --iface=eth0 --ip-masq
  FLANNELD_ETCD_PREFIX=/my/network flanneld --public-ip=203.0.113.7

Exit status: 0 stopped by SIGTERM/SIGINT (the lease is kept), 1 failed (reason logged), 2 usage error.
`;
}

export async function runCli(argv: readonly string[], io: CliIo, deps: Partial<Omit<DaemonDeps, 'log'>> & { signal: AbortSignal }): Promise<number> {
  let command: ParsedCommand;
  try {
    command = parseArgs(argv, io.env);
  } catch (err) {
    io.stderr.write(`flanneld: ${errorMessage(err)}\nRun flanneld --help for the flags.\n`);
    return 2;
  }
  if (command.kind === 'help') {
    io.stdout.write(helpText());
    return 0;
  }
  if (command.kind === 'version') {
    io.stderr.write(`${VERSION}\n`);
    return 0;
  }
  const log: Logger = createLineLogger({ write: (line) => io.stderr.write(`${line}\n`), level: command.options.logLevel, component: 'flanneld' });
  try {
    const { runDaemon } = await import('./daemon.js');
    await runDaemon(command.options, { ...deps, notifySocket: io.env['NOTIFY_SOCKET'], log });
    return 0;
  } catch (err) {
    log.error('flanneld failed', { reason: errorMessage(err) });
    return isFlannelError(err, 'USAGE') || err instanceof UsageError ? 2 : 1;
  }
}
