/**
 * Choosing the interface overlay traffic uses, and the address advertised to peers (flannel's pkg/ipmatch,
 * flannel-compat.md §7.2): `--iface` values in order (an IP or a name), then `--iface-regex` values (matched
 * against addresses, then names), then `--iface-can-reach` (the interface and source address `ip route get ADDR`
 * reports), else the interface of the default route.
 *
 * Difference from flannel: `--public-ip` alone is not treated as an interface address to look up when no
 * interface has it (flannel quirk 12); the default-route interface is used and `--public-ip` is advertised
 * (the NAT case), so `--iface` is not also needed.
 */
import { FlannelError, normalizeIP, type ExternalInterface, type HostNetwork, type IpFamily } from '@flannel-ts/core';

export interface LinkAddress {
  readonly family: IpFamily;
  readonly address: string;
  readonly prefixLength: number;
  readonly scope: string;
  readonly deprecated?: boolean;
  readonly temporary?: boolean;
  readonly dynamic?: boolean;
}

export interface LinkInfo {
  readonly name: string;
  readonly index: number;
  readonly mtu: number;
  readonly addresses: readonly LinkAddress[];
}

export interface InterfaceSelection {
  readonly iface: readonly string[];
  readonly ifaceRegex: readonly string[];
  /** An address to reach; '' for none. */
  readonly ifaceCanReach: string;
  readonly publicIp: string;
  readonly publicIpv6: string;
  readonly needIPv4: boolean;
  readonly needIPv6: boolean;
}

/** Links and addresses (host.links: one `ip -j -d addr show`), in the shape interface selection reads. */
export async function readLinks(host: Pick<HostNetwork, 'links'>): Promise<LinkInfo[]> {
  return (await host.links()).map((link) => ({
    name: link.name,
    index: link.index,
    mtu: link.mtu,
    addresses: link.addresses.map((a) => ({
      family: a.family,
      address: a.address,
      prefixLength: a.prefixLength,
      scope: a.scope,
      ...(a.deprecated ? { deprecated: true } : {}),
      ...(a.temporary ? { temporary: true } : {}),
      ...(a.dynamic ? { dynamic: true } : {}),
    })),
  }));
}

/** The interface of the default route of a family, if any (`ip -j -4 route show default`). */
export async function readDefaultRouteInterface(host: Pick<HostNetwork, 'routes'>, family: IpFamily): Promise<string | undefined> {
  return (await host.routes({ family, dst: 'default' })).find((r) => r.dev)?.dev;
}

const SCOPE_RANK: Record<string, number> = { global: 0, link: 1, host: 2 };

/** flannel's address order: global before link-local, permanent before dynamic, non-temporary first. */
function usableAddress(link: LinkInfo, family: IpFamily, allowHostScope: boolean): string | undefined {
  const candidates = link.addresses
    .filter((a) => a.family === family && !a.deprecated && (allowHostScope || a.scope !== 'host'))
    .sort(
      (a, b) =>
        (SCOPE_RANK[a.scope] ?? 3) - (SCOPE_RANK[b.scope] ?? 3) || Number(a.dynamic ?? false) - Number(b.dynamic ?? false) || Number(a.temporary ?? false) - Number(b.temporary ?? false),
    );
  return candidates[0]?.address;
}

function byAddress(links: readonly LinkInfo[], ip: string): LinkInfo | undefined {
  return links.find((link) => link.addresses.some((a) => normalizeIP(a.family, a.address) === ip));
}

/** What `ip route get ADDR` answered for --iface-can-reach. */
export interface RouteToTarget {
  readonly dev?: string | undefined;
  readonly prefsrc?: string | undefined;
}

