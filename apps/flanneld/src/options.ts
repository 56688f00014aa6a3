/**
 * flanneld's flags: one table gives each option its flannel flag name, its FLANNELD_<NAME> variable, its default,
 * its parser and its help text; `--help` and the environment overlay are both generated from it. A mapped type
 * makes every field of FlanneldOptions appear in the table.
 *
 * Like flannel: `-flag=value`, `-flag value`, `--flag=value` all work (Go flag syntax), and an environment variable
 * applies only to flags not given on the command line. Unlike flannel: an unknown flag or a bad value is a usage
 * error (exit 2), not exit 0 (fixes flannel quirk 13).
 */
import { parseArgs as parseNodeArgs } from 'node:util';
import { DEFAULT_ETCD_ENDPOINTS, DEFAULT_ETCD_PREFIX, LOG_LEVELS, UsageError, endpointProblem, errorMessage, type LogLevel } from '@flannel-ts/core/command-line';
import { DEFAULT_SUBNET_FILE } from '@flannel-ts/subnet-env/paths';

export interface FlanneldOptions {
  readonly etcdEndpoints: readonly string[];
  readonly etcdPrefix: string;
  readonly etcdKeyfile: string;
  readonly etcdCertfile: string;
  readonly etcdCafile: string;
  readonly etcdUsername: string;
  readonly etcdPassword: string;
  readonly iface: readonly string[];
  readonly ifaceRegex: readonly string[];
  readonly ifaceCanReach: string;
  readonly publicIp: string;
  readonly publicIpv6: string;
  readonly subnetFile: string;
  readonly subnetLeaseRenewMargin: number;
  readonly subnetLeaseTtl: number;
  readonly ipMasq: boolean;
  readonly ipMasqFullyRandomDisable: boolean;
  readonly iptablesResync: number;
  readonly iptablesForwardRules: boolean;
  readonly ipBlackholeRoute: boolean;
  readonly healthzIp: string;
  readonly healthzPort: number;
  readonly readinessEtcdTimeout: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** klog's -v; 1 or more means debug unless --log-level is given. */
  readonly verbosity: number;
  readonly version: boolean;
}

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface FlagSpec<T> {
  /** flannel's flag name, without dashes. */
  readonly flag: string;
  readonly kind: 'string' | 'list' | 'repeat' | 'bool' | 'int';
  readonly default: T;
  readonly help: string;
  readonly parse: (raw: unknown, flag: string) => T;
  /**
   * An address flag: after `parse`, resolve.ts checks the text is an address of this family ('any': either) and
   * writes it in canonical form. Kept out of `parse` so the table, which --help reads, needs no IP code.
   */
  readonly address?: 4 | 6 | 'any';
  /** Shown in --help instead of the default. */
  readonly placeholder?: string;
  /** flannel ignores FLANNELD_VERSION; so do we. */
  readonly noEnv?: boolean;
}

export const str = (raw: unknown, flag: string): string => {
  if (typeof raw === 'boolean') throw new UsageError(`--${flag} needs a value, e.g. --${flag}=VALUE`);
  return String(raw);
};

const list = (raw: unknown, flag: string): string[] =>
  str(raw, flag)
    .split(',')
    .filter((s) => s !== '');

const endpoints = (raw: unknown, flag: string): string[] => {
  const values = list(raw, flag);
  if (values.length === 0) throw new UsageError(`--${flag} needs at least one endpoint, e.g. --${flag}=http://127.0.0.1:2379`);
  for (const endpoint of values) {
    const problem = endpointProblem(endpoint);
    if (problem) throw new UsageError(problem);
  }
  return values;
};

const repeat = (raw: unknown, flag: string): string[] => (Array.isArray(raw) ? raw : [raw]).map((item) => str(item, flag));

export const bool = (raw: unknown, flag: string): boolean => {
  if (typeof raw === 'boolean') return raw;
  const text = String(raw).toLowerCase();
  // Go's strconv.ParseBool spellings.
  if (['1', 't', 'true'].includes(text)) return true;
  if (['0', 'f', 'false'].includes(text)) return false;
  throw new UsageError(`--${flag} takes true or false, got "${String(raw)}"`);
};

