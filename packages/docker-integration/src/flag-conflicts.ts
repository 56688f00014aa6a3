/**
 * dockerd refuses to start when a setting is given both as a flag and in daemon.json ("the following directives
 * are specified both as a flag and in the configuration file"). After a restart that would leave the host with
 * no Docker at all, so the conflict is found before anything is written or restarted, from every place that
 * tells us dockerd's flags: the running dockerd's /proc/<pid>/cmdline, the systemd unit's ExecStart, flags the
 * user names (--dockerd-args), and, in env-file mode, the flags this tool itself hands to dockerd.
 */
import { DockerSetupError } from './errors.js';

/** Where dockerd's flags come from, e.g. `the running dockerd (pid 812)`, and the flags. */
export interface FlagSource {
  readonly label: string;
  readonly args: readonly string[];
}

export interface FlagConflict {
  /** The dockerd flag, e.g. `--bip`. */
  readonly flag: string;
  /** The daemon.json key, e.g. `bip`. */
  readonly key: string;
  readonly source: string;
  readonly file: string;
}

/** True when `args` sets the long flag `name` (`--bip`, `--bip=x`, `--bip x`). */
export function hasFlag(args: readonly string[], name: string): boolean {
  return args.some((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
}

/** The value of a long flag (`--config-file=x` or `--config-file x`); the last one given wins. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === `--${name}`) value = args[++i];
    else if (arg.startsWith(`--${name}=`)) value = arg.slice(name.length + 3);
  }
  return value;
}

/**
 * Splits a command line as sh would for plain words: whitespace separates, single and double quotes group,
 * backslash escapes. Variables stay as text (`$DOCKER_OPTS`); there is nothing to expand them from.
 */
export function splitCommandLine(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(current);
      current = '';
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (inWord) out.push(current);
  return out;
}

/** Every (flag source, daemon.json key) pair that dockerd would refuse. */
export function findFlagConflicts(sources: readonly FlagSource[], fileKeys: readonly string[], file: string): FlagConflict[] {
  const conflicts: FlagConflict[] = [];
  for (const key of fileKeys) {
    for (const source of sources) {
      if (hasFlag(source.args, key)) conflicts.push({ flag: `--${key}`, key, source: source.label, file });
    }
  }
  return conflicts;
}

export function formatFlagConflict(conflict: FlagConflict): string {
  return `${conflict.flag} is given both as a dockerd flag (in ${conflict.source}) and in ${conflict.file} ("${conflict.key}"): remove one`;
}

/** Throws FLAG_CONFLICT listing each conflict; `hint` says how this tool's mode relates to the fix. */
export function assertNoFlagConflicts(conflicts: readonly FlagConflict[], hint: string): void {
  if (conflicts.length === 0) return;
  const lines = conflicts.map(formatFlagConflict);
  throw new DockerSetupError(
    'FLAG_CONFLICT',
    `${lines.join('; ')}. dockerd refuses to start when a setting is both a flag and in its configuration file, so nothing was written or restarted. ${hint}`,
  );
}
