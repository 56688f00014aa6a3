/**
 * Why a lease does not fit a config, in words. core's `leaseFitsConfig` decides; this only explains, so the
 * messages of `config set` (stranded leases) and `leases reserve` (bad reservation) can say what is wrong.
 */
import { leaseFitsConfig, type IpNet, type LeaseSubnets, type NetworkConfig, type SubnetPool } from '@flannel-ts/core';

/** undefined when the subnets fit; otherwise the reason, e.g. `10.1.30.0/24 is outside Network 10.2.0.0/16`. */
export function describeMisfit(config: NetworkConfig, subnets: LeaseSubnets): string | undefined {
  if (leaseFitsConfig(config, subnets)) return undefined;
  return familyMisfit(config.ipv4, subnets.subnet, 'IPv4') ?? familyMisfit(config.ipv6, subnets.ipv6Subnet, 'IPv6') ?? 'does not fit the config';
}

function familyMisfit(pool: SubnetPool | undefined, subnet: IpNet | undefined, family: 'IPv4' | 'IPv6'): string | undefined {
  const names = family === 'IPv4' ? { network: 'Network', len: 'SubnetLen' } : { network: 'IPv6Network', len: 'IPv6SubnetLen' };
  if (!pool) return subnet ? `has the ${family} subnet ${subnet} but the config disables ${family}` : undefined;
  if (!subnet) return `has no ${family} subnet but the config enables ${family}`;
  if (!pool.network.contains(subnet) && !(subnet.prefixLength < pool.network.prefixLength && subnet.overlaps(pool.network))) {
    return `${subnet} is outside ${names.network} ${pool.network}`;
  }
  if (subnet.prefixLength !== pool.subnetLen) return `${subnet} is a /${subnet.prefixLength} but ${names.len} is ${pool.subnetLen}`;
  if (subnet.address < pool.subnetMin.address || subnet.address > pool.subnetMax.address) {
    const min = family === 'IPv4' ? 'SubnetMin' : 'IPv6SubnetMin';
    return `${subnet} is outside ${min}..${family === 'IPv4' ? 'SubnetMax' : 'IPv6SubnetMax'} (${pool.subnetMin.ipText()}..${pool.subnetMax.ipText()})`;
  }
  return undefined;
}
