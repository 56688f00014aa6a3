/**
 * flannelctl's command line: `flannelctl <group> <command> [args] [options]`.
 *
 * cac matches only the first word of a command name, so the group word (`config`, `leases`) is taken off first and
 * each group gets its own cac instance whose commands are the second word. cac then checks the grammar (known
 * options, option values present, argument count); values are read by ArgReader (options.ts). Help comes from
 * help.ts, not cac (which prints with console.info): runCli writes only to the streams it is given.
 *
 * `status`, `doctor` and `completion` are commands of their own (standalone groups): their cac instance gets the word
 * twice, as group and as command, so they go through the same grammar checks.
 *
 * Exit codes: 0 success, 1 the operation failed (invalid config, conflict, not found, etcd error; `doctor`: a check
 * failed), 2 usage error, 130 interrupted (SIGINT/SIGTERM) unless the command runs until a signal (`leases watch`).
 */
import { readFile } from 'node:fs/promises';
import { cac, type CAC } from 'cac';
import { FlannelError, createLineLogger, errorMessage, isFlannelError, versionLine } from '@flannel-ts/core/command-line';
import { standaloneGroup, type Command, type CommandGroup } from './command.js';
import { createCompletionCommand } from './commands/completion.js';
import { configGroup } from './commands/config.js';
import { doctorCommand } from './commands/doctor.js';
import { leasesGroup } from './commands/leases.js';
import { statusCommand } from './commands/status.js';
import { createStoreFactory, type CommandContext, type StoreFactory, type TextWriter } from './context.js';
import { PROGRAM, VERSION, commandUsage, groupUsage, manPage as renderManPage, renderCommandHelp, renderGroupHelp, renderTopHelp, topUsage } from './help.js';
import { ArgReader, ETCD_FLAG_LIST, ETCD_FLAGS, envName, normalizeGoFlags, resolveEtcdOptions, type Env } from './options.js';

