/**
 * The contract between flanneld and a data-path backend (flannel's pkg/backend). A backend never talks to the
 * store: flanneld acquires the lease with what `prepare()` returns, then feeds the backend lease batches.
 */
import type { HostNetwork } from './host-network.js';
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