const int =
  (min: number, max: number) =>
  (raw: unknown, flag: string): number => {
    const text = str(raw, flag);
    const value = Number(text);
    if (!/^-?\d+$/.test(text) || value < min || value > max) {
      throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got "${text}"`);
    }
    return value;
  };

const regexList = (raw: unknown, flag: string): string[] => {
  const values = repeat(raw, flag);
  for (const value of values) {
    try {
      new RegExp(value);
    } catch (err) {
      throw new UsageError(`--${flag} "${value}" is not a valid regular expression: ${(err as Error).message}`);
    }
  }
  return values;
};

const logFormat = (raw: unknown, flag: string): LogFormat => {
  const text = str(raw, flag);
  if (!(LOG_FORMATS as readonly string[]).includes(text)) throw new UsageError(`--${flag} must be one of ${LOG_FORMATS.join(', ')}, got "${text}"`);
  return text as LogFormat;
};

const logLevel = (raw: unknown, flag: string): LogLevel => {
  const text = str(raw, flag);
  if (!(LOG_LEVELS as readonly string[]).includes(text)) throw new UsageError(`--${flag} must be one of ${LOG_LEVELS.join(', ')}, got "${text}"`);
  return text as LogLevel;
};

export const FLAGS: { readonly [K in keyof FlanneldOptions]: FlagSpec<FlanneldOptions[K]> } = {
  etcdEndpoints: { flag: 'etcd-endpoints', kind: 'list', default: [...DEFAULT_ETCD_ENDPOINTS], parse: endpoints, help: 'a comma-delimited list of etcd endpoints' },
  etcdPrefix: { flag: 'etcd-prefix', kind: 'string', default: DEFAULT_ETCD_PREFIX, parse: str, help: 'etcd prefix of the network config and leases' },
  etcdKeyfile: { flag: 'etcd-keyfile', kind: 'string', default: '', parse: str, help: 'SSL key file used to secure etcd communication' },
  etcdCertfile: { flag: 'etcd-certfile', kind: 'string', default: '', parse: str, help: 'SSL certification file used to secure etcd communication' },
  etcdCafile: { flag: 'etcd-cafile', kind: 'string', default: '', parse: str, help: 'SSL Certificate Authority file used to secure etcd communication' },
  etcdUsername: { flag: 'etcd-username', kind: 'string', default: '', parse: str, help: 'username for etcd authentication' },
  etcdPassword: { flag: 'etcd-password', kind: 'string', default: '', parse: str, help: 'password for etcd authentication' },
  iface: { flag: 'iface', kind: 'repeat', default: [], parse: repeat, help: 'interface to use (IP or name) for inter-host communication; repeat to try several in order', placeholder: 'none' },
  ifaceRegex: { flag: 'iface-regex', kind: 'repeat', default: [], parse: regexList, help: 'regex matching the IP (then the name) of the interface to use; repeatable, tried after --iface', placeholder: 'none' },
  ifaceCanReach: { flag: 'iface-can-reach', kind: 'string', default: '', parse: str, address: 'any', help: 'use the interface and source address the kernel routes this IPv4 or IPv6 address through (`ip route get ADDR`); tried after --iface and --iface-regex', placeholder: 'none' },
  publicIp: { flag: 'public-ip', kind: 'string', default: '', parse: str, address: 4, help: 'IPv4 address other hosts reach this one at (default: the interface address)' },
  publicIpv6: { flag: 'public-ipv6', kind: 'string', default: '', parse: str, address: 6, help: 'IPv6 address other hosts reach this one at (default: the interface address)' },
  subnetFile: { flag: 'subnet-file', kind: 'string', default: DEFAULT_SUBNET_FILE, parse: str, help: 'file the subnet, network and MTU are written to' },
  subnetLeaseRenewMargin: { flag: 'subnet-lease-renew-margin', kind: 'int', default: 60, parse: int(1, 1439), help: 'renew the subnet lease this many minutes before it expires (1-1439)' },
  subnetLeaseTtl: { flag: 'subnet-lease-ttl', kind: 'int', default: 86400, parse: int(10, 31_536_000), help: "TTL of the subnet lease in seconds (flannel's fixed 24 h; not a flannel flag, for labs and tests)" },
  ipMasq: { flag: 'ip-masq', kind: 'bool', default: false, parse: bool, help: 'set up IP masquerade for traffic leaving the flannel network (chain FLANNEL-POSTRTG, or nftables table flannel-ipv4); also FLANNEL_IPMASQ in subnet.env' },
  ipMasqFullyRandomDisable: { flag: 'ip-masq-fully-random-disable', kind: 'bool', default: false, parse: bool, help: 'do not add --random-fully (fully-random) to the masquerade rules' },
  iptablesResync: { flag: 'iptables-resync', kind: 'int', default: 5, parse: int(1, 86400), help: 'check the firewall rules every N seconds and repair them when missing' },
  iptablesForwardRules: { flag: 'iptables-forward-rules', kind: 'bool', default: true, parse: bool, help: 'add FORWARD accept rules for the flannel network (chain FLANNEL-FWD); --iptables-forward-rules=false to leave FORWARD alone' },
  ipBlackholeRoute: { flag: 'ip-blackhole-route', kind: 'bool', default: false, parse: bool, help: "keep a blackhole route for this host's own subnet (IPv4 and IPv6), checked every --iptables-resync seconds, so packets to its unused addresses are dropped instead of leaving by the default route; without the flag a leftover one is removed" },
  healthzIp: { flag: 'healthz-ip', kind: 'string', default: '0.0.0.0', parse: str, address: 4, help: 'address the health check server listens on' },
  healthzPort: { flag: 'healthz-port', kind: 'int', default: 0, parse: int(0, 65535), help: 'port of the health check server (/healthz, /readyz); 0 disables it' },
  readinessEtcdTimeout: { flag: 'readiness-etcd-timeout', kind: 'int', default: 60, parse: int(1, 86400), help: '/readyz turns 503 once etcd has been unreachable this many seconds (not a flannel flag)' },
  logLevel: { flag: 'log-level', kind: 'string', default: 'info', parse: logLevel, help: `log level: ${LOG_LEVELS.join(', ')}` },
  logFormat: { flag: 'log-format', kind: 'string', default: 'text', parse: logFormat, help: 'log lines on stderr as text (time level component msg key=value) or json (one object a line: time, level, component, msg, then the fields; not a flannel flag)' },
  verbosity: { flag: 'v', kind: 'int', default: 0, parse: int(0, 10), help: "flannel's klog verbosity: 1 or more logs at debug level, unless --log-level is given" },
  version: { flag: 'version', kind: 'bool', default: false, parse: bool, help: 'print the version and exit', noEnv: true },
};

/**
 * flannel flags this build does not implement. Each is an error naming why, never silently ignored: falling back
 * to etcd when the operator asked for the Kubernetes subnet manager would pick the wrong store and interface. The
 * value flannel itself uses outside Kubernetes mode (`--kube-subnet-mgr=false`) is accepted.
 */
export interface UnsupportedFlag {
  readonly flag: string;
  readonly kind: 'bool' | 'string';
  /** A value that means "off" and is accepted, e.g. false for --kube-subnet-mgr. */
  readonly harmless?: boolean;
  readonly why: string;
}

const KUBE = "is a Kubernetes-mode flag, and flannel-ts supports only the etcd subnet manager: remove it and point flanneld at etcd with --etcd-endpoints (Kubernetes mode is not supported)";
const KLOG = 'is a klog flag flannel-ts does not implement: use --log-level or -v instead';

export const UNSUPPORTED_FLAGS: readonly UnsupportedFlag[] = [
  { flag: 'kube-subnet-mgr', kind: 'bool', harmless: false, why: KUBE },
  { flag: 'kube-api-url', kind: 'string', why: KUBE },
  { flag: 'kube-annotation-prefix', kind: 'string', why: KUBE },
  { flag: 'kubeconfig-file', kind: 'string', why: KUBE },
  { flag: 'net-config-path', kind: 'string', why: KUBE },
  { flag: 'set-node-network-unavailable', kind: 'bool', harmless: true, why: KUBE },
  { flag: 'vmodule', kind: 'string', why: KLOG },
  { flag: 'log_backtrace_at', kind: 'string', why: KLOG },
];

/** FLANNELD_* variables that are not flags but are read by the systemd unit (deploy/systemd/flanneld.service). */
export const UNIT_VARIABLES: readonly string[] = ['FLANNELD_EXTRA_ARGS'];

export function envName(flag: string): string {
  return `FLANNELD_${flag.toUpperCase().replace(/[-.]/g, '_')}`;
}

/**
 * Go's flag package accepts `-name=value` and `-name value`; node:util parseArgs wants `--name`. Rewrite single-dash
 * long flags to `--name`, Go booleans without a value to `--name=true`, and flannel's klog `-v N` / `-v=N` to
 * `--v=N`.
 */
export function normalizeArgv(argv: readonly string[]): string[] {
  const boolFlags = new Set([...Object.values(FLAGS), ...UNSUPPORTED_FLAGS].filter((spec) => spec.kind === 'bool').map((spec) => spec.flag));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const verbosity = /^--?v(?:=(\d+))?$/.exec(arg);
    if (verbosity) {
      const level = verbosity[1] ?? (argv[i + 1] !== undefined && /^\d+$/.test(argv[i + 1]!) ? argv[++i]! : '1');
      out.push(`--v=${level}`);
      continue;
    }
    const long = /^--?([a-z][a-z0-9_-]+)(=.*)?$/s.exec(arg);
    if (!long) {
      out.push(arg);
      continue;
    }
    const [, name = '', value] = long;
    // Go booleans take no separate value: `-ip-masq` means true, `-ip-masq=false` false.
    out.push(value === undefined && boolFlags.has(name) ? `--${name}=true` : `--${name}${value ?? ''}`);
  }
  return out;
}

/** What the command line asks for, read without the environment: help, the version, or options to resolve. */
export type CommandLine =
  | { kind: 'help' }
  | { kind: 'version' }
  | {
      kind: 'resolve';
      /** Flag values as given, by option name (camelCase). */
      raw: Readonly<Record<string, unknown>>;
      /** Values of flags this build does not implement, by flag name. */
      unsupported: Readonly<Record<string, unknown>>;
    };

/**
 * The grammar pass: unknown flags, missing values and stray arguments are usage errors; --help and --version are
 * answered here, before the environment is read (as flannel does), so they need nothing beyond this table.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
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
  return { kind: 'resolve', raw, unsupported };
}
