import { IpNet } from './ip.js';

/**
 * Kernel side effects as data: backends describe the links, addresses, routes, neighbours and FDB entries they
 * want, and one HostNetwork implementation applies a whole list in one batch (`ip -batch`, `bridge -batch`).
 * Backends thereby read as intent, and tests inspect the real result with `ip -j`.
 */
export type HostChange =
  | { readonly kind: 'link'; readonly name: string; readonly mtu?: number; readonly up?: boolean }
  | {
      readonly kind: 'vxlan';
      readonly name: string;
      readonly vni: number;
      /** Source address of the encapsulated packets. */
      readonly local?: string | undefined;
      /** Underlay device. */
      readonly dev?: string | undefined;
      readonly port: number;
      readonly learning: boolean;
      readonly gbp: boolean;
      readonly mtu?: number | undefined;
      readonly address?: string | undefined;
    }
  | { readonly kind: 'link-delete'; readonly name: string }
  | { readonly kind: 'address'; readonly action: 'replace' | 'delete'; readonly dev: string; readonly cidr: string }
  | {
      readonly kind: 'route';
      readonly action: 'replace' | 'delete';
      readonly dst: string;
      readonly dev?: string;
      readonly via?: string;
      readonly onlink?: boolean;
      readonly scope?: 'global' | 'link' | 'host';
      /** A `blackhole` route drops what it matches (flannel's --ip-blackhole-route); absent: a unicast route. */
      readonly type?: 'blackhole';
    }
  | { readonly kind: 'neighbour'; readonly action: 'replace' | 'delete'; readonly dev: string; readonly address: string; readonly lladdr?: string }
  | { readonly kind: 'fdb'; readonly action: 'replace' | 'append' | 'delete'; readonly dev: string; readonly lladdr: string; readonly dst: string };

export interface RouteEntry {
  readonly dst: string;
  readonly dev?: string | undefined;
  readonly gateway?: string | undefined;
  readonly flags: readonly string[];
  readonly scope?: string | undefined;
  /** Route type other than unicast, e.g. `blackhole`, `local`. */
  readonly type?: string | undefined;
  /** Preferred source address (`src`), as `ip route get` reports it. */
  readonly prefsrc?: string | undefined;
  /** Who installed it (`kernel` for connected routes, `boot` for `ip route replace`, `dhcp`, `static`, ...). */
  readonly protocol?: string | undefined;
}

export interface AddressEntry {
  readonly dev: string;
  readonly cidr: string;
  readonly family: 4 | 6;
}

export interface LinkEntry {
  readonly name: string;
  readonly index: number;
  readonly mtu: number;
  readonly up: boolean;
  readonly kind?: string | undefined;
  readonly address?: string | undefined;
  /** For a vxlan link. */
  readonly vxlan?: { readonly vni: number; readonly local?: string | undefined; readonly dev?: string | undefined; readonly port: number; readonly learning: boolean; readonly gbp: boolean } | undefined;
}

/** An address of a link as `ip -j addr show` lists it, with what flannel's address choice looks at. */
export interface LinkAddress {
  readonly family: 4 | 6;
  readonly address: string;
  readonly prefixLength: number;
  /** `global`, `link` or `host`. */
  readonly scope: string;
  readonly deprecated: boolean;
  readonly temporary: boolean;
  readonly dynamic: boolean;
}

/** A link with its addresses, from one read of every link (`ip -j -d addr show`). */
export interface LinkDetail extends LinkEntry {
  /** Carrier present (LOWER_UP), or a device without carrier notion (loopback). */
  readonly lowerUp: boolean;
  /** The bridge this link is a port of. */
  readonly master?: string | undefined;
  readonly addresses: readonly LinkAddress[];
}

/** What a kernel monitor can watch: `ip monitor` objects, plus the FDB (`bridge monitor fdb`). */
export type KernelObject = 'link' | 'address' | 'neighbour' | 'route' | 'fdb';

/** One change the kernel announced (a line of `ip monitor` / `bridge monitor`), reduced to what callers match on. */
export interface KernelEvent {
  readonly object: KernelObject;
  readonly deleted: boolean;
  /** The device the change is about, when it names one. */
  readonly dev: string | undefined;
  /** Route events: the destination (`10.1.31.0/24`, `10.1.31.5`, `default`). */
  readonly dst?: string | undefined;
  /** Route events: the gateway (`via`). */
  readonly gateway?: string | undefined;
  /** Route events: the type when not unicast (`local`, `broadcast`, `blackhole`, ...). */
  readonly type?: string | undefined;
}

export interface KernelMonitorHandlers {
  onEvent(event: KernelEvent): void;
  /** The monitor ended (or could not start) before its signal aborted: changes may be missed from now on. */
  onStop(): void;
  /**
   * The monitor goes on but missed notifications (the kernel dropped them: a netlink overrun, `ip monitor`'s
   * "No buffer space available"): what changed meanwhile is unknown.
   */
  onLost(): void;
}

export interface NeighbourEntry {
  readonly address: string;
  readonly lladdr?: string | undefined;
  readonly permanent: boolean;
}

export interface FdbEntry {
  readonly lladdr: string;
  readonly dst?: string | undefined;
  readonly permanent: boolean;
}

/**
 * The route changes among `changes` whose destination is not inside one of `networks` (flanneld's Network and
 * IPv6Network): a backend may only ever add, replace or delete routes to overlay subnets, never a default route,
 * an underlay route or anything else on the host.
 */
export function routeChangesOutside(changes: readonly HostChange[], networks: readonly IpNet[]): Extract<HostChange, { kind: 'route' }>[] {
  const outside: Extract<HostChange, { kind: 'route' }>[] = [];
  for (const change of changes) {
    if (change.kind !== 'route') continue;
    const dst = change.dst === 'default' ? undefined : IpNet.parse(change.dst.includes('/') ? change.dst : `${change.dst}/${change.dst.includes(':') ? 128 : 32}`);
    if (!dst || !networks.some((network) => network.contains(dst))) outside.push(change);
  }
  return outside;
}

export interface HostNetwork {
  /** Applies the changes in order, batched; throws HostCommandError listing every line that failed. */
  apply(changes: readonly HostChange[]): Promise<void>;
  /** Routes of the main table; `type` reads only routes of that type (e.g. the blackhole routes, not every peer's);
   *  `dst` only the routes to exactly that destination (`default`). */
  routes(filter?: { readonly dev?: string; readonly family?: 4 | 6; readonly type?: 'blackhole'; readonly dst?: string }): Promise<RouteEntry[]>;
  addresses(dev: string): Promise<AddressEntry[]>;
  link(name: string): Promise<LinkEntry | undefined>;
  /** Every link of the namespace with its addresses, in one read. */
  links(): Promise<LinkDetail[]>;
  neighbours(dev: string, family?: 4 | 6): Promise<NeighbourEntry[]>;
  fdb(dev: string): Promise<FdbEntry[]>;
  /** The route the kernel would use to reach `address` (`ip route get`). */
  routeTo(address: string): Promise<RouteEntry | undefined>;
  /**
   * Watches the kernel for changes to `objects` until `signal` aborts, handing each to `handlers.onEvent`; calls
   * `handlers.onStop` once if the watch ends on its own (it is not restarted: the caller decides what that means).
   */
  monitor(objects: readonly KernelObject[], handlers: KernelMonitorHandlers, signal: AbortSignal): void;
}
