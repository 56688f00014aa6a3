/**
 * A HostNetwork that keeps the kernel state in memory: every `apply` is recorded as the intent it was (`batches`)
 * and changes the state the reads then report, with iproute2's semantics where backends depend on them (`replace`
 * creates or overwrites, deleting a link takes its addresses, routes, neighbours and FDB entries with it, an
 * address adds its connected route, a route outside `confineRoutesTo` is refused as host-net refuses it). Lets
 * backend tests run without root; the same tests run against a namespace through host-net.
 */
import { FlannelError, HostCommandError, IpNet, parseIP, routeChangesOutside, type AddressEntry, type FdbEntry, type HostChange, type HostNetwork, type KernelEvent, type KernelMonitorHandlers, type KernelObject, type LinkDetail, type LinkEntry, type NeighbourEntry, type RouteEntry } from '@flannel-ts/core';

export interface RecordingHost extends HostNetwork {
  /** Every batch passed to `apply`, in order. */
  readonly batches: HostChange[][];
}

export interface RecordingHostOptions {
  /** Links present from the start (the underlay), with their addresses as `192.0.2.5/24`. */
  readonly links?: ReadonlyArray<LinkEntry & { readonly cidrs?: readonly string[] }>;
  /** As host-net's option: route changes outside these networks are refused. */
  readonly confineRoutesTo?: readonly IpNet[];
}

interface StoredRoute extends RouteEntry {
  readonly family: 4 | 6;
}

