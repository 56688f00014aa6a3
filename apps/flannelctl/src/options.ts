/**
 * Reading the command line: the etcd flags flannelctl shares with flanneld (one table, with each flag's
 * FLANNELD_<NAME> variable, default, parser and help), Go-style flag spelling, and typed access to raw flag values.
 *
 * Values are read from the argument tokens here, not from cac's parse result: cac (through mri) turns any
 * number-looking value into a number, so `--etcd-password 007` would arrive as 7. cac still decides which flags
 * exist, which need a value, and how many arguments a command takes (see cli.ts).
 */
import { DEFAULT_ETCD_ENDPOINTS, DEFAULT_ETCD_PREFIX, UsageError, endpointProblem } from '@flannel-ts/core/command-line';

export interface EtcdCliOptions {
  readonly etcdEndpoints: readonly string[];
  readonly etcdPrefix: string;
  readonly etcdCafile: string | undefined;
  readonly etcdCertfile: string | undefined;
  readonly etcdKeyfile: string | undefined;
  readonly etcdUsername: string | undefined;
  readonly etcdPassword: string | undefined;
}

export interface FlagSpec<T> {
  /** Flag name without dashes, as flanneld spells it. */
  readonly flag: string;
  /** Placeholder shown in help, e.g. `<list>`. */
  readonly value: string;
  readonly default: T;
  readonly help: string;
  readonly parse: (raw: string, flag: string) => T;
}

const text = (raw: string): string => raw;
const list = (raw: string): string[] =>
  raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

/** Every etcd flag; the mapped type makes each field of EtcdCliOptions appear exactly once. */
export const ETCD_FLAGS: { readonly [K in keyof EtcdCliOptions]-?: FlagSpec<EtcdCliOptions[K]> } = {
  etcdEndpoints: {
    flag: 'etcd-endpoints',
    value: '<list>',
    default: [...DEFAULT_ETCD_ENDPOINTS],
    help: 'comma-separated etcd endpoints',
    parse: (raw) => {
      const endpoints = list(raw);
      for (const endpoint of endpoints) {
        const problem = endpointProblem(endpoint);
        if (problem) throw new UsageError(problem);
      }
      return endpoints;
    },
  },
  etcdPrefix: { flag: 'etcd-prefix', value: '<path>', default: DEFAULT_ETCD_PREFIX, help: 'etcd prefix of the flannel network', parse: text },
  etcdCafile: { flag: 'etcd-cafile', value: '<file>', default: undefined, help: 'CA certificate (PEM) that verifies the etcd server', parse: text },
  etcdCertfile: { flag: 'etcd-certfile', value: '<file>', default: undefined, help: 'client certificate (PEM); needs --etcd-keyfile', parse: text },
  etcdKeyfile: { flag: 'etcd-keyfile', value: '<file>', default: undefined, help: 'client private key (PEM); needs --etcd-certfile', parse: text },
  etcdUsername: { flag: 'etcd-username', value: '<name>', default: undefined, help: 'etcd username (etcd v3 auth)', parse: text },
  etcdPassword: { flag: 'etcd-password', value: '<password>', default: undefined, help: 'etcd password', parse: text },
};

export const ETCD_FLAG_LIST: readonly FlagSpec<unknown>[] = Object.values(ETCD_FLAGS);

