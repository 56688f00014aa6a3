/**
 * Where each peer subnet goes: the udp backend's routing table (flannel's C proxy keeps the same in a list).
 * Lookups are O(1) per distinct prefix length (normally one: the network's SubnetLen), and a peer's public IP is
 * also the only sender whose datagrams are accepted.
 *
 * PrefixTable is the table itself, keyed by host-order numbers so the data-path workers (datapath-worker.ts) route
 * every packet with it without allocating; PeerTable is the same table keyed by IpNet, which the forwarder keeps on
 * the main thread in step with the workers, for inspection.
 */
import type { IpNet } from '@flannel-ts/core';

/** The netmask of a prefix length, as a host-order number. */
export const prefixMask = (length: number): number => (length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0);

/** Longest-prefix match over IPv4 networks (host-order numbers); `senderOf` names the public IP serving a route. */
export class PrefixTable<Route, Sender> {
  /** prefix length -> (masked network -> route) */
  readonly #byLength = new Map<number, Map<number, Route>>();
  /** Prefix lengths in use, longest first, and their masks. */
  #lengths: number[] = [];
  #masks: number[] = [];
  /** sender -> number of subnets it serves */
  readonly #senders = new Map<Sender, number>();
  readonly #senderOf: (route: Route) => Sender;

  constructor(senderOf: (route: Route) => Sender) {
    this.#senderOf = senderOf;
  }

  /** Routes `network/prefixLength` (network already masked), replacing the route it had. */
  set(network: number, prefixLength: number, route: Route): void {
    this.delete(network, prefixLength);
    let table = this.#byLength.get(prefixLength);
    if (!table) {
      table = new Map();
      this.#byLength.set(prefixLength, table);
      this.#sortLengths();
    }
    table.set(network, route);
    const sender = this.#senderOf(route);
    this.#senders.set(sender, (this.#senders.get(sender) ?? 0) + 1);
  }

  /** Removes the route of `network/prefixLength` and returns it (undefined when there was none). */
  delete(network: number, prefixLength: number): Route | undefined {
    const table = this.#byLength.get(prefixLength);
    const route = table?.get(network);
    if (!table || route === undefined) return undefined;
    table.delete(network);
    if (table.size === 0) {
      this.#byLength.delete(prefixLength);
      this.#sortLengths();
    }
    const sender = this.#senderOf(route);
    const count = (this.#senders.get(sender) ?? 1) - 1;
    if (count > 0) this.#senders.set(sender, count);
    else this.#senders.delete(sender);
    return route;
  }

  clear(): void {
    this.#byLength.clear();
    this.#lengths = [];
    this.#masks = [];
    this.#senders.clear();
  }

  /** The route for a destination address (host byte order number), longest prefix first. */
  lookup(destination: number): Route | undefined {
    for (let i = 0; i < this.#lengths.length; i++) {
      const route = this.#byLength.get(this.#lengths[i]!)!.get((destination & this.#masks[i]!) >>> 0);
      if (route !== undefined) return route;
    }
    return undefined;
  }

  isKnownSender(sender: Sender): boolean {
    return this.#senders.has(sender);
  }

  #sortLengths(): void {
    this.#lengths = [...this.#byLength.keys()].sort((a, b) => b - a);
    this.#masks = this.#lengths.map(prefixMask);
  }
}

export interface PeerRoute {
  readonly address: string;
  readonly port: number;
}

/** The PrefixTable of peer subnets as IpNet, with the list of its entries. */
export class PeerTable {
  readonly #routes = new PrefixTable<PeerRoute, string>((route) => route.address);
  readonly #bySubnet = new Map<string, { net: IpNet; route: PeerRoute }>();

  get size(): number {
    return this.#bySubnet.size;
  }

  set(subnet: IpNet, route: PeerRoute): void {
    this.#routes.set(Number(subnet.first), subnet.prefixLength, route);
    this.#bySubnet.set(subnet.toString(), { net: subnet, route });
  }

  delete(subnet: IpNet): boolean {
    this.#routes.delete(Number(subnet.first), subnet.prefixLength);
    return this.#bySubnet.delete(subnet.toString());
  }

  clear(): void {
    this.#routes.clear();
    this.#bySubnet.clear();
  }

  /** The route for a destination address (host byte order number), longest prefix first. */
  lookup(destination: number): PeerRoute | undefined {
    return this.#routes.lookup(destination);
  }

  isKnownSender(address: string): boolean {
    return this.#routes.isKnownSender(address);
  }

  entries(): Array<{ subnet: IpNet; route: PeerRoute }> {
    return [...this.#bySubnet.values()].map(({ net, route }) => ({ subnet: net, route }));
  }
}
