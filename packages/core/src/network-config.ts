/**
 * flannel's network config: the JSON document at `<prefix>/config` (flannel-compat.md §2).
 *
 * `resolveNetworkConfig` reads the JSON the way Go's encoding/json does (case-insensitive keys, unknown keys
 * ignored), applies flannel's defaults and validation (`subnet.CheckNetworkConfig`) and returns a new, frozen
 * value: the input is never mutated. Differences from flannel, all stricter and all reported with the fix:
 * `IPv6Network` must be IPv6, `SubnetMin` must not exceed `SubnetMax`, a non-object `Backend` or one without a
 * `Type` is rejected here instead of failing later, and a config with both families disabled is rejected.
 */
import { ConfigError } from './errors.js';
import { goJsonStringify, isPlainObject, matchFields } from './go-json.js';
import { IpNet, familyBits, formatIP, parseIP, specialRangesOverlapping, type IpFamily } from './ip.js';

/** The config JSON as stored (any key spelling). */
export type NetworkConfigInput = Readonly<Record<string, unknown>>;

/** The subnets one address family hands out: every `subnetLen` subnet from `subnetMin` to `subnetMax`. */
export interface SubnetPool {
  readonly family: IpFamily;
  readonly network: IpNet;
  readonly subnetLen: number;
  /** First allocatable subnet (prefix length `subnetLen`). */
  readonly subnetMin: IpNet;
  /** Last allocatable subnet (prefix length `subnetLen`). */
  readonly subnetMax: IpNet;
}

export interface NetworkConfig {
  readonly enableIPv4: boolean;
  readonly enableIPv6: boolean;
  readonly enableNFTables: boolean;
  /** Present exactly when `enableIPv4`. */
  readonly ipv4: SubnetPool | undefined;
  /** Present exactly when `enableIPv6`. */
  readonly ipv6: SubnetPool | undefined;
  /** `Backend.Type`, lower-cased (flannel looks backends up case-insensitively). */
  readonly backendType: string;
  /** The `Backend` object as stored, for the backend's own parser. */
  readonly backend: Readonly<Record<string, unknown>>;
}

const CONFIG_FIELDS = [
  'Network',
  'IPv6Network',
  'EnableIPv4',
  'EnableIPv6',
  'EnableNFTables',
  'SubnetLen',
  'SubnetMin',
  'SubnetMax',
  'IPv6SubnetLen',
  'IPv6SubnetMin',
  'IPv6SubnetMax',
  'Backend',
] as const;

/** flannel's default when `Backend` is absent (its docs say vxlan, its code says udp: we follow the code). */
export const DEFAULT_BACKEND_TYPE = 'udp';

interface FamilyFieldNames {
  network: 'Network' | 'IPv6Network';
  len: 'SubnetLen' | 'IPv6SubnetLen';
  min: 'SubnetMin' | 'IPv6SubnetMin';
  max: 'SubnetMax' | 'IPv6SubnetMax';
}

const FIELD_NAMES: Record<IpFamily, FamilyFieldNames> = {
  4: { network: 'Network', len: 'SubnetLen', min: 'SubnetMin', max: 'SubnetMax' },
  6: { network: 'IPv6Network', len: 'IPv6SubnetLen', min: 'IPv6SubnetMin', max: 'IPv6SubnetMax' },
};

/** Per family: the largest SubnetLen, the smallest useful network, and the default SubnetLen threshold. */
const LIMITS: Record<IpFamily, { maxSubnetLen: number; maxNetworkPrefix: number; wideNetworkPrefix: number; wideSubnetLen: number; example: string }> = {
  4: { maxSubnetLen: 30, maxNetworkPrefix: 28, wideNetworkPrefix: 22, wideSubnetLen: 24, example: '10.1.0.0/16' },
  6: { maxSubnetLen: 126, maxNetworkPrefix: 124, wideNetworkPrefix: 62, wideSubnetLen: 64, example: 'fc00:0:0:1::/56' },
};

/** Parses and resolves the config text stored in etcd. Throws `ConfigError` naming the field and the fix. */
export function parseNetworkConfig(text: string): NetworkConfig {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('config', `network config is not valid JSON (${(err as Error).message}): write a JSON object such as {"Network":"10.1.0.0/16"}`, { cause: err });
  }
  return resolveNetworkConfig(input);
}

export function resolveNetworkConfig(input: unknown): NetworkConfig {
  if (!isPlainObject(input)) {
    throw new ConfigError('config', 'network config must be a JSON object such as {"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}');
  }
  const fields = matchFields(input, CONFIG_FIELDS);
  const enableIPv4 = readBool(fields, 'EnableIPv4', true);
  const enableIPv6 = readBool(fields, 'EnableIPv6', false);
  const enableNFTables = readBool(fields, 'EnableNFTables', false);
  if (!enableIPv4 && !enableIPv6) {
    throw new ConfigError('EnableIPv4', 'EnableIPv4 and EnableIPv6 are both false: enable at least one address family');
  }
  const ipv4 = enableIPv4 ? resolvePool(4, fields) : undefined;
  const ipv6 = enableIPv6 ? resolvePool(6, fields) : undefined;
  const { backendType, backend } = resolveBackend(fields.Backend, 'Backend' in fields);
  return Object.freeze({ enableIPv4, enableIPv6, enableNFTables, ipv4, ipv6, backendType, backend });
}