export function createRecordingHost(options: RecordingHostOptions = {}): RecordingHost {
  const batches: HostChange[][] = [];
  const links = new Map<string, LinkEntry>();
  let addresses: AddressEntry[] = [];
  let routes: StoredRoute[] = [];
  const neighbours = new Map<string, Map<string, NeighbourEntry>>();
  const fdb = new Map<string, FdbEntry[]>();
  let nextIndex = 2;
  /** Watchers of this host's "kernel": each applied change is announced as `ip monitor` would announce it. */
  const monitors = new Set<{ readonly objects: readonly KernelObject[]; readonly handlers: KernelMonitorHandlers }>();
  const announce = (change: HostChange) => {
    const event = kernelEventOf(change);
    for (const m of monitors) if (m.objects.includes(event.object)) m.handlers.onEvent(event);
  };

  const familyOf = (text: string): 4 | 6 => (text.includes(':') ? 6 : 4);
  const addAddress = (dev: string, cidr: string) => {
    if (addresses.some((a) => a.dev === dev && a.cidr === cidr)) return;
    const family = familyOf(cidr);
    addresses.push({ dev, cidr, family });
    const net = IpNet.parse(cidr, family);
    if (net && net.prefixLength < (family === 4 ? 32 : 128)) {
      const dst = net.masked().toString();
      if (!routes.some((r) => r.dst === dst && r.dev === dev)) routes.push({ dst, dev, flags: [], scope: 'link', protocol: 'kernel', prefsrc: cidr.split('/')[0], family });
    }
  };
  for (const link of options.links ?? []) {
    const { cidrs, ...entry } = link;
    links.set(link.name, entry);
    nextIndex = Math.max(nextIndex, link.index + 1);
    for (const cidr of cidrs ?? []) addAddress(link.name, cidr);
  }

  /** Applies one change; returns a failure text (as `ip -batch -force` reports a failed line) or undefined. */
  const applyOne = (change: HostChange): string | undefined => {
    switch (change.kind) {
      case 'vxlan': {
        if (links.has(change.name)) return `link add ${change.name}: File exists`;
        links.set(change.name, {
          name: change.name,
          index: nextIndex++,
          mtu: change.mtu ?? 1450,
          up: false,
          kind: 'vxlan',
          address: change.address,
          vxlan: { vni: change.vni, local: change.local, dev: change.dev, port: change.port, learning: change.learning, gbp: change.gbp },
        });
        return undefined;
      }
      case 'link': {
        // A device made outside HostNetwork (a TUN opened by the backend) appears when it is first configured.
        const link = links.get(change.name) ?? { name: change.name, index: nextIndex++, mtu: 1500, up: false };
        links.set(change.name, { ...link, ...(change.mtu === undefined ? {} : { mtu: change.mtu }), ...(change.up === undefined ? {} : { up: change.up }) });
        return undefined;
      }
      case 'link-delete': {
        if (!links.delete(change.name)) return `link delete ${change.name}: Cannot find device`;
        addresses = addresses.filter((a) => a.dev !== change.name);
        routes = routes.filter((r) => r.dev !== change.name);
        neighbours.delete(change.name);
        fdb.delete(change.name);
        return undefined;
      }
      case 'address': {
        if (!links.has(change.dev)) return `address ${change.action} ${change.cidr} dev ${change.dev}: Cannot find device`;
        if (change.action === 'replace') addAddress(change.dev, change.cidr);
        else {
          const before = addresses.length;
          addresses = addresses.filter((a) => !(a.dev === change.dev && a.cidr === change.cidr));
          if (addresses.length === before) return `address delete ${change.cidr} dev ${change.dev}: Cannot assign requested address`;
        }
        return undefined;
      }
      case 'route': {
        const family = familyOf(change.dst);
        const dst = change.dst === 'default' ? 'default' : change.dst;
        const existing = routes.findIndex((r) => r.dst === dst && r.family === family && (r.type ?? 'unicast') === (change.type ?? 'unicast'));
        if (change.action === 'delete') {
          if (existing < 0) return `route delete ${change.dst}: No such process`;
          routes.splice(existing, 1);
          return undefined;
        }
        if (change.dev && !links.has(change.dev)) return `route replace ${change.dst} dev ${change.dev}: Cannot find device`;
        const route: StoredRoute = {
          dst,
          dev: change.dev,
          gateway: change.via,
          flags: change.onlink ? ['onlink'] : [],
          scope: change.scope ?? (change.via ? 'global' : 'link'),
          protocol: 'boot',
          family,
          ...(change.type ? { type: change.type } : {}),
        };
        if (existing >= 0) routes[existing] = route;
        else routes.push(route);
        return undefined;
      }
      case 'neighbour': {
        if (!links.has(change.dev)) return `neigh ${change.action} ${change.address} dev ${change.dev}: Cannot find device`;
        const table = neighbours.get(change.dev) ?? new Map<string, NeighbourEntry>();
        neighbours.set(change.dev, table);
        if (change.action === 'delete') {
          if (!table.delete(change.address)) return `neigh delete ${change.address} dev ${change.dev}: No such file or directory`;
        } else table.set(change.address, { address: change.address, lladdr: change.lladdr, permanent: true });
        return undefined;
      }
      case 'fdb': {
        if (!links.has(change.dev)) return `fdb ${change.action} ${change.lladdr} dev ${change.dev}: Cannot find device`;
        const entries = fdb.get(change.dev) ?? [];
        fdb.set(change.dev, entries);
        const same = (e: FdbEntry) => e.lladdr === change.lladdr && (change.action === 'replace' || e.dst === change.dst);
        if (change.action === 'delete') {
          const index = entries.findIndex(same);
          if (index < 0) return `fdb delete ${change.lladdr} dev ${change.dev}: No such file or directory`;
          entries.splice(index, 1);
        } else {
          const index = change.action === 'replace' ? entries.findIndex(same) : -1;
          const entry = { lladdr: change.lladdr, dst: change.dst, permanent: true };
          if (index >= 0) entries[index] = entry;
          else entries.push(entry);
        }
        return undefined;
      }
    }
  };

  return {
    batches,
    async apply(changes) {
      batches.push([...changes]);
      const refused = options.confineRoutesTo ? routeChangesOutside(changes, options.confineRoutesTo) : [];
      const failures: string[] = [];
      for (const change of changes) {
        if (refused.includes(change as (typeof refused)[number])) continue;
        const failure = applyOne(change);
        if (failure) failures.push(failure);
        else announce(change);
      }
      if (failures.length > 0) throw new HostCommandError('ip -batch -', 1, failures.join('\n'), `${failures.length} of ${changes.length} host changes failed: ${failures.join('; ')}`);
      if (refused.length > 0) throw new FlannelError('OUTSIDE_NETWORK', `refused routes outside the flannel network: ${refused.map((r) => r.dst).join(', ')}`);
    },
    async routes(filter = {}) {
      return routes
        .filter(
          (r) =>
            (filter.family === undefined || r.family === filter.family) &&
            (filter.dev === undefined || r.dev === filter.dev) &&
            (filter.type === undefined || r.type === filter.type) &&
            (filter.dst === undefined || r.dst === filter.dst),
        )
        .map(({ family: _family, ...route }) => route);
    },
    async addresses(dev) {
      return addresses.filter((a) => a.dev === dev);
    },
    async link(name) {
      return links.get(name);
    },
    async links() {
      return [...links.values()].map((link): LinkDetail => ({
        ...link,
        lowerUp: link.up,
        addresses: addresses
          .filter((a) => a.dev === link.name)
          .map((a) => ({ family: a.family, address: a.cidr.split('/')[0]!, prefixLength: Number(a.cidr.split('/')[1]), scope: 'global', deprecated: false, temporary: false, dynamic: false })),
      }));
    },
    monitor(objects, handlers, signal) {
      if (signal.aborted) return;
      const watcher = { objects, handlers };
      monitors.add(watcher);
      signal.addEventListener('abort', () => monitors.delete(watcher), { once: true });
    },
    async neighbours(dev, family) {
      return [...(neighbours.get(dev)?.values() ?? [])].filter((n) => family === undefined || familyOf(n.address) === family);
    },
    async fdb(dev) {
      return [...(fdb.get(dev) ?? [])];
    },
    async routeTo(address) {
      // Longest prefix match over the unicast routes, as `ip route get` answers.
      const ip = parseIP(address);
      if (!ip) return undefined;
      let best: StoredRoute | undefined;
      let bestLength = -1;
      for (const route of routes) {
        if (route.family !== ip.family || route.type) continue;
        const net = route.dst === 'default' ? new IpNet(ip.family, 0n, 0) : IpNet.parse(route.dst, ip.family);
        if (!net || !net.containsAddress(ip.value) || net.prefixLength <= bestLength) continue;
        best = route;
        bestLength = net.prefixLength;
      }
      if (!best) return undefined;
      const prefsrc = addresses.find((a) => a.dev === best.dev && a.family === ip.family)?.cidr.split('/')[0];
      return { dst: address, dev: best.dev, gateway: best.gateway, flags: best.flags, ...(prefsrc ? { prefsrc } : {}) };
    },
  };
}

/** The event `ip monitor` (or `bridge monitor fdb`) prints for a change that was applied. */
function kernelEventOf(change: HostChange): KernelEvent {
  switch (change.kind) {
    case 'vxlan':
    case 'link':
      return { object: 'link', deleted: false, dev: change.name };
    case 'link-delete':
      return { object: 'link', deleted: true, dev: change.name };
    case 'address':
      return { object: 'address', deleted: change.action === 'delete', dev: change.dev };
    case 'route':
      return { object: 'route', deleted: change.action === 'delete', dev: change.dev, dst: change.dst, gateway: change.via, type: change.type };
    case 'neighbour':
      return { object: 'neighbour', deleted: change.action === 'delete', dev: change.dev };
    case 'fdb':
      return { object: 'fdb', deleted: change.action === 'delete', dev: change.dev };
  }
}
