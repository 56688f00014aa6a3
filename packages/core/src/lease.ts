/**
 * Leases and the lease value JSON (flannel's `LeaseAttrs`, flannel-compat.md §1.4).
 *
 * Encoding is byte-for-byte what Go's json.Marshal writes for flannel's struct: fixed key order, `PublicIPv6`
 * always present (`null` when absent), `BackendType`, `BackendData` and `BackendV6Data` omitted when empty.
 * Decoding follows encoding/json: keys are case-insensitive, unknown keys are ignored, an absent `PublicIP`
 * is `0.0.0.0`, and a `PublicIP` that is not an IPv4 string makes the whole value invalid.
 */
import { decoded, rejected, type Decoded } from './decoded.js';
import { goJsonStringify, isPlainObject, matchFields } from './go-json.js';
import { normalizeIP } from './ip.js';
import type { LeaseSubnets } from './subnet-key.js';

export interface LeaseAttrs {
  /** The host's public IPv4 address; `0.0.0.0` when it has none. */
  readonly publicIP: string;
  readonly publicIPv6?: string | undefined;
  /** Absent for udp and alloc leases, as flannel writes them. */
  readonly backendType?: string | undefined;
  /** Backend-specific JSON, e.g. `{ VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' }` for vxlan. */
  readonly backendData?: unknown;
  readonly backendV6Data?: unknown;
}

export interface Lease extends LeaseSubnets {
  /** The subnet key as stored (the last element of the etcd key). */
  readonly key: string;
  readonly attrs: LeaseAttrs;
  /**
   * When the etcd lease expires (ms since the epoch); null for a reservation (a key without an etcd lease, which
   * never expires); undefined when the key has an etcd lease whose TTL was not looked up.
   */
  readonly expiresAt: number | null | undefined;
  /**
   * The etcd revision that created the key (unchanged by renewals): of two leases that claim one subnet or VTEP
   * MAC, the older is admitted. Undefined when not read from the store.
   */
  readonly createRevision?: bigint | undefined;
}

export type LeaseEvent =
  | { readonly type: 'added'; readonly lease: Lease }
  | { readonly type: 'removed'; readonly lease: Lease };

/** What a backend receives: peer leases added or removed since the previous batch. */
export type LeaseBatch = readonly LeaseEvent[];

export const NO_PUBLIC_IP = '0.0.0.0';

export function encodeLeaseAttrs(attrs: LeaseAttrs): string {
  let out = `{"PublicIP":${goJsonStringify(attrs.publicIP)},"PublicIPv6":${attrs.publicIPv6 ? goJsonStringify(attrs.publicIPv6) : 'null'}`;
  if (attrs.backendType) out += `,"BackendType":${goJsonStringify(attrs.backendType)}`;
  if (attrs.backendData !== undefined) out += `,"BackendData":${goJsonStringify(attrs.backendData)}`;
  if (attrs.backendV6Data !== undefined) out += `,"BackendV6Data":${goJsonStringify(attrs.backendV6Data)}`;
  return `${out}}`;
}

const ATTR_FIELDS = ['PublicIP', 'PublicIPv6', 'BackendType', 'BackendData', 'BackendV6Data'] as const;

export function decodeLeaseAttrs(text: string): Decoded<LeaseAttrs> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return rejected(`lease value is not JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(raw)) return rejected('lease value is not a JSON object');
  const fields = matchFields(raw, ATTR_FIELDS);

  let publicIP = NO_PUBLIC_IP;
  if ('PublicIP' in fields) {
    const value = fields.PublicIP;
    const ip = typeof value === 'string' ? normalizeIP(4, value) : undefined;
    if (ip === undefined) return rejected(`PublicIP ${goJsonStringify(value ?? null)} is not an IPv4 address`);
    publicIP = ip;
  }

  let publicIPv6: string | undefined;
  const v6Value = fields.PublicIPv6;
  if (v6Value !== undefined && v6Value !== null) {
    publicIPv6 = typeof v6Value === 'string' ? (normalizeIP(6, v6Value) ?? normalizeIP(4, v6Value)) : undefined;
    if (publicIPv6 === undefined) return rejected(`PublicIPv6 ${goJsonStringify(v6Value)} is not an IPv6 address`);
  }

  const backendType = fields.BackendType;
  if (backendType !== undefined && backendType !== null && typeof backendType !== 'string') {
    return rejected(`BackendType ${goJsonStringify(backendType)} is not a string`);
  }

  return decoded(
    stripUndefined({
      publicIP,
      publicIPv6,
      backendType: backendType || undefined,
      backendData: fields.BackendData ?? undefined,
      backendV6Data: fields.BackendV6Data ?? undefined,
    }),
  );
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** True when two attribute sets would be written identically. */
export function sameLeaseAttrs(a: LeaseAttrs, b: LeaseAttrs): boolean {
  return encodeLeaseAttrs(a) === encodeLeaseAttrs(b);
}

/**
 * True when `leases` are the leases of `known` (by key) with the same attributes: what a backend programmed is
 * still what they call for. A renewal replaces a lease object without changing this.
 */
export function sameLeases(known: ReadonlyMap<string, Lease>, leases: readonly Lease[]): boolean {
  if (leases.length !== known.size) return false;
  return leases.every((lease) => {
    const was = known.get(lease.key);
    return was === lease || (was !== undefined && sameLeaseAttrs(was.attrs, lease.attrs));
  });
}
