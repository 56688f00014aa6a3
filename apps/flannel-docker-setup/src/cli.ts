/**
 * flannel-docker-setup's command line: parse (node:util parseArgs, which also takes mk-docker-opts' one-letter
 * options), resolve into a frozen SetupDockerRequest, run it, print the outcome, and map it to an exit code:
 * 0 done (also: nothing to do), 1 failed (no subnet.env, bad values, conflict, restart or verification failed),
 * 2 usage error.
 */
import { parseArgs } from 'node:util';
import { UsageError, createLineLogger, errorMessage, isFlannelError, versionLine } from '@flannel-ts/core/command-line';
import type { DockerApi, DockerHostOps, RestartMethod, SetupDockerRequest } from '@flannel-ts/docker-integration';
import { DEFAULT_DOCKER_HOST, DEFAULT_DOCKER_OPTS_FILE, DEFAULT_DOCKER_OPTS_KEY, splitCommandLine } from '@flannel-ts/docker-integration/options';
import type { SetupContext } from './commands/setup.js';
import { PROGRAM, VERSION, helpText, usageText } from './help.js';
import { FLAGS, type SetupCliOptions } from './options.js';

export interface TextWriter {
  write(chunk: string): unknown;
}

export interface CliIo {
  readonly stdout: TextWriter;
  readonly stderr: TextWriter;
  /** DOCKER_HOST and the preset combined variable (mk-docker-opts keeps its current value). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
}

/** What the host provides; tests pass fakes. */
export interface CliDeps {
  readonly host?: DockerHostOps;
  readonly docker?: (host: string) => DockerApi;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly signal?: AbortSignal;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export type Invocation =
  | { readonly kind: 'print'; readonly text: string }
  | { readonly kind: 'run'; readonly options: SetupCliOptions; readonly request: Omit<SetupDockerRequest, 'restart'>; readonly restart: RestartChoice; readonly dockerHost: string };

/** The restart method, unless it depends on whether systemd runs (decided at run time). */
export type RestartChoice = RestartMethod | { readonly kind: 'systemd-if-running'; readonly unit: string };

/** Parses and resolves the command line without touching the host; throws UsageError. */
export function parseCommandLine(argv: readonly string[], env: CliIo['env'] = {}): Invocation {
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    help: { type: 'boolean', short: 'h' },
    '?': { type: 'boolean' },
    version: { type: 'boolean' },
  };
  for (const spec of Object.values(FLAGS)) {
    config[spec.flag] = { type: spec.kind === 'boolean' ? 'boolean' : 'string', ...(spec.short ? { short: spec.short } : {}), ...(spec.kind === 'repeat' ? { multiple: true } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    // mk-docker-opts' `-?` asks for usage too.
    parsed = parseArgs({ args: argv.map((a) => (a === '-?' ? '--?' : a)), options: config, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(describeParseError(errorMessage(err)));
  }
  if (parsed.values['help'] || parsed.values['?']) return { kind: 'print', text: helpText() };
  if (parsed.values['version']) return { kind: 'print', text: versionLine(PROGRAM, VERSION) };
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0]}": ${PROGRAM} takes only options`);

  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(FLAGS)) {
    const raw = parsed.values[spec.flag] as string | boolean | string[] | undefined;
    values[key] = raw === undefined ? spec.default : spec.parse(raw, spec.flag);
  }
  const options = Object.freeze(values) as unknown as SetupCliOptions;

  if (options.daemonJson) {
    const envOnly = (['optsFile', 'individual', 'combined', 'key'] as const).filter((k) => parsed.values[FLAGS[k].flag] !== undefined);
    if (envOnly.length > 0) {
      const names = envOnly.map((k) => `-${FLAGS[k].short}`).join(', ');
      throw new UsageError(`${names} shape the env file, but --daemon-json writes daemon.json instead: drop one or the other`);
    }
  }
  if (options.noRestart && options.restartCommand !== undefined) throw new UsageError('--no-restart and --restart-command contradict each other: give one');
  if (options.restartCommand !== undefined && options.restartCommand.trim() === '') throw new UsageError('--restart-command needs a command, e.g. --restart-command "service docker restart"');

  const key = options.key ?? DEFAULT_DOCKER_OPTS_KEY;
  const both = !options.individual && !options.combined;
  const target: SetupDockerRequest['target'] = options.daemonJson
    ? { kind: 'daemon-json', path: options.daemonJsonFile }
    : {
        kind: 'env-file',
        path: options.optsFile ?? DEFAULT_DOCKER_OPTS_FILE,
        format: { individual: both || options.individual, combined: both || options.combined, key, preset: env?.[key] },
      };
  const restart: RestartChoice = options.noRestart
    ? { kind: 'none', why: 'asked' }
    : options.restartCommand !== undefined
      ? { kind: 'command', command: options.restartCommand }
      : { kind: 'systemd-if-running', unit: options.dockerUnit };
  const request: Omit<SetupDockerRequest, 'restart'> = {
    subnetFile: options.subnetFile,
    waitMs: options.waitSeconds * 1000,
    target,
    daemonJson: options.daemonJsonFile,
    ipMasq: !options.noIpMasq,
    bridge: options.bridge,
    dockerPidfile: options.dockerPidfile,
    dockerdArgs: options.dockerdArgs.map((text) => ({ label: `--dockerd-args "${text}"`, args: splitCommandLine(text) })),
    restartTimeoutMs: 120_000,
    verifyTimeoutMs: options.verifyTimeoutSeconds * 1000,
  };
  const dockerHost = options.dockerHost ?? (env?.['DOCKER_HOST'] || DEFAULT_DOCKER_HOST);
  return { kind: 'run', options, request, restart, dockerHost };
}

export async function runCli(argv: readonly string[], io: CliIo, deps: CliDeps = {}): Promise<number> {
  const out = (line: string) => void io.stdout.write(`${line}\n`);
  const err = (line: string) => void io.stderr.write(`${line}\n`);
  let invocation: Invocation;
  try {
    invocation = parseCommandLine(argv, io.env ?? {});
  } catch (caught) {
    if (!isFlannelError(caught, 'USAGE')) throw caught;
    err(`error: ${caught.message}`);
    err(usageText());
    return EXIT_USAGE;
  }
  if (invocation.kind === 'print') {
    out(invocation.text);
    return EXIT_OK;
  }
  const log = createLineLogger({ write: err, level: invocation.options.logLevel, component: PROGRAM });
  // Loaded only to run: --help, --version and usage errors read none of the setup code.
  const [{ createDockerApi, createHostOps }, { runSetup }] = await Promise.all([import('@flannel-ts/docker-integration'), import('./commands/setup.js')]);
  const host = deps.host ?? createHostOps();
  const ctx: SetupContext = {
    out,
    log,
    host,
    docker: (deps.docker ?? ((url: string) => createDockerApi(url)))(invocation.dockerHost),
    sleep: deps.sleep,
    signal: deps.signal,
  };
  try {
    await runSetup(invocation, ctx);
    return EXIT_OK;
  } catch (caught) {
    if (isFlannelError(caught, 'USAGE')) {
      err(`error: ${caught.message}`);
      err(usageText());
      return EXIT_USAGE;
    }
    err(`error: ${errorMessage(caught)}`);
    return EXIT_FAILED;
  }
}

function describeParseError(message: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown) return `unknown option ${unknown[1]}: see ${PROGRAM} --help`;
  const missing = /Option '(-\w, )?(--[^ ']+)[^']*' argument missing/.exec(message);
  if (missing) return `${missing[1] ? `${missing[1].slice(0, 2)} (${missing[2]})` : missing[2]} needs a value`;
  const ambiguous = /Option '(-\w, )?(--[^ ']+)' argument is ambiguous/.exec(message);
  if (ambiguous) return `the value of ${ambiguous[2]} starts with "-": write it as ${ambiguous[2]}="..."`;
  const notBool = /Option '(-\w, )?(--[^ ']+)' does not take an argument/.exec(message);
  if (notBool) return `${notBool[2]} takes no value`;
  return message.split('\n')[0] ?? message;
}
