import { parseNetworkConfig, parseSubnetKey, type Lease, type LeaseAttrs } from '@flannel-ts/core';

export const NETWORK = parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"host-gw"}}');
export const DUAL_STACK = parseNetworkConfig('{"Network":"10.1.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/48","Backend":{"Type":"host-gw"}}');
export const IPV6_ONLY = parseNetworkConfig('{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fc00::/48","Backend":{"Type":"host-gw"}}');

/** A lease as the lease manager delivers it; host-gw attrs unless overridden. */
export function lease(key: string, publicIP: string, attrs: Partial<LeaseAttrs> = {}): Lease {
  const subnets = parseSubnetKey(key);
  if (!subnets.ok) throw new Error(subnets.reason);
  return { key, ...subnets.value, attrs: { publicIP, backendType: 'host-gw', ...attrs }, expiresAt: undefined };
}
