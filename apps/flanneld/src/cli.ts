/**
 * flanneld's command line: parse (cac), resolve against FLANNELD_* variables, build the logger, run the daemon,
 * and map the outcome to an exit code: 0 success or signalled stop, 1 failure, 2 usage error.
 */
import { cac } from 'cac';
import { createLineLogger, errorMessage, isFlannelError, type Logger } from '@flannel-ts/core';
import packageJson from '../package.json' with { type: 'json' };
import { runDaemon, type DaemonDeps } from './daemon.js';
import { FLAGS, UsageError, envName, normalizeArgv, resolveOptions, type FlanneldOptions } from './options.js';

export const VERSION: string = packageJson.version;

export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

export type ParsedCommand = { kind: 'run'; options: FlanneldOptions } | { kind: 'help' } | { kind: 'version' };

export function parseArgs(argv: readonly string[], env: CliIo['env']): ParsedCommand {
  const cli = cac('flanneld');
  const command = cli.command('', 'run flanneld');
  for (const spec of Object.values(FLAGS)) {
    command.option(spec.kind === 'bool' ? `--${spec.flag}` : `--${spec.flag} <value>`, spec.help);
  }
  command.option('-h, --help', 'show this help');
  const parsed = cli.parse(['node', 'flanneld', ...normalizeArgv(argv)], { run: false });
  if (parsed.args.length > 0) throw new UsageError(`unexpected argument "${parsed.args[0]}": flanneld takes only flags; see flanneld --help`);
  if (parsed.options['help'] || parsed.options['h']) return { kind: 'help' };
  const options = resolveOptions(parsed.options, env);
  if (options.version) return { kind: 'version' };
  return { kind: 'run', options };
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
    await runDaemon(command.options, { ...deps, log });
    return 0;
  } catch (err) {
    log.error('flanneld failed', { reason: errorMessage(err) });
    return isFlannelError(err, 'USAGE') || err instanceof UsageError ? 2 : 1;
  }
}
