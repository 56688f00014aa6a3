/**
 * flannel-docker-setup's flags: one table (flag, mk-docker-opts short letter, default, parser, help, help section),
 * typed against SetupCliOptions so every option has exactly one entry. Parsing (node:util parseArgs, values kept
 * as given), defaults and --help all come from it.
 */
import { LOG_LEVELS, UsageError, type LogLevel } from '@flannel-ts/core/command-line';
import { DEFAULT_DAEMON_JSON, DEFAULT_DOCKER_HOST, DEFAULT_DOCKER_OPTS_FILE, DEFAULT_DOCKER_OPTS_KEY, isVariableName } from '@flannel-ts/docker-integration/options';
import { DEFAULT_SUBNET_FILE } from '@flannel-ts/subnet-env/paths';

export interface SetupCliOptions {
  readonly subnetFile: string;
  readonly waitSeconds: number;
  readonly optsFile: string | undefined;
  readonly individual: boolean;
  readonly combined: boolean;
  readonly key: string | undefined;
  readonly noIpMasq: boolean;
  readonly daemonJson: boolean;
  readonly daemonJsonFile: string | undefined;
  readonly restartCommand: string | undefined;
  readonly noRestart: boolean;
  readonly dockerUnit: string;
  readonly dockerHost: string | undefined;
  readonly dockerPidfile: string;
  readonly dockerdArgs: readonly string[];
  readonly bridge: string;
  readonly verifyTimeoutSeconds: number;
  readonly json: boolean;
  readonly logLevel: LogLevel;
}

export type Section = 'input' | 'env-file' | 'daemon-json' | 'restart' | 'verify' | 'output';

export interface FlagSpec<T> {
  readonly flag: string;
  /** mk-docker-opts' letter. */
  readonly short?: string;
  readonly kind: 'string' | 'boolean' | 'repeat';
  /** Placeholder in help, e.g. `FILE`. */
  readonly value?: string;
  readonly default: T;
  /** Shown instead of the default in help. */
  readonly shownDefault?: string;
  readonly help: string;
  readonly section: Section;
  readonly parse: (raw: string | boolean | string[], flag: string) => T;
}

const text = (raw: string | boolean | string[]): string => String(raw);
const optionalText = (raw: string | boolean | string[]): string | undefined => String(raw);
const bool = (raw: string | boolean | string[]): boolean => raw === true;
const list = (raw: string | boolean | string[]): string[] => (Array.isArray(raw) ? raw : [String(raw)]);
const seconds = (raw: string | boolean | string[], flag: string): number => {
  const value = String(raw);
  if (!/^\d{1,6}(\.\d+)?$/.test(value)) throw new UsageError(`--${flag} takes a number of seconds (0 or more), got "${value}"`);
  return Number(value);
};
const logLevel = (raw: string | boolean | string[], flag: string): LogLevel => {
  const value = String(raw);
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new UsageError(`--${flag} must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`);
  return value as LogLevel;
};
const variableName = (raw: string | boolean | string[], flag: string): string => {
  const value = String(raw);
  if (!isVariableName(value)) throw new UsageError(`--${flag} takes a shell variable name (letters, digits, _), got "${value}"`);
  return value;
};

