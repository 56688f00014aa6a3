/**
 * The peer leases a backend should program, and the diff that turns store traffic into batches (flannel's
 * `LeaseWatcher`, flannel-compat.md §1.8), with admission (admission.ts) applied before anything reaches a backend.
 * Pure: no I/O, no clock.
 *
 * Leases are held by their key as stored, so an alias key (`10.1.5.9-24`) is a lease of its own (rejected), and
 * deleting it cannot remove the real `10.1.5.0-24`. Every lease is kept, admitted or not: a rejected lease that
 * becomes valid, or whose older rival goes away, is admitted by the change that made it so.
 *
 * Fixes flannel quirks 6 and 7: a snapshot reports peers whose attributes changed (as `removed` + `added`), the
 * host's own lease never appears in any batch, and nothing here turns a decode failure into removals: callers pass
 * only leases that decoded.
 *
 * Cost: a change re-decides only the leases that share a subnet or MAC with it, not every peer.
 */
import { checkLease, compareLeaseAge, conflictRejection, leaseClaims, ownKeyOf, type AdmissionContext, type RejectedLease, type Rejection } from './admission.js';
import { sameLeaseAttrs, type Lease, type LeaseEvent } from './lease.js';
import type { LeaseSubnets } from './subnet-key.js';

/** What one reset or apply changed: batches for the backend, and leases newly rejected or no longer rejected. */
export interface PeerUpdate {
  /** Admitted leases added or removed (`removed` carries the last admitted attributes), removals first. */
  readonly events: LeaseEvent[];
  /** Leases rejected by this change, or rejected now for another reason than before. */
  readonly rejected: RejectedLease[];
  /** Leases that were rejected and now are admitted or gone. */
  readonly cleared: Lease[];
}

interface Entry {
  lease: Lease;
  /** The lease's own problem (not relative to other peers). */
  intrinsic: Rejection | undefined;
  claims: string[];
  /** undefined = admitted. */
  status: Rejection | undefined;
}

export class PeerLeaseSet {
  #context: AdmissionContext;
  #ownKey: string | undefined;
  readonly #entries = new Map<string, Entry>();
  /**
   * claim -> keys of the leases that pass their own checks and make it: the one key as is, a Set only once two
   * leases make the same claim (rare: a conflict), so 1000 peers do not hold 2000 one-element Sets.
   */
  readonly #claimants = new Map<string, string | Set<string>>();

  constructor(context: AdmissionContext) {
    this.#context = context;
    this.#ownKey = ownKeyOf(context);
  }

