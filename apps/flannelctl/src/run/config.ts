/**
 * `flannelctl config set|get|validate`: the network config at `<prefix>/config` (flannel-compat.md §1.2, §2).
 * Nothing invalid is ever written: a document goes through core's resolveNetworkConfig before the put, and a change
 * that strands existing leases (they would no longer fit, so flanneld on their hosts would delete them) needs --force.
 */
import {
  ConfigError,
  FlannelError,
  effectiveConfigJson,
  errorMessage,
  goJsonStringify,
  IpNet,
  isFlannelError,
  parseNetworkConfig,
  poolCapacity,
  printable,
  resolveNetworkConfig,
  type NetworkConfig,
  type SubnetPool,
  UsageError,
} from '@flannel-ts/core';
import type { Registry, SkippedEntry } from '@flannel-ts/lease-manager';
import type { ConfigSetArgs } from '../commands/config.js';
import type { CommandContext } from '../context.js';
import { formatInlineValue, renderFields } from '../format.js';
import { describeMisfit } from '../lease-fit.js';
import { checkUnderlay } from '../underlay.js';


/** The config document the flags describe, in flannel's spelling. Only what was asked for is written. */
export function buildConfigDocument(args: ConfigSetArgs): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  if (args.noIPv4) {
    const v4Flags = [
      args.network !== undefined && 'NETWORK',
      args.subnetLen !== undefined && '--subnet-len',
      args.subnetMin !== undefined && '--subnet-min',
      args.subnetMax !== undefined && '--subnet-max',
    ].filter(Boolean);
    if (v4Flags.length > 0) throw new UsageError(`--no-ipv4 disables IPv4, so ${v4Flags.join(', ')} cannot be used with it: drop one or the other`);
    doc['EnableIPv4'] = false;
  } else {
    if (args.network === undefined) {
      throw new UsageError('missing NETWORK: give the IPv4 network, e.g. `flannelctl config set 10.1.0.0/16` (or --no-ipv4 with --ipv6-network, or --file FILE)');
    }
    doc['Network'] = args.network;
    if (args.subnetLen !== undefined) doc['SubnetLen'] = args.subnetLen;
    if (args.subnetMin !== undefined) doc['SubnetMin'] = args.subnetMin;
    if (args.subnetMax !== undefined) doc['SubnetMax'] = args.subnetMax;
  }
  if (args.ipv6Network !== undefined) {
    doc['EnableIPv6'] = true;
    doc['IPv6Network'] = args.ipv6Network;
    if (args.ipv6SubnetLen !== undefined) doc['IPv6SubnetLen'] = args.ipv6SubnetLen;
  } else if (args.ipv6SubnetLen !== undefined) {
    throw new UsageError('--ipv6-subnet-len needs --ipv6-network, e.g. --ipv6-network fc00::/48 --ipv6-subnet-len 64');
  }
  if (args.enableNFTables !== undefined) doc['EnableNFTables'] = args.enableNFTables;
  // Without --backend or --backend-opt the Backend object is left out, which flannel reads as udp.
  if (args.backend !== undefined || args.backendOptions.length > 0) {
    const backend: Record<string, unknown> = { Type: args.backend ?? 'udp' };
    for (const item of args.backendOptions) {
      const [key, value] = parseBackendOption(item);
      backend[key] = value;
    }
    doc['Backend'] = backend;
  }
  return doc;
}

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** `VNI=1` -> ['VNI', 1]; values that read as JSON numbers or booleans are written as such, others as strings. */
export function parseBackendOption(item: string): [string, unknown] {
  const eq = item.indexOf('=');
  if (eq <= 0) throw new UsageError(`--backend-opt takes KEY=VALUE, got "${item}", e.g. --backend-opt VNI=1`);
  const key = item.slice(0, eq);
  const raw = item.slice(eq + 1);
  if (key.toLowerCase() === 'type') throw new UsageError('set the backend type with --backend, not --backend-opt Type=...');
  if (raw === 'true' || raw === 'false') return [key, raw === 'true'];
  if (JSON_NUMBER.test(raw)) return [key, Number(raw)];
  return [key, raw];
}

