/**
 * daemon.json mode: flannel's settings go into Docker's configuration file instead of dockerd flags.
 *
 *   {"log-level": "warn"}  ->  {"log-level": "warn", "bip": "10.1.74.1/24", "mtu": 1472, "ip-masq": false}
 *
 * Every other key, and the order of keys, stays as it was; the indentation of the file is kept. When the three
 * values are already there the text is returned untouched (nothing to write, nothing to restart). A file that is
 * not a JSON object is reported and never rewritten.
 */
import { DockerSetupError } from './errors.js';
import type { DockerNetworkOptions } from './docker-opts.js';


/** daemon.json key of each setting (the same names as the dockerd flags). */
export const DAEMON_JSON_KEYS = { bip: 'bip', mtu: 'mtu', ipMasq: 'ip-masq' } as const;

export interface DaemonJsonMerge {
  /** The text to write (the input itself when unchanged). */
  readonly text: string;
  readonly changed: boolean;
  /** The keys whose value was added or replaced. */
  readonly changedKeys: readonly string[];
}

export type JsonObject = Record<string, unknown>;

/** Parses daemon.json text (undefined: the file does not exist). Throws DAEMON_JSON_INVALID naming the file. */
export function parseDaemonJson(text: string | undefined, path: string): JsonObject {
  if (text === undefined || text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DockerSetupError('DAEMON_JSON_INVALID', `${path} is not valid JSON (${(err as Error).message}): fix it (dockerd would refuse it too); it was left unchanged`, { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DockerSetupError('DAEMON_JSON_INVALID', `${path} must hold a JSON object ({...}) of dockerd settings, not ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}; it was left unchanged`);
  }
  return value as JsonObject;
}

/** The key/value pairs for daemon.json; a setting that is absent is left as the file has it. */
export function daemonJsonEntries(options: DockerNetworkOptions): Array<[string, string | number | boolean]> {
  const out: Array<[string, string | number | boolean]> = [];
  if (options.bip !== undefined) out.push([DAEMON_JSON_KEYS.bip, options.bip]);
  if (options.mtu !== undefined) out.push([DAEMON_JSON_KEYS.mtu, options.mtu]);
  if (options.ipMasq !== undefined) out.push([DAEMON_JSON_KEYS.ipMasq, options.ipMasq]);
  return out;
}

export function mergeDaemonJson(text: string | undefined, options: DockerNetworkOptions, path: string): DaemonJsonMerge {
  const document = parseDaemonJson(text, path);
  const changedKeys: string[] = [];
  const merged: JsonObject = { ...document };
  for (const [key, value] of daemonJsonEntries(options)) {
    if (merged[key] === value) continue;
    merged[key] = value;
    changedKeys.push(key);
  }
  if (changedKeys.length === 0 && text !== undefined) return { text, changed: false, changedKeys };
  return { text: `${JSON.stringify(merged, null, detectIndent(text))}\n`, changed: true, changedKeys };
}

/** The indentation of the first indented line (tabs or spaces); two spaces for a new or one-line file. */
function detectIndent(text: string | undefined): string {
  const match = text === undefined ? null : /\n([ \t]+)\S/.exec(text);
  return match?.[1] ?? '  ';
}
