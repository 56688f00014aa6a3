/**
 * flanneld's options from the command line and the FLANNELD_* variables: each flag's value parsed and checked
 * (address flags with core's IP parser, which is why this is a module of its own: `--help` and `--version` are
 * answered by options.ts and cli.ts without loading it).
 */
import { UsageError, normalizeIP } from '@flannel-ts/core';
import { FLAGS, UNIT_VARIABLES, UNSUPPORTED_FLAGS, bool, envName, parseCommandLine, type CommandLine, type FlagSpec, type FlanneldOptions } from './options.js';

export type ParsedCommand = { kind: 'run'; options: FlanneldOptions } | { kind: 'help' } | { kind: 'version' };

/** The command line and the environment, resolved: what runCli acts on (tests and tools call it directly). */
export function parseArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedCommand {
  return resolveCommandLine(parseCommandLine(argv), env);
}

/** The second pass of parseArgs, on what the grammar pass (options.ts) read. */
export function resolveCommandLine(commandLine: CommandLine, env: Readonly<Record<string, string | undefined>>): ParsedCommand {
  if (commandLine.kind !== 'resolve') return commandLine;
  const resolved = resolveOptions(commandLine.raw, env, commandLine.unsupported);
  if (resolved.version) return { kind: 'version' };
  return { kind: 'run', options: resolved };
}

type RawValues = Readonly<Record<string, unknown>>;

/**
 * Resolves options from the parsed command line (camelCase keys) and the environment. Throws UsageError for
 * unknown flags, bad values, flags this build does not implement (`unsupported`: their values by flag name) and
 * FLANNELD_* variables that are no flag's, naming the flag (or variable) and what it takes.
 */
export function resolveOptions(raw: RawValues, env: Readonly<Record<string, string | undefined>>, unsupported: RawValues = {}): FlanneldOptions {
  const known = new Map(Object.keys(FLAGS).map((key) => [key, key] as const));
  for (const key of Object.keys(raw)) {
    if (known.has(key)) continue;
    throw new UsageError(`unknown flag --${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: see flanneld --help`);
  }
  refuseUnsupported(unsupported, env);
  const out: Record<string, unknown> = {};
  const given = new Set<string>();
  for (const [key, spec] of Object.entries(FLAGS) as Array<[keyof FlanneldOptions, FlagSpec<unknown>]>) {
    const fromCli = raw[key];
    if (fromCli !== undefined) {
      out[key] = parseValue(spec, fromCli);
      given.add(key);
      continue;
    }
    const variable = envName(spec.flag);
    const fromEnv = spec.noEnv ? undefined : env[variable];
    if (fromEnv !== undefined && fromEnv !== '') {
      try {
        out[key] = parseValue(spec, spec.kind === 'repeat' ? fromEnv.split(',') : fromEnv);
      } catch (err) {
        throw new UsageError(`${variable}: ${(err as Error).message}`);
      }
      given.add(key);
      continue;
    }
    out[key] = spec.default;
  }
  // klog's -v as flannel uses it: any verbosity logs at debug level; an explicit --log-level wins.
  if (!given.has('logLevel') && (out['verbosity'] as number) >= 1) out['logLevel'] = 'debug';
  return Object.freeze(out) as unknown as FlanneldOptions;
}

function refuseUnsupported(fromCli: RawValues, env: Readonly<Record<string, string | undefined>>): void {
  for (const spec of UNSUPPORTED_FLAGS) {
    const variable = envName(spec.flag);
    const cli = fromCli[spec.flag];
    const value = cli ?? (env[variable] === '' ? undefined : env[variable]);
    if (value === undefined) continue;
    const where = cli === undefined ? `${variable}=${String(value)}` : `--${spec.flag}`;
    if (spec.kind === 'bool' && spec.harmless !== undefined && bool(value, spec.flag) === spec.harmless) continue;
    throw new UsageError(`${where}: --${spec.flag} ${spec.why}`);
  }
  const variables = new Set([...Object.values(FLAGS).filter((spec) => !spec.noEnv).map((spec) => envName(spec.flag)), ...UNSUPPORTED_FLAGS.map((spec) => envName(spec.flag)), ...UNIT_VARIABLES]);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('FLANNELD_') || variables.has(name) || value === undefined) continue;
    if (name === envName(FLAGS.version.flag)) throw new UsageError(`${name} is not read (as in flannel, --version works only on the command line): remove it`);
    throw new UsageError(`${name} is not a flanneld variable (no flag --${name.slice('FLANNELD_'.length).toLowerCase().replace(/_/g, '-')}): remove it or fix its name; flanneld --help lists every flag and its variable`);
  }
}

/** A flag's value through its parser and, for an address flag, the address check (empty means not set). */
function parseValue(spec: FlagSpec<unknown>, raw: unknown): unknown {
  const value = spec.parse(raw, spec.flag);
  if (spec.address === undefined || value === '') return value;
  const text = value as string;
  const ip = spec.address === 'any' ? (normalizeIP(4, text) ?? normalizeIP(6, text)) : normalizeIP(spec.address, text);
  if (ip === undefined) throw new UsageError(`--${spec.flag} must be an IPv${spec.address === 'any' ? '4 or IPv6' : spec.address} address, got "${text}"`);
  return ip;
}
