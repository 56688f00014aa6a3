/**
 * The plugin's network config as the runtime sends it on stdin, with flannel-io/cni-plugin's fields and defaults:
 *
 *   { "cniVersion": "1.0.0", "name": "mynet", "type": "flannel",
 *     "subnetFile": "/run/flannel/subnet.env", "dataDir": "/var/lib/cni/flannel",
 *     "delegate": { ... }, "ipam": { ... }, "runtimeConfig": { ... } }
 *
 * flannel's own fields are matched case-insensitively, as Go's json.Unmarshal does. Two differences from flannel,
 * both rejecting input flannel would pass on to break later: a missing `name` (host-local would keep its
 * allocations under the networks directory itself) and an empty `subnetFile`/`dataDir`.
 * `subnetFileWaitSeconds` is ours: how long ADD waits for subnet.env while flanneld starts (flannel fails at once).
 */
import { CNI_CODE, CniError } from './cni-error.js';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
export const DEFAULT_DATA_DIR = '/var/lib/cni/flannel';
export const DEFAULT_SUBNET_FILE_WAIT_SECONDS = 10;

/** The spec versions this plugin speaks; the result comes from the delegate, which speaks them too. */
export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;
export const CURRENT_VERSION = '1.0.0';

export type JsonObject = Record<string, unknown>;

export interface FlannelNetConf {
  /** As given; empty when absent (the spec then means 0.1.0, and the delegate gets no cniVersion, as flannel's). */
  readonly cniVersion: string;
  readonly name: string;
  readonly subnetFile: string;
  readonly dataDir: string;
  readonly subnetFileWaitSeconds: number;
  readonly delegate: JsonObject | undefined;
  readonly ipam: JsonObject | undefined;
  readonly runtimeConfig: JsonObject | undefined;
  readonly prevResult: JsonObject | undefined;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The cniVersion to answer in (errors included): the config's when we speak it (none given: 0.1.0), else ours. */
export function replyVersion(stdin: string): string {
  try {
    const raw = JSON.parse(stdin) as unknown;
    if (!isJsonObject(raw)) return CURRENT_VERSION;
    const version = raw['cniVersion'] ?? '0.1.0';
    return typeof version === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(version) ? version : CURRENT_VERSION;
  } catch {
    return CURRENT_VERSION;
  }
}

/** Compares dotted versions numerically: -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Decodes and validates stdin; throws CniError 6 (not JSON) or 7 (invalid) or 1 (version). */
export function parseNetConf(stdin: string): FlannelNetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CNI_CODE.DECODE_FAILED, `network config on stdin is not JSON: ${(err as Error).message}`, 'the runtime sends the network config (the conflist entry with "type": "flannel") on stdin');
  }
  if (!isJsonObject(raw)) throw new CniError(CNI_CODE.DECODE_FAILED, 'network config on stdin must be a JSON object');
  const field = fieldReader(raw);

  const cniVersion = field.string('cniVersion') ?? '';
  const effectiveVersion = cniVersion === '' ? '0.1.0' : cniVersion;
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(effectiveVersion)) {
    throw new CniError(
      CNI_CODE.INCOMPATIBLE_VERSION,
      `incompatible CNI versions; config is "${effectiveVersion}", plugin supports [${SUPPORTED_VERSIONS.map((v) => `"${v}"`).join(' ')}]`,
      `set "cniVersion" to one of ${SUPPORTED_VERSIONS.join(', ')} in the network config`,
    );
  }
  const name = field.string('name');
  if (name === undefined || name === '') {
    throw new CniError(CNI_CODE.INVALID_CONFIG, 'network config has no "name": give the network a name (the delegate and host-local key their state by it)');
  }
  const subnetFile = field.string('subnetFile') ?? DEFAULT_SUBNET_FILE;
  const dataDir = field.string('dataDir') ?? DEFAULT_DATA_DIR;
  for (const [key, value] of [['subnetFile', subnetFile], ['dataDir', dataDir]] as const) {
    if (value === '') throw new CniError(CNI_CODE.INVALID_CONFIG, `"${key}" is empty: remove it to use the default or give a path`);
  }
  const wait = field.get('subnetFileWaitSeconds');
  if (wait !== undefined && (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0 || wait > 600)) {
    throw new CniError(CNI_CODE.INVALID_CONFIG, `"subnetFileWaitSeconds" must be a number of seconds from 0 to 600, got ${JSON.stringify(wait)}`);
  }

  const delegate = field.object('delegate');
  if (delegate !== undefined) {
    if ('type' in delegate && typeof delegate['type'] !== 'string') {
      throw new CniError(CNI_CODE.INVALID_CONFIG, "'delegate' dictionary, if present, must have (string) 'type' field");
    }
    if ('name' in delegate) throw new CniError(CNI_CODE.INVALID_CONFIG, "'delegate' dictionary must not have 'name' field, it'll be set by flannel");
    if ('ipam' in delegate) throw new CniError(CNI_CODE.INVALID_CONFIG, "'delegate' dictionary must not have 'ipam' field, it'll be set by flannel: put IPAM settings in the top-level 'ipam'");
  }

  return {
    cniVersion,
    name,
    subnetFile,
    dataDir,
    subnetFileWaitSeconds: wait ?? DEFAULT_SUBNET_FILE_WAIT_SECONDS,
    delegate,
    ipam: field.object('ipam'),
    runtimeConfig: field.object('runtimeConfig'),
    prevResult: field.object('prevResult'),
  };
}

/** Reads fields as Go's json.Unmarshal would: keys match case-insensitively, the last match wins, null is absent. */
function fieldReader(raw: JsonObject) {
  const get = (wanted: string): unknown => {
    let found: unknown;
    const lower = wanted.toLowerCase();
    for (const [key, value] of Object.entries(raw)) if (key.toLowerCase() === lower) found = value;
    return found === null ? undefined : found;
  };
  return {
    get,
    string(key: string): string | undefined {
      const value = get(key);
      if (value === undefined || typeof value === 'string') return value;
      throw new CniError(CNI_CODE.INVALID_CONFIG, `"${key}" must be a string, got ${JSON.stringify(value)}`);
    },
    object(key: string): JsonObject | undefined {
      const value = get(key);
      if (value === undefined || isJsonObject(value)) return value;
      throw new CniError(CNI_CODE.INVALID_CONFIG, `"${key}" must be a JSON object, got ${JSON.stringify(value)}`);
    },
  };
}