export interface CliIo {
  readonly stdout: TextWriter;
  readonly stderr: TextWriter;
  /** Read for `-` arguments; absent means no stdin. */
  readonly stdin?: AsyncIterable<string | Buffer> | undefined;
  /** Source of FLANNELD_* defaults for the etcd flags. */
  readonly env?: Env | undefined;
  /** Clock for lease expiry display (tests). */
  readonly now?: (() => number) | undefined;
  /** Upper bound for all etcd work of one command; etcd3 retries each call a few times. */
  readonly etcdDeadlineMs?: number | undefined;
  /** Aborted on SIGINT/SIGTERM: `leases watch` then stops (exit 0), other commands are interrupted (exit 130). */
  readonly signal?: AbortSignal | undefined;
  /** Takes over Node's process warnings so they reach the logger at debug level, not stderr (main.ts wires it). */
  readonly routeProcessWarnings?: ((sink: (warning: Error) => void) => void) | undefined;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

export const GROUPS: readonly CommandGroup[] = [
  standaloneGroup(statusCommand),
  standaloneGroup(doctorCommand),
  configGroup,
  leasesGroup,
  standaloneGroup(createCompletionCommand(() => GROUPS)),
];
const DEFAULT_ETCD_DEADLINE_MS = 15_000;
/** Stands in for a lone `-` argument (stdin), which cac's parser would drop. */
const STDIN_TOKEN = '\u0000stdin';

/** What a command line asks for, decided without running anything (so tests can check argument handling). */
export type Invocation =
  | { readonly kind: 'print'; readonly text: string }
  | { readonly kind: 'usage-error'; readonly message: string; readonly usage: string }
  | {
      readonly kind: 'run';
      readonly group: CommandGroup;
      readonly command: Command;
      readonly positionals: readonly string[];
      readonly options: ArgReader;
    };

export function parseCommandLine(argv: readonly string[]): Invocation {
  const usageError = (message: string, usage: string): Invocation => ({ kind: 'usage-error', message, usage });
  const tokens = normalizeGoFlags(argv);
  const groupIndex = findGroupWord(tokens);
  if (groupIndex < 0) {
    const unknown = tokens.find((t) => t.startsWith('-') && !isTopLevelFlag(t));
    if (unknown !== undefined) return usageError(`unknown option \`${unknown.split('=')[0]}\``, topUsage(GROUPS));
    if (tokens.some((t) => t === '-h' || t === '--help')) return { kind: 'print', text: renderTopHelp(GROUPS) };
    if (tokens.includes('--version')) return { kind: 'print', text: versionLine(PROGRAM, VERSION) };
    return usageError('missing command', topUsage(GROUPS));
  }
  if (tokens[groupIndex] === 'help') return helpFor(tokens.slice(groupIndex + 1).filter((t) => !t.startsWith('-')));
  const groupName = tokens[groupIndex]!;
  const group = GROUPS.find((g) => g.name === groupName);
  if (!group) return usageError(`unknown command \`${groupName}\``, topUsage(GROUPS));

  const groupTokens = prepareGroupTokens([...tokens.slice(0, groupIndex), ...tokens.slice(groupIndex + 1)], group);
  const rest = group.standalone ? [group.name, ...groupTokens] : groupTokens;
  const cli = buildGroupCli(group);
  let command: Command | undefined;
  try {
    cli.parse(['node', PROGRAM, ...rest], { run: false });
    command = group.commands.find((c) => c.name === cli.matchedCommandName);
    if (cli.options['help']) return { kind: 'print', text: command ? renderCommandHelp(group, command) : renderGroupHelp(group) };
    if (!command) {
      const word = cli.args[0];
      return usageError(word === undefined ? `missing ${group.name} command` : `unknown command \`${group.name} ${word}\``, groupUsage(group));
    }
    const options = new ArgReader(rest);
    // cac would move the value of `--force=maybe` into the arguments; say what is wrong instead.
    for (const option of command.options) if (!option.value) options.bool(option.flag);
    const afterDashes = (cli.options['--'] as string[] | undefined) ?? [];
    const positionals = [...cli.args, ...afterDashes].map((arg) => (arg === STDIN_TOKEN ? '-' : String(arg)));
    const declared = command.args === '' ? [] : command.args.split(' ');
    const required = declared.filter((arg) => arg.startsWith('<'));
    if (positionals.length < required.length) return usageError(`missing argument ${required[positionals.length]!.slice(1, -1)}`, commandUsage(group, command));
    if (positionals.length > declared.length) return usageError(`unexpected argument \`${positionals[declared.length]}\``, commandUsage(group, command));
    // Unknown options and options without their value.
    cli.runMatchedCommand();
    return { kind: 'run', group, command, positionals, options };
  } catch (caught) {
    if ((caught instanceof Error && caught.name === 'CACError') || isFlannelError(caught, 'USAGE')) {
      return usageError(lowerFirst(caught.message), command ? commandUsage(group, command) : groupUsage(group));
    }
    throw caught;
  }
}

/** `flannelctl help [group [command]]`: the same text as `--help` after those words. */
function helpFor(words: readonly string[]): Invocation {
  const [groupName, commandName, extra] = words;
  if (groupName === undefined) return { kind: 'print', text: renderTopHelp(GROUPS) };
  const group = GROUPS.find((g) => g.name === groupName);
  if (!group) return { kind: 'usage-error', message: `unknown command \`${groupName}\``, usage: topUsage(GROUPS) };
  if (group.standalone) {
    if (commandName !== undefined) return { kind: 'usage-error', message: `unexpected argument \`${commandName}\``, usage: topUsage(GROUPS) };
    return { kind: 'print', text: renderCommandHelp(group, group.commands[0]!) };
  }
  if (commandName === undefined) return { kind: 'print', text: renderGroupHelp(group) };
  const command = group.commands.find((c) => c.name === commandName);
  if (!command) return { kind: 'usage-error', message: `unknown command \`${group.name} ${commandName}\``, usage: groupUsage(group) };
  if (extra !== undefined) return { kind: 'usage-error', message: `unexpected argument \`${extra}\``, usage: topUsage(GROUPS) };
  return { kind: 'print', text: renderCommandHelp(group, command) };
}

/** The man page, for the build (scripts/write-man-page.mjs). */
export const manPage = (): { program: string; page: string } => renderManPage(GROUPS);

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const out = (text: string) => void io.stdout.write(`${text}\n`);
  const err = (text: string) => void io.stderr.write(`${text}\n`);
  const usageError = (message: string, usage: string) => {
    err(`error: ${message}`);
    err(usage);
    return EXIT_USAGE;
  };

  const invocation = parseCommandLine(argv);
  if (invocation.kind === 'print') return (out(invocation.text), EXIT_OK);
  if (invocation.kind === 'usage-error') return usageError(invocation.message, invocation.usage);
  const { group, command, positionals, options: reader } = invocation;