export const FLAGS: { readonly [K in keyof SetupCliOptions]-?: FlagSpec<SetupCliOptions[K]> } = {
  subnetFile: { flag: 'subnet-file', short: 'f', kind: 'string', value: '<file>', default: DEFAULT_SUBNET_FILE, help: "flanneld's subnet.env (its --subnet-file)", section: 'input', parse: text },
  waitSeconds: { flag: 'wait', kind: 'string', value: '<seconds>', default: 60, help: 'how long to wait for subnet.env to appear; 0 looks once', section: 'input', parse: seconds },
  optsFile: { flag: 'opts-file', short: 'd', kind: 'string', value: '<file>', default: undefined, shownDefault: DEFAULT_DOCKER_OPTS_FILE, help: 'the env file to write', section: 'env-file', parse: optionalText },
  individual: { flag: 'individual', short: 'i', kind: 'boolean', default: false, help: 'write DOCKER_OPT_BIP, DOCKER_OPT_IPMASQ, DOCKER_OPT_MTU', section: 'env-file', parse: bool },
  combined: { flag: 'combined', short: 'c', kind: 'boolean', default: false, help: 'write the combined variable (neither -i nor -c: both)', section: 'env-file', parse: bool },
  key: { flag: 'key', short: 'k', kind: 'string', value: '<name>', default: undefined, shownDefault: DEFAULT_DOCKER_OPTS_KEY, help: 'name of the combined variable; its value in the environment is kept in front, as mk-docker-opts does', section: 'env-file', parse: variableName },
  noIpMasq: { flag: 'no-ip-masq', short: 'm', kind: 'boolean', default: false, help: 'leave ip-masq out (do not set Docker\'s --ip-masq)', section: 'env-file', parse: bool },
  daemonJson: { flag: 'daemon-json', kind: 'boolean', default: false, help: 'merge "bip", "mtu" and "ip-masq" into daemon.json instead of writing the env file', section: 'daemon-json', parse: bool },
  daemonJsonFile: { flag: 'daemon-json-file', kind: 'string', value: '<file>', default: undefined, shownDefault: `the running dockerd's --config-file, else ${DEFAULT_DAEMON_JSON}`, help: "Docker's daemon.json (written with --daemon-json; checked for clashing keys in env-file mode)", section: 'daemon-json', parse: optionalText },
  restartCommand: { flag: 'restart-command', kind: 'string', value: '<cmd>', default: undefined, help: 'restart Docker with this command (run with sh -c) instead of systemctl', section: 'restart', parse: optionalText },
  noRestart: { flag: 'no-restart', kind: 'boolean', default: false, help: 'never restart Docker; say whether it needs one (use before Docker starts, e.g. in a unit ordered before docker.service)', section: 'restart', parse: bool },
  dockerUnit: { flag: 'docker-unit', kind: 'string', value: '<name>', default: 'docker', help: "Docker's systemd unit", section: 'restart', parse: text },
  dockerPidfile: { flag: 'docker-pidfile', kind: 'string', value: '<file>', default: '/var/run/docker.pid', help: "the running dockerd's --pidfile: its command line is checked for flags that clash with daemon.json", section: 'restart', parse: text },
  dockerdArgs: { flag: 'dockerd-args', kind: 'repeat', value: '<args>', default: [], help: 'flags dockerd is started with that the host cannot show, checked the same way; repeatable (e.g. --dockerd-args="$DOCKER_OPTS" for /etc/default/docker)', section: 'restart', parse: list },
  dockerHost: { flag: 'docker-host', kind: 'string', value: '<url>', default: undefined, shownDefault: `$DOCKER_HOST, else ${DEFAULT_DOCKER_HOST}`, help: "the daemon's API socket, for verification", section: 'verify', parse: optionalText },
  bridge: { flag: 'bridge', kind: 'string', value: '<name>', default: 'docker0', help: "Docker's bridge (when the daemon does not name it)", section: 'verify', parse: text },
  verifyTimeoutSeconds: { flag: 'verify-timeout', kind: 'string', value: '<seconds>', default: 60, help: 'how long Docker may take to come back on the new options', section: 'verify', parse: seconds },
  json: { flag: 'json', kind: 'boolean', default: false, help: 'print the outcome as JSON', section: 'output', parse: bool },
  logLevel: { flag: 'log-level', kind: 'string', value: '<level>', default: 'info', help: `log on stderr from this level: ${LOG_LEVELS.join(', ')}`, section: 'output', parse: logLevel },
};

export const FLAG_LIST: readonly FlagSpec<unknown>[] = Object.values(FLAGS);
