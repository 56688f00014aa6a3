/**
 * Where each peer subnet goes: the udp backend's routing table (flannel's C proxy keeps the same in a list).
 * Lookups are O(1) per distinct prefix length (normally one: the network's SubnetLen), and a peer's public IP is
 * also the only sender whose datagrams are accepted.
 */
import type { IpNet } from '@flannel-ts/core';

export interface PeerRoute {
  readonly address: string;
  readonly port: number;
}

export class PeerTable {
  /** prefix length -> (masked network -> route) */
  readonly #byLength = new Map<number, Map<number, PeerRoute>>();
  /** Prefix lengths in use, longest first. */
  #lengths: number[] = [];
  /** public IP -> number of subnets it serves */
  readonly #senders = new Map<string, number>();
  readonly #bySubnet = new Map<string, { net: IpNet; route: PeerRoute }>();

  get size(): number {
    return this.#bySubnet.size;
  }

  set(subnet: IpNet, route: PeerRoute): void {
    this.delete(subnet);
    const key = subnet.toString();
    this.#bySubnet.set(key, { net: subnet, route });
    let table = this.#byLength.get(subnet.prefixLength);
    if (!table) {
      table = new Map();
      this.#byLength.set(subnet.prefixLength, table);
      this.#lengths = [...this.#byLength.keys()].sort((a, b) => b - a);
    }
    table.set(Number(subnet.first), route);
    this.#senders.set(route.address, (this.#senders.get(route.address) ?? 0) + 1);
  }

  delete(subnet: IpNet): boolean {
    const key = subnet.toString();
    const entry = this.#bySubnet.get(key);
    if (!entry) return false;
    this.#bySubnet.delete(key);
    const table = this.#byLength.get(subnet.prefixLength);
    table?.delete(Number(subnet.first));
    if (table && table.size === 0) {
      this.#byLength.delete(subnet.prefixLength);
      this.#lengths = [...this.#byLength.keys()].sort((a, b) => b - a);
    }
    const count = (this.#senders.get(entry.route.address) ?? 1) - 1;
    if (count > 0) this.#senders.set(entry.route.address, count);
    else this.#senders.delete(entry.route.address);
    return true;
  }

  clear(): void {
    this.#byLength.clear();
    this.#lengths = [];
    this.#senders.clear();
    this.#bySubnet.clear();
  }

  /** The route for a destination address (host byte order number), longest prefix first. */
  lookup(destination: number): PeerRoute | undefined {
    for (const length of this.#lengths) {
      const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
      const route = this.#byLength.get(length)!.get((destination & mask) >>> 0);
      if (route) return route;
    }
    return undefined;
  }

  isKnownSender(address: string): boolean {
    return this.#senders.has(address);
  }

  entries(): Array<{ subnet: IpNet; route: PeerRoute }> {
    return [...this.#bySubnet.values()].map(({ net, route }) => ({ subnet: net, route }));
  }
}