export async function configSet(args: ConfigSetArgs, ctx: CommandContext): Promise<void> {
  let document: unknown;
  if (args.file !== undefined) {
    const flags = [
      args.network !== undefined && 'NETWORK',
      args.subnetLen !== undefined && '--subnet-len',
      args.subnetMin !== undefined && '--subnet-min',
      args.subnetMax !== undefined && '--subnet-max',
      args.backend !== undefined && '--backend',
      args.backendOptions.length > 0 && '--backend-opt',
      args.ipv6Network !== undefined && '--ipv6-network',
      args.ipv6SubnetLen !== undefined && '--ipv6-subnet-len',
      args.enableNFTables !== undefined && '--enable-nftables',
      args.noIPv4 && '--no-ipv4',
    ].filter(Boolean);
    if (flags.length > 0) throw new UsageError(`--file writes the document as it is: drop ${flags.join(', ')} or put them in the file`);
    const text = await readConfigFile(args.file, ctx);
    parseNetworkConfig(text);
    document = JSON.parse(text);
  } else {
    document = buildConfigDocument(args);
  }

  const config = await validateAsFlanneld(document);
  const text = goJsonStringify(canonicalNetworks(document as Record<string, unknown>, config));
  const underlayWarning = await checkUnderlay(config, { force: args.force, writing: true });
  if (underlayWarning) ctx.warn(`${underlayWarning}; writing the config anyway (--force)`);

  const { registry } = await ctx.openStore();
  const listing = await registry.listLeases();
  reportSkipped(listing.skipped, registry.subnetsPrefix, ctx);
  const stranded = listing.leases.flatMap((lease) => {
    const reason = describeMisfit(config, lease);
    return reason === undefined ? [] : [{ lease, reason }];
  });
  const lines = stranded.map(({ lease, reason }) => `  ${lease.key}  public IP ${lease.attrs.publicIP}  (${reason})`);
  if (stranded.length > 0 && !args.force) {
    throw new FlannelError(
      'LEASE_CONFLICT',
      [
        `the new config strands ${stranded.length} existing lease${stranded.length === 1 ? '' : 's'} (flanneld on ${stranded.length === 1 ? 'its host' : 'their hosts'} would delete ${stranded.length === 1 ? 'it' : 'them'} and move to a new subnet):`,
        ...lines,
        'nothing was written. Re-run with --force to write the config anyway, or revoke those leases first (flannelctl leases revoke SUBNET).',
      ].join('\n'),
    );
  }
  for (const { lease, reason } of stranded) {
    ctx.warn(`lease ${lease.key} of ${lease.attrs.publicIP} no longer fits (${reason}); writing the config anyway (--force)`);
  }
  await registry.putConfigText(text);
  ctx.out(`wrote ${registry.configKey}: ${text}`);
}

/**
 * The checks flanneld runs at start, and one more: core's config rules, then the backend type (one this build has)
 * and the backend's options (types, ranges, no unknown keys), through the same function flanneld starts the backend
 * with. A Network with host bits set (`10.1.0.1/16`), which flannel silently masks, is refused with the canonical
 * form, since it usually means a typo (a stored config is judged as flanneld judges it: `accept`).
 */
export async function validateAsFlanneld(document: unknown, hostBits: 'refuse' | 'accept' = 'refuse'): Promise<NetworkConfig> {
  const config = resolveNetworkConfig(document);
  if (hostBits === 'refuse') refuseHostBits(document as Record<string, unknown>, config);
  // Loaded only here: the backends bring the TUN and netlink code, which help and the other commands never need.
  const { checkBackendConfig } = await import('@flannel-ts/backends');
  await checkBackendConfig(config);
  return config;
}

function refuseHostBits(document: Record<string, unknown>, config: NetworkConfig): void {
  for (const [key, value] of Object.entries(document)) {
    const field = key.toLowerCase() === 'network' ? 'Network' : key.toLowerCase() === 'ipv6network' ? 'IPv6Network' : undefined;
    const pool = field === 'Network' ? config.ipv4 : config.ipv6;
    if (field === undefined || pool === undefined || typeof value !== 'string') continue;
    const given = IpNet.parse(value);
    if (given !== undefined && !given.isMasked()) {
      throw new ConfigError(field, `${field} "${value}" has host bits set (flannel would use ${pool.network}): write ${pool.network}, or a longer prefix if you meant a smaller network`);
    }
  }
}

/** Network and IPv6Network written masked and in canonical text (`10.1.7.0/16` -> `10.1.0.0/16`), keeping key spelling. */
function canonicalNetworks(document: Record<string, unknown>, config: NetworkConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(document)) {
    const lower = key.toLowerCase();
    if (lower === 'network' && config.ipv4 && typeof value === 'string') out[key] = config.ipv4.network.toString();
    else if (lower === 'ipv6network' && config.ipv6 && typeof value === 'string') out[key] = config.ipv6.network.toString();
    else out[key] = value;
  }
  return out;
}