  const log = createLineLogger({ write: err, level: 'warn', component: PROGRAM });
  io.routeProcessWarnings?.((warning) => log.debug('node warning', { name: warning.name, message: warning.message }));
  const warn = (text: string) => err(`warning: ${text}`);
  let store: StoreFactory | undefined;
  let endpoints: readonly string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let expire: (error: Error) => void = () => undefined;
  const deadline = new Promise<never>((_, reject) => (expire = reject));
  const lifetime = command.lifetime ?? 'bounded';
  const signal = io.signal ?? new AbortController().signal;
  let onAbort: (() => void) | undefined;
  const interrupted = new Promise<number>((resolve) => {
    if (lifetime === 'until-signal') return;
    onAbort = () => resolve(EXIT_INTERRUPTED);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const etcd = resolveEtcdOptions(reader, io.env ?? {});
    endpoints = etcd.etcdEndpoints;
    const factory = createStoreFactory(etcd, log, warn);
    store = factory;
    const deadlineMs = io.etcdDeadlineMs ?? DEFAULT_ETCD_DEADLINE_MS;
    const ctx: CommandContext = {
      out,
      err,
      warn,
      log,
      now: io.now ?? Date.now,
      signal,
      env: io.env ?? {},
      etcd,
      readInput: (path) => readInput(path, io.stdin),
      openStore: () => {
        // The deadline starts with the first etcd use, so reading stdin is never cut short.
        if (lifetime === 'bounded') timer ??= setTimeout(
          () => expire(new FlannelError('STORE_UNAVAILABLE', `etcd at ${endpoints.join(',')} did not answer within ${deadlineMs / 1000} s: ${UNREACHABLE_HINT}`)),
          deadlineMs,
        );
        return factory.open();
      },
    };
    const running = command.execute(positionals, reader, ctx);
    // A rejection after the deadline won must not surface as unhandled.
    running.catch(() => undefined);
    const code = await Promise.race([running, deadline, interrupted]);
    if (code === EXIT_INTERRUPTED && signal.aborted && lifetime !== 'until-signal') err('interrupted');
    return code ?? EXIT_OK;
  } catch (caught) {
    if (isFlannelError(caught, 'USAGE')) return usageError(caught.message, commandUsage(group, command));
    // etcd3 is loaded once a store was opened (never for help, version or completion).
    const etcd = store?.opened ? await import('@flannel-ts/lease-manager') : undefined;
    err(`error: ${describeFailure(caught, endpoints, etcd)}`);
    return EXIT_FAILED;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
    store?.close();
  }
}

/** One message for a failed command; errors from etcd3 are named as such, with the endpoints. */
function describeFailure(
  caught: unknown,
  endpoints: readonly string[],
  etcd: { describeEtcdError(err: unknown): string; isRetryable(err: unknown): boolean } | undefined,
): string {
  if (isFlannelError(caught) || !etcd) return errorMessage(caught);
  const { describeEtcdError, isRetryable } = etcd;
  if (isRetryable(caught)) return `cannot reach etcd at ${endpoints.join(',')} (${describeEtcdError(caught)}): ${UNREACHABLE_HINT}`;
  if (caught instanceof TypeError || caught instanceof RangeError || caught instanceof ReferenceError) return errorMessage(caught);
  return `etcd request to ${endpoints.join(',')} failed: ${describeEtcdError(caught)}`;
}

const UNREACHABLE_HINT = `check that etcd runs there, or point flannelctl at it with --etcd-endpoints (or ${envName(ETCD_FLAGS.etcdEndpoints.flag)})`;


function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

async function readInput(path: string, stdin: CliIo['stdin']): Promise<string> {
  if (path !== '-') {
    return readFile(path, 'utf8');
  }
  if (!stdin) throw new Error('no stdin available');
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

// ---- finding the group word -------------------------------------------------------------------------------

const ETCD_VALUE_FLAGS = new Set(ETCD_FLAG_LIST.map((f) => `--${f.flag}`));

function isTopLevelFlag(token: string): boolean {
  const name = token.split('=')[0]!;
  return name === '-h' || name === '--help' || name === '--version' || ETCD_VALUE_FLAGS.has(name);
}

/** Index of the first word that is neither a flag nor the value of an etcd flag before it; -1 if none. */
function findGroupWord(tokens: readonly string[]): number {
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === '--') return -1;
    if (!token.startsWith('-') || token === '-') return i;
    if (ETCD_VALUE_FLAGS.has(token)) i++;
  }
  return -1;
}

/** `--file -` becomes `--file=-`, and a lone `-` argument becomes STDIN_TOKEN, both of which cac keeps. */
function prepareGroupTokens(tokens: readonly string[], group: CommandGroup): string[] {
  const valueFlags = new Set([...ETCD_VALUE_FLAGS, ...group.commands.flatMap((c) => c.options.filter((o) => o.value).map((o) => `--${o.flag}`))]);
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === '--') {
      out.push(...tokens.slice(i));
      break;
    }
    if (valueFlags.has(token) && tokens[i + 1] === '-') {
      out.push(`${token}=-`);
      i++;
    } else out.push(token === '-' ? STDIN_TOKEN : token);
  }
  return out;
}

function buildGroupCli(group: CommandGroup): CAC {
  const cli = cac(`${PROGRAM} ${group.name}`);
  for (const flag of ETCD_FLAG_LIST) cli.option(`--${flag.flag} ${flag.value}`, flag.help);
  cli.option('-h, --help', 'show help');
  for (const command of group.commands) {
    const registered = cli.command(`${command.name} ${command.args}`.trim(), command.summary);
    for (const option of command.options) registered.option(option.value ? `--${option.flag} ${option.value}` : `--${option.flag}`, option.help);
    // The action only lets cac run its grammar checks; runCli executes the command itself.
    registered.action(() => undefined);
  }
  return cli;
}
