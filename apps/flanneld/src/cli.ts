/**
 * flanneld's command line: parse (node:util), resolve against FLANNELD_* variables, build the logger, run the daemon,
 * and map the outcome to an exit code: 0 success or signalled stop, 1 failure, 2 usage error.
 */
import { createLineLogger, errorMessage, isFlannelError, versionLine, type Logger } from '@flannel-ts/core/command-line';
import type { DaemonDeps } from './daemon.js';
import { PROGRAM, VERSION, helpText } from './help.js';
import { normalizeArgv, parseCommandLine } from './options.js';
import type { ParsedCommand } from './resolve.js';

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

export async function runCli(argv: readonly string[], io: CliIo, deps: Partial<Omit<DaemonDeps, 'log'>> & { signal: AbortSignal }): Promise<number> {
  let command: ParsedCommand;
  try {
    const commandLine = parseCommandLine(argv);
    // The values are checked by a module of their own (it needs core's IP parser): not loaded for --help or --version.
    command = commandLine.kind === 'resolve' ? (await import('./resolve.js')).resolveCommandLine(commandLine, io.env) : commandLine;
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
