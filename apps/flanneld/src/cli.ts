/**
 * flanneld's command line: parse (node:util), resolve against FLANNELD_* variables, build the logger, run the daemon,
 * and map the outcome to an exit code: 0 success or signalled stop, 1 failure, 2 usage error.
 */
import { parseArgs as parseNodeArgs } from 'node:util';
import { UsageError, createLineLogger, errorMessage, isFlannelError, versionLine, type Logger } from '@flannel-ts/core';
import type { DaemonDeps } from './daemon.js';
import { PROGRAM, VERSION, helpText } from './help.js';
import { FLAGS, UNSUPPORTED_FLAGS, normalizeArgv, resolveOptions, type FlanneldOptions } from './options.js';

export { VERSION, helpText };

export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Takes over Node's process warnings (e.g. DEP0123 from TLS to an IP endpoint), so they reach the logger at debug
   * level instead of stderr; main.ts wires it to `process`.
   */
  readonly routeProcessWarnings?: (sink: (warning: Error) => void) => void;
  /** Sets V8's heap for the daemon (main.ts); passed on to runDaemon. */
  readonly tuneHeap?: () => void;
}

export type ParsedCommand = { kind: 'run'; options: FlanneldOptions } | { kind: 'help' } | { kind: 'version' };

export function parseArgs(argv: readonly string[], env: CliIo['env']): ParsedCommand {
  // node:util parseArgs, not cac: it keeps values as given (cac turns "007" into 7) and rejects unknown flags.
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const spec of Object.values(FLAGS)) options[spec.flag] = { type: 'string', ...(spec.kind === 'repeat' ? { multiple: true } : {}) };
  for (const spec of UNSUPPORTED_FLAGS) options[spec.flag] = { type: 'string' };
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
  // As flannel: --version is looked at before the environment, so it works whatever FLANNELD_* says.
  if (parsed.values['version'] !== undefined && FLAGS.version.parse(parsed.values['version'], 'version')) return { kind: 'version' };
  const raw: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(FLAGS)) {
    const value = parsed.values[spec.flag];
    if (value !== undefined) raw[key] = value;
  }
  const unsupported: Record<string, unknown> = {};
  for (const spec of UNSUPPORTED_FLAGS) if (parsed.values[spec.flag] !== undefined) unsupported[spec.flag] = parsed.values[spec.flag];
  const resolved = resolveOptions(raw, env, unsupported);
  if (resolved.version) return { kind: 'version' };
  return { kind: 'run', options: resolved };
}

export async function runCli(argv: readonly string[], io: CliIo, deps: Partial<Omit<DaemonDeps, 'log'>> & { signal: AbortSignal }): Promise<number> {
  let command: ParsedCommand;
  try {
    command = parseArgs(argv, io.env);
  } catch (err) {
    io.stderr.write(`${PROGRAM}: ${errorMessage(err)}\nRun ${PROGRAM} --help for the flags.\n`);
    return 2;
  }
  if (command.kind === 'help') {
    io.stdout.write(helpText());
    return 0;
  }
  if (command.kind === 'version') {
    io.stdout.write(`${versionLine(PROGRAM, VERSION)}\n`);
    return 0;
  }
  const log: Logger = createLineLogger({ write: (line) => io.stderr.write(`${line}\n`), level: command.options.logLevel, format: command.options.logFormat, component: PROGRAM });
  if (passwordOnCommandLine(argv)) {
    log.warn('--etcd-password on the command line is visible to every user in /proc/<pid>/cmdline and in ps', {
      fix: 'pass it in FLANNELD_ETCD_PASSWORD instead (e.g. an EnvironmentFile= readable by root only)',
    });
  }
  try {
    // Loaded here, not at the top: --help and --version never load etcd3, grpc or the backends.
    const [{ runDaemon }, { routeGrpcLogs }] = await Promise.all([import('./daemon.js'), import('@flannel-ts/lease-manager')]);
    // Library output goes through the logger too: stderr carries only flanneld's own lines.
    routeGrpcLogs(log.child('grpc'));
    io.routeProcessWarnings?.((warning) => log.debug('node warning', { name: warning.name, message: warning.message }));
    await runDaemon(command.options, { ...deps, notifySocket: io.env['NOTIFY_SOCKET'], log, ...(io.tuneHeap ? { tuneHeap: io.tuneHeap } : {}) });
    return 0;
  } catch (err) {
    log.error('flanneld failed', { reason: errorMessage(err) });
    return isFlannelError(err, 'USAGE') ? 2 : 1;
  }
}

/** True when the etcd password came from the command line (any spelling flanneld accepts), not the environment. */
export function passwordOnCommandLine(argv: readonly string[]): boolean {
  return normalizeArgv(argv).some((arg) => arg === '--etcd-password' || arg.startsWith('--etcd-password='));
}
