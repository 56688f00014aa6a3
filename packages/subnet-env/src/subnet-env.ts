/**
 * subnet.env: the file flanneld writes for Docker, the CNI plugin and mk-docker-opts (flannel-compat.md §4).
 *
 *   FLANNEL_NETWORK=10.5.0.0/16
 *   FLANNEL_SUBNET=10.5.72.1/24
 *   FLANNEL_MTU=1450
 *   FLANNEL_IPMASQ=false
 *
 * Formatting and parsing live together here. The reader accepts what flannel's (godotenv) accepts: comments,
 * blank lines, `export `, `KEY: value`, quoted values, and comma-separated lists.
 */
import { FlannelError, IpNet, type IpFamily } from '@flannel-ts/core';

/** The values of a subnet.env, as domain values. Subnets are the lease subnets (network address, not `.1`). */
export interface SubnetEnv {
  readonly network?: IpNet | undefined;
  readonly subnet?: IpNet | undefined;
  readonly ipv6Network?: IpNet | undefined;
  readonly ipv6Subnet?: IpNet | undefined;
  readonly mtu: number;
  readonly ipMasq: boolean;
}

/** A subnet.env as read: every variable's raw text, and the flannel values that parsed. */
export interface SubnetEnvFile {
  readonly variables: Readonly<Record<string, string>>;
  readonly network: IpNet | undefined;
  readonly subnet: IpNet | undefined;
  readonly ipv6Network: IpNet | undefined;
  readonly ipv6Subnet: IpNet | undefined;
  readonly mtu: number | undefined;
  readonly ipMasq: boolean | undefined;
}

/** Formats in flannel's variable order; the subnet lines carry the gateway address (network + 1). */
export function formatSubnetEnv(env: SubnetEnv): string {
  if (!Number.isInteger(env.mtu) || env.mtu <= 0) {
    throw new FlannelError('USAGE', `subnet.env MTU must be a positive whole number, got ${env.mtu}`);
  }
  for (const [network, subnet, family] of [[env.network, env.subnet, 'IPv4'], [env.ipv6Network, env.ipv6Subnet, 'IPv6']] as const) {
    if ((network === undefined) !== (subnet === undefined)) {
      throw new FlannelError('USAGE', `subnet.env needs both the ${family} network and the ${family} subnet, or neither`);
    }
  }
  let out = '';
  if (env.network && env.subnet) {
    out += `FLANNEL_NETWORK=${env.network}\n`;
    out += `FLANNEL_SUBNET=${gatewayCidr(env.subnet)}\n`;
  }
  if (env.ipv6Network && env.ipv6Subnet) {
    out += `FLANNEL_IPV6_NETWORK=${env.ipv6Network}\n`;
    out += `FLANNEL_IPV6_SUBNET=${gatewayCidr(env.ipv6Subnet)}\n`;
  }
  out += `FLANNEL_MTU=${env.mtu}\n`;
  out += `FLANNEL_IPMASQ=${env.ipMasq}\n`;
  return out;
}

/** `10.5.72.0/24` -> `10.5.72.1/24`: the address Docker's bridge takes. */
export function gatewayCidr(subnet: IpNet): string {
  return `${subnet.addressText(1n)}/${subnet.prefixLength}`;
}

export function parseSubnetEnv(text: string): SubnetEnvFile {
  const variables = parseDotenv(text);
  const mtuText = variables['FLANNEL_MTU'];
  const mtu = mtuText !== undefined && /^\d+$/.test(mtuText) ? Number(mtuText) : undefined;
  const masqText = variables['FLANNEL_IPMASQ'];
  return {
    variables,
    network: single(variables['FLANNEL_NETWORK'], 4, false),
    subnet: single(variables['FLANNEL_SUBNET'], 4, true),
    ipv6Network: single(variables['FLANNEL_IPV6_NETWORK'], 6, false),
    ipv6Subnet: single(variables['FLANNEL_IPV6_SUBNET'], 6, true),
    mtu,
    ipMasq: masqText === 'true' ? true : masqText === 'false' ? false : undefined,
  };
}

/**
 * A CIDR variable holding exactly one valid value of the family (flannel ignores a list with several). Subnet
 * variables are masked back to the network (`10.5.72.1/24` -> `10.5.72.0/24`).
 */
function single(value: string | undefined, family: IpFamily, mask: boolean): IpNet | undefined {
  if (value === undefined) return undefined;
  const entries = value
    .split(',')
    .map((entry) => IpNet.parse(entry.trim(), family))
    .filter((net): net is IpNet => net !== undefined);
  if (entries.length !== 1) return undefined;
  const net = entries[0]!;
  return mask ? net.masked() : net;
}

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*[=:]\s?(.*)$/;

/** godotenv-compatible enough for every subnet.env flannel or a person writes. */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    const [, key = '', rest = ''] = match;
    out[key] = parseValue(rest.trim());
  }
  return out;
}

function parseValue(raw: string): string {
  const quote = raw[0];
  if ((quote === '"' || quote === "'") && raw.length >= 2) {
    const end = raw.indexOf(quote, 1);
    if (end > 0) {
      const inner = raw.slice(1, end);
      return quote === '"' ? inner.replace(/\\n/g, '\n').replace(/\\(["\\$])/g, '$1') : inner;
    }
  }
  const comment = raw.search(/\s#/);
  return (comment >= 0 ? raw.slice(0, comment) : raw).trim();
}