/** `etcd-endpoints` -> `FLANNELD_ETCD_ENDPOINTS`, flanneld's naming. */
export function envName(flag: string): string {
  return `FLANNELD_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Command line first, then FLANNELD_<NAME> (a non-empty value, as flannel's flagutil), then the default. */
export function resolveEtcdOptions(args: ArgReader, env: Env): EtcdCliOptions {
  const pick = <T>(spec: FlagSpec<T>): T => {
    const given = args.last(spec.flag);
    if (given !== undefined) return spec.parse(given, spec.flag);
    const fromEnv = env[envName(spec.flag)];
    if (fromEnv !== undefined && fromEnv !== '') return spec.parse(fromEnv, spec.flag);
    return spec.default;
  };
  const resolved = {} as Record<keyof EtcdCliOptions, unknown>;
  for (const key of Object.keys(ETCD_FLAGS) as (keyof EtcdCliOptions)[]) resolved[key] = pick(ETCD_FLAGS[key] as FlagSpec<unknown>);
  return Object.freeze(resolved) as unknown as EtcdCliOptions;
}

/**
 * Go's flag package accepts `-etcd-endpoints=x`; cac would read that as the one-letter flags e, t, c, ... So a
 * single-dash flag whose name is longer than one letter gets a second dash. Tokens after `--` are left alone.
 */
export function normalizeGoFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  let rest = false;
  for (const token of argv) {
    if (token === '--') rest = true;
    out.push(!rest && /^-[A-Za-z][A-Za-z0-9-]+(=.*)?$/s.test(token) ? `-${token}` : token);
  }
  return out;
}

const TRUE_WORDS = ['1', 't', 'true'];
const FALSE_WORDS = ['0', 'f', 'false'];

/**
 * Raw flag values from normalised tokens, read the way cac's parser splits them: `--flag=value`, or `--flag value`
 * when the next token does not start with `-`. Booleans never take the next token.
 */
export class ArgReader {
  readonly #tokens: readonly string[];

  constructor(tokens: readonly string[]) {
    const end = tokens.indexOf('--');
    this.#tokens = end < 0 ? tokens : tokens.slice(0, end);
  }

  /** Every value given for a value-taking flag, in order. */
  all(flag: string): string[] {
    const values: string[] = [];
    const tokens = this.#tokens;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i]!;
      if (token === `--${flag}`) {
        const next = tokens[i + 1];
        if (next === undefined || next.startsWith('-')) throw new UsageError(`--${flag} needs a value, e.g. --${flag}=VALUE`);
        values.push(next);
        i++;
      } else if (token.startsWith(`--${flag}=`)) {
        values.push(token.slice(flag.length + 3));
      }
    }
    return values;
  }

  /** The last value given for a value-taking flag (a repeated flag overrides, as in Go). */
  last(flag: string): string | undefined {
    return this.all(flag).at(-1);
  }

  /** A boolean flag: `--flag`, `--flag=true|false` (Go's spellings); undefined when absent. */
  bool(flag: string): boolean | undefined {
    let value: boolean | undefined;
    for (const token of this.#tokens) {
      if (token === `--${flag}`) value = true;
      else if (token.startsWith(`--${flag}=`)) {
        const word = token.slice(flag.length + 3).toLowerCase();
        if (TRUE_WORDS.includes(word)) value = true;
        else if (FALSE_WORDS.includes(word)) value = false;
        else throw new UsageError(`--${flag} takes true or false, got "${token.slice(flag.length + 3)}"`);
      }
    }
    return value;
  }

  /**
   * A duration flag in milliseconds: `500ms`, `2s`, `90m`, `1h`, `1h30m`, or a bare number in `bareUnit` (so
   * `--expiry-warning 60` means minutes, as flanneld's --subnet-lease-renew-margin). Anything else is a usage error.
   */
  duration(flag: string, bareUnit: DurationUnit): number | undefined {
    const raw = this.last(flag);
    if (raw === undefined) return undefined;
    const ms = parseDuration(raw, bareUnit);
    if (ms === undefined) throw new UsageError(`--${flag} takes a duration such as 500ms, 2s, 90m or 1h, got "${raw}"`);
    return ms;
  }

  /** A whole-number flag; a value that is not one is a usage error. */
  int(flag: string): number | undefined {
    const raw = this.last(flag);
    if (raw === undefined) return undefined;
    if (!/^\d{1,9}$/.test(raw)) throw new UsageError(`--${flag} takes a whole number, got "${raw}"`);
    return Number(raw);
  }
}

export type DurationUnit = 'ms' | 's' | 'm' | 'h';

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `1h30m` -> 5400000; a bare number is in `bareUnit`; undefined when the text is not a duration. */
export function parseDuration(text: string, bareUnit: DurationUnit): number | undefined {
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * UNIT_MS[bareUnit]);
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, value, , unit] of text.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) total += Number(value) * UNIT_MS[unit as DurationUnit];
  return Math.round(total);
}
