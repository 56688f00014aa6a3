/**
 * Subnet keys: the last path element of a lease key, `10.1.30.0-24` or, dual stack, `10.1.30.0-24&fc00:0:0:1e::-64`
 * (flannel-compat.md §1.3). An IPv6-only lease has the IPv4 part `0.0.0.0-0`, as flannel writes it.
 *
 * Parsing is strict at both ends (flannel's regexp is unanchored at the start) but accepts what flannel rejects by
 * mistake: `/32` and `/128` prefixes and upper-case IPv6 (fixes flannel quirk 2). A key whose address has host bits
 * set (`10.1.30.5-24`) is read as the network it names (10.1.30.0/24), so allocation still sees it as taken.
 */
import { decoded, rejected, type Decoded } from './decoded.js';
import { IpNet, parseIPv4, parseIPv6 } from './ip.js';

export interface LeaseSubnets {
  /** IPv4 subnet; undefined for an IPv6-only lease. */
  readonly subnet: IpNet | undefined;
  /** IPv6 subnet of a dual-stack or IPv6-only lease. */
  readonly ipv6Subnet: IpNet | undefined;
}

const KEY_PATTERN = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})-(\d{1,3})(?:&([0-9a-fA-F:.]+)-(\d{1,3}))?$/;
const NO_IPV4 = '0.0.0.0-0';

export function formatSubnetKey(subnets: LeaseSubnets): string {
  const v4 = subnets.subnet ? `${subnets.subnet.ipText()}-${subnets.subnet.prefixLength}` : NO_IPV4;
  if (!subnets.ipv6Subnet) return v4;
  return `${v4}&${subnets.ipv6Subnet.ipText()}-${subnets.ipv6Subnet.prefixLength}`;
}

export function parseSubnetKey(key: string): Decoded<LeaseSubnets> {
  const match = KEY_PATTERN.exec(key);
  if (!match) return rejected(`"${key}" is not a subnet key (expected e.g. 10.1.30.0-24 or 10.1.30.0-24&fc00:0:0:1e::-64)`);
  const [, v4Text = '', v4LenText = '', v6Text, v6LenText] = match;
  const v4 = parseIPv4(v4Text);
  const v4Len = Number(v4LenText);
  if (v4 === undefined || v4Len > 32) return rejected(`"${key}": "${v4Text}-${v4LenText}" is not an IPv4 subnet`);
  const subnet = v4 === 0n && v4Len === 0 ? undefined : new IpNet(4, v4, v4Len).masked();
  let ipv6Subnet: IpNet | undefined;
  if (v6Text !== undefined && v6LenText !== undefined) {
    const v6 = parseIPv6(v6Text);
    const v6Len = Number(v6LenText);
    if (v6 === undefined || v6Len > 128) return rejected(`"${key}": "${v6Text}-${v6LenText}" is not an IPv6 subnet`);
    ipv6Subnet = new IpNet(6, v6, v6Len).masked();
  }
  if (!subnet && !ipv6Subnet) return rejected(`"${key}" names no subnet`);
  return decoded({ subnet, ipv6Subnet });
}

/** Stable identity of a lease's subnets (the canonical key), for maps keyed by subnet. */
export function subnetIdentity(subnets: LeaseSubnets): string {
  return formatSubnetKey(subnets);
}
