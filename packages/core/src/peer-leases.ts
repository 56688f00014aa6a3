/**
 * The set of peer leases a backend should program, and the diff that turns store traffic into batches
 * (flannel's `LeaseWatcher`, flannel-compat.md §1.8). Pure: no I/O, no clock.
 *
 * Fixes flannel quirks 6 and 7: a snapshot reports peers whose attributes changed (as `removed` + `added`),
 * the host's own lease never appears in any batch, and nothing here turns a decode failure into removals:
 * callers pass only leases that decoded.
 */
import { sameLeaseAttrs, type Lease, type LeaseEvent } from './lease.js';
import { subnetIdentity, type LeaseSubnets } from './subnet-key.js';

export class PeerLeaseSet {
  readonly #peers = new Map<string, Lease>();
  #ownId: string | undefined;

  constructor(own?: LeaseSubnets) {
    this.#ownId = own ? subnetIdentity(own) : undefined;
  }

  /** Changes which lease is this host's (after a re-acquire). A peer entry with that subnet is dropped. */
  setOwn(own: LeaseSubnets | undefined): LeaseEvent[] {
    this.#ownId = own ? subnetIdentity(own) : undefined;
    const existing = this.#ownId === undefined ? undefined : this.#peers.get(this.#ownId);
    if (!existing || this.#ownId === undefined) return [];
    this.#peers.delete(this.#ownId);
    return [{ type: 'removed', lease: existing }];
  }

  get size(): number {
    return this.#peers.size;
  }

  peers(): Lease[] {
    return [...this.#peers.values()];
  }

  /** Replaces the set with a full listing; returns what changed. */
  reset(snapshot: readonly Lease[]): LeaseEvent[] {
    const next = new Map<string, Lease>();
    for (const lease of snapshot) {
      const id = subnetIdentity(lease);
      if (id !== this.#ownId) next.set(id, lease);
    }
    const events: LeaseEvent[] = [];
    for (const [id, lease] of this.#peers) {
      const replacement = next.get(id);
      if (!replacement || !sameLeaseAttrs(replacement.attrs, lease.attrs)) events.push({ type: 'removed', lease });
    }
    for (const [id, lease] of next) {
      const known = this.#peers.get(id);
      if (!known || !sameLeaseAttrs(known.attrs, lease.attrs)) events.push({ type: 'added', lease });
    }
    this.#peers.clear();
    for (const [id, lease] of next) this.#peers.set(id, lease);
    return events;
  }

  /**
   * Applies incremental events. A renewal (same attributes) updates the stored expiry silently; a `removed`
   * carries the last known attributes so backends know which entries to delete; unknown removals are dropped.
   */
  apply(events: readonly LeaseEvent[]): LeaseEvent[] {
    const out: LeaseEvent[] = [];
    for (const event of events) {
      const id = subnetIdentity(event.lease);
      if (id === this.#ownId) continue;
      const known = this.#peers.get(id);
      if (event.type === 'added') {
        this.#peers.set(id, event.lease);
        if (!known) out.push(event);
        else if (!sameLeaseAttrs(known.attrs, event.lease.attrs)) out.push({ type: 'removed', lease: known }, event);
      } else if (known) {
        this.#peers.delete(id);
        out.push({ type: 'removed', lease: known });
      }
    }
    return out;
  }
}
