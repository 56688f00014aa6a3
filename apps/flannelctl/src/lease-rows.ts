/**
 * One row per lease, for every command that shows leases: `status`, `leases list` and `leases watch` build the same
 * LeaseRow (their --json shape: camelCase throughout, numbers as numbers, times from one clock reading per command)
 * and print it through the same cells and columns.
 *
 * Everything a row shows comes from etcd and is untrusted. `display` is the one place that text enters terminal
 * output: it escapes control characters (core's printable).
 */
import { parseSubnetKey, printable, type Lease, type LeaseSubnets, type Rejection, type RejectionReason } from '@flannel-ts/core';
import { formatAgo, formatRemaining, formatTime, renderTable } from './format.js';

export interface LeaseRow {
  /** The subnet key as stored, e.g. `10.1.30.0-24`. */
  readonly key: string;
  readonly subnet: string | null;
  readonly ipv6Subnet: string | null;
  readonly publicIP: string | null;
  readonly publicIPv6: string | null;
  readonly backendType: string | null;
  /** The lease's BackendData with camelCase keys (`{vni, vtepMac}`); null when there is none. */
  readonly backendData: unknown;
  /** BackendV6Data, the same way (a dual-stack vxlan lease's IPv6 VTEP). */
  readonly backendV6Data: unknown;
  readonly vtepMac: string | null;
  /** ISO-8601 to the second; null for a reservation, or when the etcd lease ended. */
  readonly expiresAt: string | null;
  readonly expiresInSeconds: number | null;
  /** When the current etcd lease was granted (the last renewal), ISO-8601; null when unknown. */
  readonly renewedAt: string | null;
  readonly renewedSecondsAgo: number | null;
  /** A reservation: a lease key without an etcd lease. */
  readonly reserved: boolean;
  /** What needs a look, e.g. `duplicate-public-ip`, `expiring`, `unreadable`. */
  readonly flags: readonly string[];
  /** Why each flag is set, in words. */
  readonly notes: readonly string[];
  /** Why flanneld on every host refuses to program this lease (core's admission decision), or null. */
  readonly rejection: { readonly reason: RejectionReason; readonly detail: string } | null;
}

export interface RowTiming {
  /** How long ago the etcd lease behind the key was granted (ms), when known. */
  readonly renewedAgoMs?: number | undefined;
}

/** `VtepMAC` -> `vtepMac`, `VNI` -> `vni`, `DirectRouting` -> `directRouting`. */
export function camelKey(key: string): string {
  const words = key.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+|[0-9]+/g) ?? [key];
  return words.map((word, i) => (i === 0 ? word.toLowerCase() : word.charAt(0).toUpperCase() + word.slice(1).toLowerCase())).join('');
}

/** An object's keys in camelCase (one level: flannel's Backend and BackendData objects are flat). */
export function camelKeys(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [camelKey(key), inner]));
}

/** The VtepMAC a vxlan lease publishes (keys are case-insensitive, as flannel reads them). */
export function vtepMacOf(lease: Lease): string | undefined {
  const data = lease.attrs.backendData;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const mac = Object.entries(data).find(([key]) => key.toLowerCase() === 'vtepmac')?.[1];
  return typeof mac === 'string' ? mac : undefined;
}

/** A decoded lease as a row, at `now` (read once per command); a rejected lease is flagged, with the reason. */
export function leaseRow(lease: Lease, now: number, timing: RowTiming = {}, flags: readonly string[] = [], notes: readonly string[] = [], rejection?: Rejection): LeaseRow {
  if (rejection) {
    flags = [...flags, 'rejected'];
    notes = [...notes, `rejected (${rejection.reason}): ${rejection.detail}; no flanneld programs it, fix or revoke the key`];
  }
  const remainingMs = typeof lease.expiresAt === 'number' ? lease.expiresAt - now : undefined;
  const renewedMs = timing.renewedAgoMs;
  const reserved = lease.expiresAt === null;
  return {
    key: lease.key,
    subnet: lease.subnet?.toString() ?? null,
    ipv6Subnet: lease.ipv6Subnet?.toString() ?? null,
    publicIP: lease.attrs.publicIP,
    publicIPv6: lease.attrs.publicIPv6 ?? null,
    backendType: lease.attrs.backendType ?? null,
    backendData: camelKeys(lease.attrs.backendData ?? null),
    backendV6Data: camelKeys(lease.attrs.backendV6Data ?? null),
    vtepMac: vtepMacOf(lease) ?? null,
    expiresAt: typeof lease.expiresAt === 'number' ? formatTime(lease.expiresAt) : null,
    expiresInSeconds: remainingMs === undefined ? null : Math.max(0, Math.round(remainingMs / 1000)),
    renewedAt: renewedMs === undefined ? null : formatTime(now - renewedMs),
    renewedSecondsAgo: renewedMs === undefined ? null : Math.round(renewedMs / 1000),
    reserved,
    flags: [...flags, ...(reserved && !flags.includes('reserved') ? ['reserved'] : [])],
    notes,
    rejection: rejection ? { reason: rejection.reason, detail: rejection.detail } : null,
  };
}