function readBool(fields: Partial<Record<string, unknown>>, name: string, fallback: boolean): boolean {
  const value = fields[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(name, `${name} must be true or false, got ${goJsonStringify(value)}`);
  return value;
}

function resolvePool(family: IpFamily, fields: Partial<Record<string, unknown>>): SubnetPool {
  const names = FIELD_NAMES[family];
  const limits = LIMITS[family];
  const rawNetwork = fields[names.network];
  const defineHint = `please define a correct ${names.network} parameter in the flannel config, e.g. "${limits.example}"`;
  if (rawNetwork === undefined) throw new ConfigError(names.network, `${names.network} is missing: ${defineHint}`);
  if (typeof rawNetwork !== 'string') {
    throw new ConfigError(names.network, `${names.network} must be a CIDR string, got ${goJsonStringify(rawNetwork)}: ${defineHint}`);
  }
  const parsed = IpNet.parse(rawNetwork);
  if (parsed === undefined) {
    throw new ConfigError(names.network, `${names.network} "${rawNetwork}" is not a CIDR (address/prefix): ${defineHint}`);
  }
  if (parsed.family !== family) {
    throw new ConfigError(names.network, `${names.network} "${rawNetwork}" is not an IPv${family} CIDR: ${defineHint}`);
  }
  const network = parsed.masked();
  if (network.prefixLength === 0 && network.address === 0n) {
    throw new ConfigError(names.network, `${names.network} "${rawNetwork}" is empty: ${defineHint}`);
  }
  // Routes for loopback, multicast or "this network" addresses would break the host, not build an overlay.
  const special = specialRangesOverlapping(network);
  if (special.length > 0) {
    const what = special.map((r) => `the ${r.kind} range ${r.range}`).join(' and ');
    throw new ConfigError(names.network, `${names.network} "${rawNetwork}" overlaps ${what}: hosts cannot be given subnets there; ${defineHint}`);
  }

  const subnetLen = resolveSubnetLen(family, names, network, fields[names.len]);
  const size = 1n << BigInt(familyBits(family) - subnetLen);
  const subnetMin = resolveBound(family, names.min, fields[names.min], network, subnetLen, network.first + size, names.network);
  const subnetMax = resolveBound(family, names.max, fields[names.max], network, subnetLen, network.first + network.size - size, names.network);
  if (subnetMin.address > subnetMax.address) {
    throw new ConfigError(
      names.min,
      `${names.min} ${subnetMin.ipText()} is greater than ${names.max} ${subnetMax.ipText()}: no subnet could ever be allocated; swap or fix them`,
    );
  }
  return Object.freeze({ family, network, subnetLen, subnetMin, subnetMax });
}

function resolveSubnetLen(family: IpFamily, names: FamilyFieldNames, network: IpNet, raw: unknown): number {
  const limits = LIMITS[family];
  if (raw !== undefined && raw !== null && (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0)) {
    throw new ConfigError(names.len, `${names.len} must be a whole number such as ${limits.wideSubnetLen}, got ${goJsonStringify(raw)}`);
  }
  const given = typeof raw === 'number' ? raw : 0;
  if (given > 0) {
    if (given > limits.maxSubnetLen) {
      throw new ConfigError(names.len, `${names.len} must be less than /${limits.maxSubnetLen + 1}: ${given} leaves no room for hosts; use ${limits.maxSubnetLen} or less`);
    }
    if (given < network.prefixLength + 2) {
      throw new ConfigError(
        names.len,
        `network must be able to accommodate at least four subnets: ${names.len} ${given} in a /${network.prefixLength} gives fewer; use ${names.len} ${network.prefixLength + 2} or more, or a larger ${names.network}`,
      );
    }
    return given;
  }
  if (network.prefixLength > limits.maxNetworkPrefix) {
    // flannel's exact phrases: `network is too small...` for IPv4, `IPv6Network is too small...` for IPv6.
    const subject = family === 4 ? 'network' : names.network;
    throw new ConfigError(
      names.network,
      `${subject} is too small. Minimum useful network prefix is /${limits.maxNetworkPrefix}: "${network}" is a /${network.prefixLength}; use a /${limits.maxNetworkPrefix} or larger network`,
    );
  }
  return network.prefixLength <= limits.wideNetworkPrefix ? limits.wideSubnetLen : network.prefixLength + 2;
}

function resolveBound(
  family: IpFamily,
  name: string,
  raw: unknown,
  network: IpNet,
  subnetLen: number,
  fallback: bigint,
  networkName: string,
): IpNet {
  if (raw === undefined || raw === null || raw === '') return new IpNet(family, fallback, subnetLen);
  const parsed = typeof raw === 'string' ? parseIP(raw) : undefined;
  if (parsed === undefined || parsed.family !== family) {
    throw new ConfigError(name, `${name} must be an IPv${family} address string such as "${network.addressText(1n << BigInt(familyBits(family) - subnetLen))}", got ${goJsonStringify(raw)}`);
  }
  if (parsed.value === 0n) return new IpNet(family, fallback, subnetLen);
  const text = formatIP(family, parsed.value);
  if (!network.containsAddress(parsed.value)) {
    throw new ConfigError(name, `${name} is not in the range of the ${networkName}: ${text} is outside ${network}; pick an address inside it`);
  }
  const bound = new IpNet(family, parsed.value, subnetLen);
  if (!bound.isMasked()) {
    throw new ConfigError(name, `${name} is not on a SubnetLen boundary: ${text}; use ${formatIP(family, bound.first)} (the /${subnetLen} it falls in)`);
  }
  return bound;
}

function resolveBackend(raw: unknown, present: boolean): { backendType: string; backend: Readonly<Record<string, unknown>> } {
  if (!present || raw === undefined) return { backendType: DEFAULT_BACKEND_TYPE, backend: Object.freeze({ Type: DEFAULT_BACKEND_TYPE }) };
  if (!isPlainObject(raw)) {
    throw new ConfigError('Backend', `Backend must be an object such as {"Type":"vxlan"}, got ${goJsonStringify(raw)}`);
  }
  const { Type: type } = matchFields(raw, ['Type'] as const);
  if (typeof type !== 'string' || type === '') {
    throw new ConfigError('Backend.Type', `Backend.Type is missing or not a string: set it, e.g. {"Backend":{"Type":"vxlan"}}`);
  }
  return { backendType: type.toLowerCase(), backend: Object.freeze({ ...raw }) };
}

/** Number of subnets the pool can hand out. */
export function poolCapacity(pool: SubnetPool): bigint {
  return (pool.subnetMax.address - pool.subnetMin.address) / pool.subnetMin.size + 1n;
}

/** True when `subnet` is one the pool could have handed out (flannel's "compatible with the config" test). */
export function poolAccepts(pool: SubnetPool, subnet: IpNet): boolean {
  return (
    subnet.family === pool.family &&
    subnet.prefixLength === pool.subnetLen &&
    subnet.address >= pool.subnetMin.address &&
    subnet.address <= pool.subnetMax.address
  );
}

/** The config with every default filled in, in flannel's spelling (what `flannelctl config validate` prints). */
export function effectiveConfigJson(config: NetworkConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (config.ipv4) {
    out['Network'] = config.ipv4.network.toString();
    out['SubnetLen'] = config.ipv4.subnetLen;
    out['SubnetMin'] = config.ipv4.subnetMin.ipText();
    out['SubnetMax'] = config.ipv4.subnetMax.ipText();
  }
  if (config.ipv6) {
    out['IPv6Network'] = config.ipv6.network.toString();
    out['IPv6SubnetLen'] = config.ipv6.subnetLen;
    out['IPv6SubnetMin'] = config.ipv6.subnetMin.ipText();
    out['IPv6SubnetMax'] = config.ipv6.subnetMax.ipText();
  }
  out['EnableIPv4'] = config.enableIPv4;
  out['EnableIPv6'] = config.enableIPv6;
  out['EnableNFTables'] = config.enableNFTables;
  out['Backend'] = config.backend;
  return out;
}

/** An interface's addresses, as the underlay the overlay runs on (e.g. `{ name: 'eth0', cidrs: ['192.0.2.5/24'] }`). */
export interface UnderlayInterface {
  readonly name: string;
  readonly cidrs: readonly string[];
}

/**
 * Refuses a Network (IPv6Network) that overlaps a subnet of the underlay interface: flanneld would route the
 * overlay over the very addresses it needs to reach etcd and its peers. Throws ConfigError naming both.
 */
export function assertClearOfUnderlay(config: NetworkConfig, underlay: UnderlayInterface): void {
  for (const pool of [config.ipv4, config.ipv6]) {
    if (!pool) continue;
    for (const cidr of underlay.cidrs) {
      const net = IpNet.parse(cidr)?.masked();
      if (!net || net.family !== pool.family || !net.overlaps(pool.network)) continue;
      const name = pool.family === 4 ? 'Network' : 'IPv6Network';
      throw new ConfigError(
        name,
        `${name} ${pool.network} overlaps the underlay subnet ${net} of ${underlay.name}: overlay routes would replace the routes to etcd and the other hosts; ` +
          `pick a ${name} that no host interface uses (e.g. ${pool.family === 4 ? '10.244.0.0/16' : 'fd00:0:0:1::/56'})`,
      );
    }
  }
}