async function readConfigFile(path: string, ctx: CommandContext): Promise<string> {
  try {
    return await ctx.readInput(path);
  } catch (err) {
    throw new ConfigError('config', `cannot read ${path === '-' ? 'stdin' : path} (${errorMessage(err)}): give an existing JSON file, or - for stdin`, { cause: err });
  }
}

/** One warning per store entry that could not be read, with the command that removes it. */
export function reportSkipped(skipped: readonly SkippedEntry[], subnetsPrefix: string, ctx: CommandContext): void {
  for (const entry of skipped) {
    const name = entry.key.slice(subnetsPrefix.length);
    const hint = entry.key.startsWith(subnetsPrefix) && name !== '' && !name.includes('/') ? ` (delete it with \`flannelctl leases revoke ${name}\`)` : '';
    ctx.warn(printable(`skipping malformed lease ${entry.key}: ${entry.reason}${hint}`));
  }
}

async function readStoredConfig(registry: Registry): Promise<string> {
  const text = await registry.getConfigText();
  if (text === undefined) {
    throw new FlannelError(
      'CONFIG_NOT_FOUND',
      `no network config at ${registry.configKey}: create one with \`flannelctl config set 10.1.0.0/16\` (or pass --etcd-prefix if the network lives under another prefix)`,
    );
  }
  return text;
}

function parseStoredConfig(text: string, registry: Registry): NetworkConfig {
  try {
    return parseNetworkConfig(text);
  } catch (err) {
    if (!isFlannelError(err)) throw err;
    throw new ConfigError(
      err instanceof ConfigError ? err.field : 'config',
      `the config stored at ${registry.configKey} is invalid: ${err.message}. Show it with \`flannelctl config get --json\`, replace it with \`flannelctl config set\``,
      { cause: err },
    );
  }
}

export async function configGet(args: { readonly json: boolean }, ctx: CommandContext): Promise<void> {
  const { registry } = await ctx.openStore();
  const text = await readStoredConfig(registry);
  if (args.json) {
    // The document as stored; if what is stored is not even JSON, its control characters are escaped.
    ctx.out(text.split('\n').map(printable).join('\n'));
    return;
  }
  const config = parseStoredConfig(text, registry);
  const backendGiven = Object.keys(JSON.parse(text) as object).some((name) => name.toLowerCase() === 'backend');
  ctx.out(renderConfigSummary(config, registry.configKey, backendGiven));
}

export function renderConfigSummary(config: NetworkConfig, key: string, backendGiven: boolean): string {
  const fields: [string, string][] = [['Key', key]];
  const pool = (p: SubnetPool, v6: boolean) => {
    const prefix = v6 ? 'IPv6' : '';
    fields.push(
      [v6 ? 'IPv6Network' : 'Network', p.network.toString()],
      [`${prefix}SubnetLen`, String(p.subnetLen)],
      [`${prefix}SubnetMin`, p.subnetMin.ipText()],
      [`${prefix}SubnetMax`, p.subnetMax.ipText()],
      [v6 ? 'IPv6 capacity' : 'Capacity', `${poolCapacity(p)} subnets`],
    );
  };
  if (config.ipv4) pool(config.ipv4, false);
  else fields.push(['IPv4', 'disabled']);
  if (config.ipv6) pool(config.ipv6, true);
  const options = Object.entries(config.backend)
    .filter(([name]) => name.toLowerCase() !== 'type')
    .map(([name, value]) => `${name}=${formatInlineValue(value)}`);
  fields.push(['Backend', backendGiven ? config.backendType : `${config.backendType} (no Backend in the config: flannel's default)`]);
  if (options.length > 0) fields.push(['Backend options', options.join(', ')]);
  fields.push(['NFTables', config.enableNFTables ? 'enabled' : 'disabled']);
  return renderFields(fields);
}

export async function configValidate(args: { readonly file: string | undefined }, ctx: CommandContext): Promise<void> {
  let config: NetworkConfig;
  if (args.file !== undefined) {
    const text = await readConfigFile(args.file, ctx);
    parseNetworkConfig(text);
    config = await validateAsFlanneld(JSON.parse(text));
    await checkUnderlay(config, { force: false, writing: false });
  } else {
    const { registry } = await ctx.openStore();
    const text = await readStoredConfig(registry);
    parseStoredConfig(text, registry);
    try {
      // What is stored is judged as flanneld judges it, which masks host bits.
      config = await validateAsFlanneld(JSON.parse(text), 'accept');
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new ConfigError(err.field, `the config stored at ${registry.configKey} is invalid: ${err.message}. Replace it with \`flannelctl config set\``, { cause: err });
    }
  }
  ctx.out(JSON.stringify(effectiveConfigJson(config), null, 2));
}

