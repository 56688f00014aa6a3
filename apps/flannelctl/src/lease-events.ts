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
import { decodeLeaseAttrs, parseSubnetKey, printable, sameLeaseAttrs, type LeaseAttrs } from '@flannel-ts/core';
import { formatRemaining } from './format.js';

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

/** One line of `leases watch --json`. */
export interface LeaseEventJson {
  /** When flannelctl saw the event, ISO-8601 with milliseconds. */
  readonly time: string;
  readonly type: LeaseEventKind;
  /** The subnet key as stored, e.g. `10.1.30.0-24`. */
  readonly key: string;
  readonly subnet: string | null;
  readonly ipv6Subnet: string | null;
  /** The lease's attributes: as written for a put, as last known for a delete (null if never seen). */
  readonly publicIP: string | null;
  readonly publicIPv6: string | null;
  readonly backendType: string | null;
  readonly backendData: unknown;
  /** For a put: when the new etcd lease ends (ISO-8601), null for a reservation. */
  readonly expiresAt: string | null;
  /** For `changed`: the attributes before. */
  readonly previous?: { readonly publicIP: string | null; readonly backendType: string | null; readonly backendData: unknown } | undefined;
  /** The store revision of the change. */
  readonly revision: string;
}

export function describeEvent(input: {
  readonly time: number;
  readonly type: LeaseEventKind;
  readonly subnetKey: string;
  readonly value: string | undefined;
  readonly previousValue?: string | undefined;
  readonly expiresAt: number | null | undefined;
  readonly revision: string;
}): LeaseEventJson {
  const subnets = parseSubnetKey(input.subnetKey);
  const attrs = decodeAttrs(input.value);
  const previous = input.type === 'changed' ? decodeAttrs(input.previousValue) : undefined;
  return {
    time: new Date(input.time).toISOString(),
    type: input.type,
    key: input.subnetKey,
    subnet: subnets.ok ? (subnets.value.subnet?.toString() ?? null) : null,
    ipv6Subnet: subnets.ok ? (subnets.value.ipv6Subnet?.toString() ?? null) : null,
    publicIP: attrs?.publicIP ?? null,
    publicIPv6: attrs?.publicIPv6 ?? null,
    backendType: attrs?.backendType ?? null,
    backendData: attrs?.backendData ?? null,
    expiresAt: typeof input.expiresAt === 'number' ? new Date(input.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z') : null,
    ...(input.type === 'changed' ? { previous: { publicIP: previous?.publicIP ?? null, backendType: previous?.backendType ?? null, backendData: previous?.backendData ?? null } } : {}),
    revision: input.revision,
  };
}

function decodeAttrs(value: string | undefined): LeaseAttrs | undefined {
  if (value === undefined) return undefined;
  const decoded = decodeLeaseAttrs(value);
  return decoded.ok ? decoded.value : undefined;
}

/** One human-readable line: time, kind, subnet, owner and what happened. */
export function renderEventLine(event: LeaseEventJson, now: number): string {
  const subnet = [event.subnet, event.ipv6Subnet].filter(Boolean).join(' ') || event.key;
  const owner = event.publicIP ? `${event.publicIP}${event.backendType ? ` ${event.backendType}` : ''}` : '(owner unknown)';
  let detail = '';
  switch (event.type) {
    case 'added':
    case 'renewed':
      detail = event.expiresAt ? `expires ${event.expiresAt} (in ${formatRemaining(Date.parse(event.expiresAt) - now)})` : 'reserved (no expiry)';
      break;
    case 'changed': {
      const diffs: string[] = [];
      const before = event.previous;
      if (before?.publicIP !== event.publicIP) diffs.push(`PublicIP ${before?.publicIP ?? '-'} -> ${event.publicIP ?? '-'}`);
      if (before?.backendType !== event.backendType) diffs.push(`BackendType ${before?.backendType ?? '-'} -> ${event.backendType ?? '-'}`);
      if (JSON.stringify(before?.backendData ?? null) !== JSON.stringify(event.backendData ?? null)) {
        diffs.push(`BackendData ${JSON.stringify(before?.backendData ?? null)} -> ${JSON.stringify(event.backendData ?? null)}`);
      }
      detail = diffs.length > 0 ? diffs.join('; ') : 'attributes rewritten';
      break;
    }
    case 'removed':
      detail = 'deleted from etcd';
      break;
    case 'expired':
      detail = 'its etcd lease expired';
      break;
  }
  // One event, one line: whatever the lease holds is escaped (core's printable).
  return printable(`${event.time}  ${event.type.padEnd(7)}  ${subnet}  ${owner}  ${detail}`);
}
