/**
 * The contract between flanneld and a data-path backend (flannel's pkg/backend). A backend never talks to the
 * store: flanneld acquires the lease with what `prepare()` returns, then feeds the backend lease batches.
 */
import type { HostChange, HostNetwork } from './host-network.js';
import type { IpFamily } from './ip.js';
import type { Lease, LeaseAttrs, LeaseBatch } from './lease.js';
import type { Logger } from './logger.js';
import type { NetworkConfig } from './network-config.js';

/** The interface flanneld carries overlay traffic on, and the addresses it advertises. */
export interface ExternalInterface {
  readonly name: string;
  readonly index: number;
  readonly mtu: number;
  /** The interface's own IPv4 address (what sockets bind to). */
  readonly ipv4: string | undefined;
  readonly ipv6: string | undefined;
  /** The address peers send to: `--public-ip`, else `ipv4`. */
  readonly publicIP: string | undefined;
  readonly publicIPv6: string | undefined;
  /** The interface's addresses with their prefix lengths (`192.0.2.5/24`): the underlay the overlay must not cover. */
  readonly cidrs?: readonly string[] | undefined;
}

export interface BackendDeps {
  readonly log: Logger;
  readonly network: NetworkConfig;
  readonly externalInterface: ExternalInterface;
  /** Where the backend programs the kernel. */
  readonly host: HostNetwork;
  readonly signal: AbortSignal;
}

/** What a backend publishes in its lease and reports for subnet.env. */
export interface BackendRegistration {
  readonly attrs: Omit<LeaseAttrs, 'publicIP' | 'publicIPv6'>;
  readonly mtu: number;
}

export interface Backend extends AsyncDisposable {
  readonly type: string;
  /** Creates devices and sockets; returns the lease attributes and MTU. Does not touch the store. */
  prepare(): Promise<BackendRegistration>;
  /** Configures the data path for this host's own lease. */
  attach(own: Lease): Promise<void>;
  /** Programs the changes in one batch of peer lease events. */
  apply(batch: LeaseBatch): Promise<void>;
  /** Reconciles the data path against the full peer set. */
  resync(peers: readonly Lease[]): Promise<void>;
  /** Data-path counters, for backends that move packets themselves (udp). */
  metrics?(): Readonly<Record<string, number>> | undefined;
}

export interface BackendFactory<Config = unknown> {
  readonly type: string;
  /** Applies the backend's defaults to the config's `Backend` object; throws ConfigError. */
  parseConfig(backend: Readonly<Record<string, unknown>>): Config;
  create(config: Config, deps: BackendDeps): Backend;
}

/**
 * What a route-programming backend's `inspect` finds (vxlan, host-gw): the kernel compared with what the peer
 * leases call for, as plain data. The backend's resync applies `changes`; `flannelctl doctor` prints the rest.
 */
export type KernelEntry =
  | {
      readonly kind: 'route';
      readonly dst: string;
      /** The gateway; absent for a route without one. */
      readonly via?: string | undefined;
      readonly dev?: string | undefined;
      readonly onlink?: boolean | undefined;
    }
  | { readonly kind: 'neighbour'; readonly dev: string; readonly address: string; readonly lladdr: string }
  | { readonly kind: 'fdb'; readonly dev: string; readonly lladdr: string; readonly dst: string };

export type KernelEntryKind = KernelEntry['kind'];

/** One difference between the kernel and the plan, with the changes that set it right. */
export interface EntryDrift {
  /** missing: the plan wants it and the kernel lacks it; wrong: the kernel has it otherwise; stale: no lease accounts for it. */
  readonly problem: 'missing' | 'wrong' | 'stale';
  /** The entry the plan wants (missing and wrong). */
  readonly wanted?: KernelEntry | undefined;
  /** What the kernel holds instead (wrong: every conflicting entry) or in excess (stale: the entry). */
  readonly found: readonly KernelEntry[];
  readonly changes: readonly HostChange[];
}

/** The entries of one kind on one device: how many the plan wants, and each difference. */
export interface EntryInspection {
  readonly kind: KernelEntryKind;
  readonly wanted: number;
  /** missing and wrong entries in plan order, then stale ones in kernel order. */
  readonly drift: readonly EntryDrift[];
}

/** Something wrong with the device itself: it is gone, made by someone else, down or of another MTU, misaddressed. */
export interface DeviceDrift {
  readonly problem: 'missing' | 'incompatible' | 'link' | 'address';
  readonly detail: string;
  readonly changes: readonly HostChange[];
}

export interface DeviceInspection {
  /** The device the entries are on: vxlan's flannel.<VNI>, host-gw's external interface. */
  readonly device: string;
  /** The family of the device's entries; absent when it holds both (host-gw's interface). */
  readonly family?: IpFamily | undefined;
  readonly problems: readonly DeviceDrift[];
  readonly entries: readonly EntryInspection[];
}

export interface Inspection {
  readonly devices: readonly DeviceInspection[];
  /** Every repair, in the order resync applies them (one batch): empty when the kernel is as the leases say. */
  readonly changes: readonly HostChange[];
}