/** A key whose value is not a lease (not JSON, or the wrong shape): shown as such, never as a reservation. */
export function unreadableRow(key: string, reason: string): LeaseRow {
  const subnets: LeaseSubnets | undefined = (() => {
    const parsed = parseSubnetKey(key);
    return parsed.ok ? parsed.value : undefined;
  })();
  return {
    key,
    subnet: subnets?.subnet?.toString() ?? null,
    ipv6Subnet: subnets?.ipv6Subnet?.toString() ?? null,
    publicIP: null,
    publicIPv6: null,
    backendType: null,
    backendData: null,
    backendV6Data: null,
    vtepMac: null,
    expiresAt: null,
    expiresInSeconds: null,
    renewedAt: null,
    renewedSecondsAgo: null,
    reserved: false,
    flags: ['unreadable'],
    notes: [`the value is not a lease: ${reason}`],
    rejection: null,
  };
}

/** The one place etcd-derived text enters terminal output: control characters escaped, so every command that prints a row gets it. */
export function display(text: string): string {
  return printable(text);
}

export type LeaseColumn = 'subnet' | 'ipv6Subnet' | 'publicIP' | 'publicIPv6' | 'backend' | 'vtepMac' | 'expires' | 'renewed' | 'flags';

const HEADERS: Record<LeaseColumn, string> = {
  subnet: 'SUBNET',
  ipv6Subnet: 'IPV6 SUBNET',
  publicIP: 'PUBLIC IP',
  publicIPv6: 'PUBLIC IPV6',
  backend: 'BACKEND',
  vtepMac: 'VTEP MAC',
  expires: 'EXPIRES',
  renewed: 'RENEWED',
  flags: 'FLAGS',
};

/** Widths of the streamed `leases watch` columns (a table cannot be measured before its rows arrive). */
export const STREAM_WIDTHS: Readonly<Record<LeaseColumn, number>> = {
  subnet: 18,
  ipv6Subnet: 24,
  publicIP: 15,
  publicIPv6: 24,
  backend: 7,
  vtepMac: 17,
  expires: 10,
  renewed: 8,
  flags: 11,
};

/** The text of each column for a row. */
export function leaseCells(row: LeaseRow): Record<LeaseColumn, string> {
  return {
    // A rejected key may name another lease's subnet (an alias): show the key too.
    subnet: display(row.flags.includes('rejected') ? `${row.subnet ?? '-'} (key ${row.key})` : (row.subnet ?? row.key)),
    ipv6Subnet: display(row.ipv6Subnet ?? '-'),
    publicIP: display(row.publicIP ?? '-'),
    publicIPv6: display(row.publicIPv6 ?? '-'),
    backend: display(row.backendType ?? '-'),
    vtepMac: display(row.vtepMac ?? '-'),
    expires: row.reserved ? 'never' : row.expiresInSeconds === null ? (row.flags.includes('unreadable') ? '-' : 'ending') : `in ${formatRemaining(row.expiresInSeconds * 1000)}`,
    renewed: row.renewedSecondsAgo === null ? '-' : `${formatAgo(row.renewedSecondsAgo * 1000)} ago`,
    flags: row.flags.length > 0 ? row.flags.join(',') : '-',
  };
}

/** The columns for a set of rows: the IPv6 ones only when a row has IPv6. */
export function leaseColumns(rows: readonly LeaseRow[]): LeaseColumn[] {
  const v6Subnet = rows.some((row) => row.ipv6Subnet !== null);
  const v6Ip = rows.some((row) => row.publicIPv6 !== null);
  return ['subnet', ...(v6Subnet ? ['ipv6Subnet' as const] : []), 'publicIP', ...(v6Ip ? ['publicIPv6' as const] : []), 'backend', 'vtepMac', 'expires', 'renewed', 'flags'];
}

/** Rows as an aligned table under upper-case headers. */
export function renderLeaseTable(rows: readonly LeaseRow[], columns: readonly LeaseColumn[] = leaseColumns(rows)): string {
  return renderTable(
    columns.map((c) => HEADERS[c]),
    rows.map((row) => {
      const cells = leaseCells(row);
      return columns.map((c) => cells[c]);
    }),
  );
}

/** The header of a streamed table, aligned like `renderLeaseLine` (padded: the caller appends or trims). */
export function renderLeaseHeader(columns: readonly LeaseColumn[], prefix: readonly [string, number][] = []): string {
  return [...prefix.map(([text, width]) => text.padEnd(width)), ...columns.map((c) => HEADERS[c].padEnd(STREAM_WIDTHS[c]))].join('  ');
}

/** One row of a streamed table (fixed widths; a longer cell pushes the rest right but keeps its text whole; padded). */
export function renderLeaseLine(row: LeaseRow, columns: readonly LeaseColumn[], prefix: readonly [string, number][] = [], overrides: Partial<Record<LeaseColumn, string>> = {}): string {
  const cells = { ...leaseCells(row), ...overrides };
  return [...prefix.map(([text, width]) => text.padEnd(width)), ...columns.map((c) => cells[c].padEnd(STREAM_WIDTHS[c]))].join('  ');
}

/** The notes of rows, one line each under the row's subnet (its key when rejected), for below a table. */
export function renderLeaseNotes(rows: readonly LeaseRow[]): string[] {
  return rows.flatMap((row) => row.notes.map((note) => display(`  ${row.flags.includes('rejected') ? row.key : (row.subnet ?? row.key)}: ${note}`)));
}
