/**
 * Which leases name the same public address: the one duplicate-public-IP decision, for flanneld's peer step (a
 * peer lease naming this host's address), `flannelctl status` (leases sharing an address) and `flannelctl doctor`
 * (leases naming an address of the host it runs on). Pure.
 *
 * Why it matters: peers route every subnet whose lease names an address to that address, so two leases naming one
 * host send both subnets there; and flannel reuses a lease by PublicIP, so a restart may take the other's subnet.
 * Addresses compare in canonical form (`2001:db8::1` and `2001:DB8:0::1` are one address), both families.
 */
import { normalizeIP, parseIP } from './ip.js';
import { NO_PUBLIC_IP, type Lease } from './lease.js';

/** The public addresses a lease names (PublicIP, PublicIPv6), canonical; `0.0.0.0` (none) is left out. */
export function publicAddressesOf(lease: Lease): string[] {
  const out: string[] = [];
  for (const text of [lease.attrs.publicIP, lease.attrs.publicIPv6]) {
    const address = canonicalAddress(text);
    if (address !== undefined && !out.includes(address)) out.push(address);
  }
  return out;
}

/** The leases, other than the one stored under `exceptKey`, that name one of `addresses`; in the given order. */
export function leasesNamingAddresses(leases: Iterable<Lease>, addresses: Iterable<string | undefined>, exceptKey?: string): Lease[] {
  const wanted = new Set<string>();
  for (const text of addresses) {
    const address = canonicalAddress(text);
    if (address !== undefined) wanted.add(address);
  }
  const out: Lease[] = [];
  if (wanted.size === 0) return out;
  for (const lease of leases) if (lease.key !== exceptKey && publicAddressesOf(lease).some((address) => wanted.has(address))) out.push(lease);
  return out;
}

/** Every public address named by more than one lease, with those leases (in the given order). */
export function sharedPublicAddresses(leases: Iterable<Lease>): Map<string, Lease[]> {
  const byAddress = new Map<string, Lease[]>();
  for (const lease of leases) {
    for (const address of publicAddressesOf(lease)) {
      const holders = byAddress.get(address);
      if (holders) holders.push(lease);
      else byAddress.set(address, [lease]);
    }
  }
  for (const [address, holders] of byAddress) if (holders.length < 2) byAddress.delete(address);
  return byAddress;
}

function canonicalAddress(text: string | undefined): string | undefined {
  if (text === undefined || text === NO_PUBLIC_IP) return undefined;
  const family = parseIP(text)?.family;
  return family === undefined ? text : (normalizeIP(family, text) ?? text);
}