export function selectExternalInterface(
  links: readonly LinkInfo[],
  defaultRoute: { readonly ipv4?: string | undefined; readonly ipv6?: string | undefined },
  selection: InterfaceSelection,
  canReach?: RouteToTarget,
): ExternalInterface {
  const family: IpFamily = selection.needIPv4 ? 4 : 6;
  let chosen: LinkInfo | undefined;
  let explicit = false;
  /** The source address the route to --iface-can-reach uses, preferred over the interface's first address. */
  let routeSource: { family: IpFamily; address: string } | undefined;

  for (const wanted of selection.iface) {
    const ip = normalizeIP(4, wanted) ?? normalizeIP(6, wanted);
    chosen = ip ? byAddress(links, ip) : links.find((link) => link.name === wanted);
    if (chosen) {
      explicit = true;
      break;
    }
  }
  if (!chosen) {
    for (const pattern of selection.ifaceRegex) {
      const regex = new RegExp(pattern);
      chosen =
        links.find((link) => link.addresses.some((a) => a.family === family && regex.test(a.address))) ?? links.find((link) => regex.test(link.name));
      if (chosen) {
        explicit = true;
        break;
      }
    }
  }
  if (!chosen && selection.ifaceCanReach !== '') {
    const target = selection.ifaceCanReach;
    if (!canReach?.dev) {
      throw new FlannelError('INTERFACE_NOT_FOUND', `--iface-can-reach ${target}: the kernel has no route to it (ip route get ${target}); add a route, or name the interface with --iface`);
    }
    chosen = links.find((link) => link.name === canReach.dev);
    if (!chosen) throw new FlannelError('INTERFACE_NOT_FOUND', `--iface-can-reach ${target}: the route goes through ${canReach.dev}, which has no addresses listed here; name the interface with --iface`);
    explicit = true;
    const sourceFamily: IpFamily = normalizeIP(4, target) ? 4 : 6;
    if (canReach.prefsrc) routeSource = { family: sourceFamily, address: canReach.prefsrc };
  }
  if (!chosen && (selection.iface.length > 0 || selection.ifaceRegex.length > 0)) {
    throw new FlannelError(
      'INTERFACE_NOT_FOUND',
      `Failed to find interface to use that matches the interfaces and/or regexes provided (--iface ${selection.iface.join(',') || '-'}, --iface-regex ${selection.ifaceRegex.join(',') || '-'}); ` +
        `interfaces here: ${links.map((l) => l.name).join(', ')}`,
    );
  }
  if (!chosen) {
    const publicIp = selection.publicIp || selection.publicIpv6;
    if (publicIp) chosen = byAddress(links, publicIp);
  }
  if (!chosen) {
    const name = family === 4 ? defaultRoute.ipv4 : defaultRoute.ipv6;
    chosen = name ? links.find((link) => link.name === name) : undefined;
    if (!chosen) {
      throw new FlannelError(
        'INTERFACE_NOT_FOUND',
        `no default IPv${family} route to pick the external interface from: pass --iface with the name or address of the interface other hosts reach this one on`,
      );
    }
  }
  if (!chosen.mtu) throw new FlannelError('INTERFACE_NOT_FOUND', `interface ${chosen.name} reports MTU 0: pick another with --iface`);

  const link = chosen;
  const address = (f: IpFamily) => (routeSource?.family === f ? routeSource.address : usableAddress(link, f, explicit));
  const ipv4 = selection.needIPv4 ? address(4) : undefined;
  const ipv6 = selection.needIPv6 ? address(6) : undefined;
  if (selection.needIPv4 && !ipv4) {
    throw new FlannelError('INTERFACE_NOT_FOUND', `interface ${chosen.name} has no usable IPv4 address: add one, or pick another interface with --iface`);
  }
  if (selection.needIPv6 && !ipv6) {
    throw new FlannelError('INTERFACE_NOT_FOUND', `interface ${chosen.name} has no usable IPv6 address: add one, or pick another interface with --iface`);
  }
  return {
    name: chosen.name,
    index: chosen.index,
    mtu: chosen.mtu,
    ipv4,
    ipv6,
    publicIP: selection.needIPv4 ? selection.publicIp || ipv4 : undefined,
    publicIPv6: selection.needIPv6 ? selection.publicIpv6 || ipv6 : undefined,
    cidrs: chosen.addresses.filter((a) => a.scope !== 'host' && a.scope !== 'link').map((a) => `${a.address}/${a.prefixLength}`),
  };
}

/** Reads the host's links and routes and selects the external interface. */
export async function findExternalInterface(selection: InterfaceSelection, host: Pick<HostNetwork, 'routeTo' | 'links' | 'routes'>): Promise<ExternalInterface> {
  // The default route only decides when no --iface, --iface-regex or --iface-can-reach is given (with one, no match
  // is an error).
  const byDefaultRoute = selection.iface.length === 0 && selection.ifaceRegex.length === 0 && selection.ifaceCanReach === '';
  const [links, ipv4, ipv6, canReach] = await Promise.all([
    readLinks(host),
    byDefaultRoute && selection.needIPv4 ? readDefaultRouteInterface(host, 4) : undefined,
    byDefaultRoute && selection.needIPv6 ? readDefaultRouteInterface(host, 6) : undefined,
    selection.ifaceCanReach === '' ? undefined : host.routeTo(selection.ifaceCanReach),
  ]);
  return selectExternalInterface(links, { ipv4, ipv6 }, selection, canReach);
}
