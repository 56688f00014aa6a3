/**
 * What a store change means for a lease, for `leases watch`:
 *   added    a key that was not there is created
 *   renewed  the key is written again with the same attributes (flanneld renews with a fresh etcd lease)
 *   changed  the key is written with other attributes (a new PublicIP, a new VTEP MAC, another backend)
 *   removed  the key is deleted by someone (`flannelctl leases revoke`, etcdctl del, flanneld dropping a stale lease)
 *   expired  the key is deleted because its etcd lease ended
 * etcd v3 reports both deletions alike; the etcd lease tells them apart: when the key's etcd lease no longer exists
 * (TTL -1) at the time of the delete, the delete came from expiry (or a revocation of the etcd lease itself).
 */
import { decodeLeaseAttrs, parseSubnetKey, sameLeaseAttrs, type Lease } from '@flannel-ts/core';
import { display, leaseRow, renderLeaseHeader, renderLeaseLine, unreadableRow, type LeaseColumn, type LeaseRow } from './lease-rows.js';

export const LEASE_EVENT_KINDS = ['added', 'renewed', 'changed', 'removed', 'expired'] as const;
export type LeaseEventKind = (typeof LEASE_EVENT_KINDS)[number];

/** A key as last seen: its value and the etcd lease it is attached to ('0' for none). */
export interface KnownKey {
  readonly value: string;
  readonly etcdLeaseId: string;
}

/** The kind of a put, given what the key held before (undefined when it did not exist). */
export function classifyPut(previous: KnownKey | undefined, value: string): 'added' | 'renewed' | 'changed' {
  if (!previous) return 'added';
  if (previous.value === value) return 'renewed';
  const before = decodeLeaseAttrs(previous.value);
  const after = decodeLeaseAttrs(value);
  return before.ok && after.ok && sameLeaseAttrs(before.value, after.value) ? 'renewed' : 'changed';
}

/**
 * The kind of a delete: `expired` when the key had an etcd lease that no longer exists (`remainingTtlSeconds` -1,
 * as leaseTimeToLive answers for an ended lease), `removed` otherwise (a reservation, or a delete while the etcd
 * lease still runs).
 */
export function classifyDelete(etcdLeaseId: string | undefined, remainingTtlSeconds: number | undefined): 'removed' | 'expired' {
  if (etcdLeaseId === undefined || etcdLeaseId === '0') return 'removed';
  return remainingTtlSeconds !== undefined && remainingTtlSeconds < 0 ? 'expired' : 'removed';
}

/** One line of `leases watch --json`: the lease as a row (the shape of `leases list`), and what happened to it. */
export interface LeaseEventJson extends LeaseRow {
  /** When flannelctl saw the event, ISO-8601 with milliseconds. */
  readonly time: string;
  readonly type: LeaseEventKind;
  /** For `changed`: the lease before, as a row. */
  readonly previous?: LeaseRow | undefined;
  /** The store revision of the change. */
  readonly revision: number;
}

/**
 * The row of a lease key holding `value`: as written for a put, as last known for a delete (no value: nothing
 * known about it). A value that is not a lease is flagged `unreadable`, never taken for a reservation.
 */
function rowOf(subnetKey: string, value: string | undefined, expiresAt: number | null | undefined, now: number): LeaseRow {
  if (value === undefined) return { ...unreadableRow(subnetKey, 'not seen before'), flags: [], notes: [] };
  const decoded = decodeLeaseAttrs(value);
  const subnets = parseSubnetKey(subnetKey);
  if (!decoded.ok) return unreadableRow(subnetKey, decoded.reason);
  if (!subnets.ok) return unreadableRow(subnetKey, subnets.reason);
  const lease: Lease = { key: subnetKey, ...subnets.value, attrs: decoded.value, expiresAt };
  return leaseRow(lease, now);
}

export function describeEvent(input: {
  readonly time: number;
  readonly type: LeaseEventKind;
  readonly subnetKey: string;
  readonly value: string | undefined;
  readonly previousValue?: string | undefined;
  /** For a put: when its etcd lease ends, null for none (a reservation); undefined for a delete. */
  readonly expiresAt: number | null | undefined;
  readonly revision: number;
}): LeaseEventJson {
  const deleted = input.type === 'removed' || input.type === 'expired';
  // A deleted key has no expiry any more; it is not a reservation either.
  const row = rowOf(input.subnetKey, input.value, deleted ? undefined : input.expiresAt, input.time);
  return {
    time: new Date(input.time).toISOString(),
    type: input.type,
    ...(deleted ? { ...row, reserved: false, flags: row.flags.filter((f) => f !== 'reserved') } : row),
    ...(input.type === 'changed' ? { previous: rowOf(input.subnetKey, input.previousValue, undefined, input.time) } : {}),
    revision: input.revision,
  };
}

/** What happened, in words, for the end of a line. */
function eventDetail(event: LeaseEventJson): string {
  switch (event.type) {
    case 'added':
    case 'renewed':
      if (event.flags.includes('unreadable')) return display(event.notes.join('; '));
      return event.expiresAt ? `expires ${event.expiresAt}` : 'reserved (no expiry)';
    case 'changed': {
      const before = event.previous;
      const diffs: string[] = [];
      if (before?.publicIP !== event.publicIP) diffs.push(`PublicIP ${before?.publicIP ?? '-'} -> ${event.publicIP ?? '-'}`);
      if (before?.backendType !== event.backendType) diffs.push(`BackendType ${before?.backendType ?? '-'} -> ${event.backendType ?? '-'}`);
      if (JSON.stringify(before?.backendData ?? null) !== JSON.stringify(event.backendData ?? null)) {
        diffs.push(`BackendData ${JSON.stringify(before?.backendData ?? null)} -> ${JSON.stringify(event.backendData ?? null)}`);
      }
      if (event.flags.includes('unreadable')) diffs.push(event.notes.join('; '));
      return display(diffs.length > 0 ? diffs.join('; ') : 'attributes rewritten');
    }
    case 'removed':
      return 'deleted from etcd';
    case 'expired':
      return 'its etcd lease expired';
  }
}

/** The columns a watch prints: the lease row's, after the time and the kind. */
export const WATCH_COLUMNS: readonly LeaseColumn[] = ['subnet', 'publicIP', 'backend', 'vtepMac', 'expires', 'flags'];
const TIME_WIDTH = 24;
const TYPE_WIDTH = 7;

/** The header line of `leases watch`, aligned with its event lines. */
export function renderEventHeader(): string {
  return `${renderLeaseHeader(WATCH_COLUMNS, [['TIME', TIME_WIDTH], ['EVENT', TYPE_WIDTH]])}  DETAIL`.trimEnd();
}

/** One aligned line: time, kind, the lease row's cells, and what happened. */
export function renderEventLine(event: LeaseEventJson): string {
  const gone = event.type === 'removed' || event.type === 'expired';
  const line = renderLeaseLine(
    event,
    WATCH_COLUMNS,
    [
      [event.time, TIME_WIDTH],
      [event.type, TYPE_WIDTH],
    ],
    // A deleted key expires no more.
    gone ? { expires: '-' } : {},
  );
  return `${line}  ${eventDetail(event)}`.trimEnd();
}