  /** Admitted peers. */
  get size(): number {
    let n = 0;
    for (const entry of this.#entries.values()) if (!entry.status) n++;
    return n;
  }

  /** The admitted peers, in store order. */
  peers(): Lease[] {
    const out: Lease[] = [];
    for (const entry of this.#entries.values()) if (!entry.status) out.push(entry.lease);
    return out;
  }

  /** The admitted lease stored under `key`, if any. */
  admitted(key: string): Lease | undefined {
    const entry = this.#entries.get(key);
    return entry && !entry.status ? entry.lease : undefined;
  }

  /** The rejected leases with their reasons. */
  rejected(): RejectedLease[] {
    const out: RejectedLease[] = [];
    for (const entry of this.#entries.values()) if (entry.status) out.push({ lease: entry.lease, rejection: entry.status });
    return out;
  }

  /** Changes which lease is this host's (after a re-acquire): every lease is decided again. */
  setOwn(own: (LeaseSubnets & { readonly key?: string }) | undefined): PeerUpdate {
    this.#context = { ...this.#context, own };
    this.#ownKey = ownKeyOf(this.#context);
    const leases = [...this.#entries.values()].map((e) => e.lease);
    return this.reset(leases);
  }

  /** Replaces the set with a full listing; returns what changed. */
  reset(snapshot: readonly Lease[]): PeerUpdate {
    const before = this.#snapshot();
    this.#entries.clear();
    this.#claimants.clear();
    for (const lease of snapshot) if (lease.key !== this.#ownKey) this.#insert(lease);
    // Decide every lease, oldest first, so each sees the final state of the older ones.
    const order = [...this.#entries.values()].sort((a, b) => compareLeaseAge(a.lease, b.lease));
    for (const entry of order) entry.status = this.#decide(entry);
    const keys = new Set([...before.keys(), ...this.#entries.keys()]);
    return this.#changes(before, keys);
  }

  /**
   * Applies incremental events. A renewal (same attributes) updates the stored lease silently; a `removed` carries
   * the last admitted attributes so backends know which entries to delete; unknown removals are dropped.
   */
  apply(events: readonly LeaseEvent[]): PeerUpdate {
    const touched = new Set<string>();
    const before = new Map<string, Entry | undefined>();
    const affectedClaims = new Set<string>();
    for (const event of events) {
      const key = event.lease.key;
      if (key === this.#ownKey) continue;
      const known = this.#entries.get(key);
      if (!before.has(key)) before.set(key, known && { ...known });
      if (event.type === 'added' && known && sameLeaseAttrs(known.lease.attrs, event.lease.attrs)) {
        // A renewal: same decision; keep the first create revision seen (a renewal does not change it).
        known.lease = { ...event.lease, createRevision: event.lease.createRevision ?? known.lease.createRevision };
        continue;
      }
      if (known) {
        for (const claim of known.claims) affectedClaims.add(claim);
        this.#remove(key);
      }
      if (event.type === 'added') {
        const entry = this.#insert(event.lease);
        for (const claim of entry.claims) affectedClaims.add(claim);
      }
      touched.add(key);
    }
    if (touched.size === 0) return { events: [], rejected: [], cleared: [] };

    // Re-decide the changed leases and every lease sharing a claim with them, oldest first; a lease whose decision
    // changed can only affect younger holders of its claims, which are queued behind it.
    const queue = new Set<string>();
    for (const key of touched) if (this.#entries.has(key)) queue.add(key);
    for (const claim of affectedClaims) for (const key of this.#holders(claim)) queue.add(key);
    const pending = [...queue].map((key) => this.#entries.get(key)!).sort((a, b) => compareLeaseAge(a.lease, b.lease));
    const done = new Set<string>();
    for (let i = 0; i < pending.length; i++) {
      const entry = pending[i]!;
      if (done.has(entry.lease.key)) continue;
      done.add(entry.lease.key);
      if (!before.has(entry.lease.key)) before.set(entry.lease.key, { ...entry });
      const status = this.#decide(entry);
      const changed = (status === undefined) !== (entry.status === undefined) || status?.detail !== entry.status?.detail;
      entry.status = status;
      if (!changed) continue;
      for (const claim of entry.claims) {
        for (const key of this.#holders(claim)) {
          const other = this.#entries.get(key)!;
          if (done.has(key) || compareLeaseAge(other.lease, entry.lease) <= 0) continue;
          insertSorted(pending, other, i + 1);
        }
      }
    }
    const snapshotBefore = new Map<string, Entry>();
    for (const [key, entry] of before) if (entry) snapshotBefore.set(key, entry);
    return this.#changes(snapshotBefore, new Set(before.keys()));
  }

  #insert(lease: Lease): Entry {
    const intrinsic = checkLease(lease, this.#context);
    const entry: Entry = { lease, intrinsic, claims: intrinsic ? [] : leaseClaims(lease, this.#context.config), status: intrinsic };
    this.#entries.set(lease.key, entry);
    for (const claim of entry.claims) {
      const holders = this.#claimants.get(claim);
      if (holders === undefined) this.#claimants.set(claim, lease.key);
      else if (typeof holders === 'string') this.#claimants.set(claim, new Set([holders, lease.key]));
      else holders.add(lease.key);
    }
    return entry;
  }

  #remove(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    for (const claim of entry.claims) {
      const holders = this.#claimants.get(claim);
      if (holders === key) this.#claimants.delete(claim);
      else if (typeof holders === 'object') {
        holders.delete(key);
        if (holders.size === 1) this.#claimants.set(claim, holders.values().next().value!);
      }
    }
  }

  /** Keys of the leases that make `claim`. */
  #holders(claim: string): Iterable<string> {
    const holders = this.#claimants.get(claim);
    return holders === undefined ? [] : typeof holders === 'string' ? [holders] : holders;
  }

  /** The entry's decision, given the (final) decisions of the older leases. */
  #decide(entry: Entry): Rejection | undefined {
    if (entry.intrinsic) return entry.intrinsic;
    for (const claim of entry.claims) {
      for (const key of this.#holders(claim)) {
        if (key === entry.lease.key) continue;
        const other = this.#entries.get(key)!;
        if (other.status === undefined && compareLeaseAge(other.lease, entry.lease) < 0) return conflictRejection(claim, other.lease);
      }
    }
    return undefined;
  }

  #snapshot(): Map<string, Entry> {
    const copy = new Map<string, Entry>();
    for (const [key, entry] of this.#entries) copy.set(key, { ...entry });
    return copy;
  }

  /** Events and rejection changes between the `before` entries and the current ones, for `keys`. */
  #changes(before: ReadonlyMap<string, Entry>, keys: ReadonlySet<string>): PeerUpdate {
    const removed: LeaseEvent[] = [];
    const added: LeaseEvent[] = [];
    const rejected: RejectedLease[] = [];
    const cleared: Lease[] = [];
    for (const key of keys) {
      const old = before.get(key);
      const now = this.#entries.get(key);
      const wasAdmitted = old !== undefined && old.status === undefined;
      const isAdmitted = now !== undefined && now.status === undefined;
      const sameAttrs = wasAdmitted && isAdmitted && sameLeaseAttrs(old.lease.attrs, now.lease.attrs);
      if (wasAdmitted && !sameAttrs) removed.push({ type: 'removed', lease: old.lease });
      if (isAdmitted && !sameAttrs) added.push({ type: 'added', lease: now.lease });
      if (now?.status && (old?.status?.detail !== now.status.detail || !sameLeaseAttrs(old.lease.attrs, now.lease.attrs))) rejected.push({ lease: now.lease, rejection: now.status });
      else if (old?.status && !now?.status) cleared.push(old.lease);
    }
    return { events: [...removed, ...added], rejected, cleared };
  }
}

/** Inserts `entry` into `list[from..]`, which is sorted oldest first, unless it is already there. */
function insertSorted(list: Entry[], entry: Entry, from: number): void {
  let index = from;
  while (index < list.length && compareLeaseAge(list[index]!.lease, entry.lease) < 0) index++;
  if (list[index] === entry) return;
  list.splice(index, 0, entry);
}
