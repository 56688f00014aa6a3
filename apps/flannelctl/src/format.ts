/**
 * Text rendering for human-readable output: aligned tables, key/value blocks, times and durations. Every cell and
 * value goes through core's printable(): what etcd holds is untrusted, and a newline or escape sequence in a lease
 * must not forge a row or drive the terminal.
 */
import { printable } from '@flannel-ts/core';

const COLUMN_GAP = '   ';

/** Left-aligned columns under upper-case headers; the last column is not padded. */
export function renderTable(headers: readonly string[], unsafeRows: readonly (readonly string[])[]): string {
  const rows = unsafeRows.map((row) => row.map(printable));
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join(COLUMN_GAP)
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `Label:  value` lines with the values aligned. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([label]) => label.length)) + 1;
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width)}  ${printable(value)}`).join('\n');
}

/** ISO-8601 in UTC to the second (etcd TTLs are whole seconds, so milliseconds would be noise). */
export function formatTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Remaining time like `23h59m`, `4m10s`, `12s`; `expired` when nothing is left. */
export function formatRemaining(ms: number): string {
  if (ms <= 0) return 'expired';
  const totalSeconds = Math.floor(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${hours}h${minutes}m`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

/** Like formatRemaining, for the past: `0s`, `12s`, `4m10s`, `23h59m`. */
export function formatAgo(ms: number): string {
  return ms < 1000 ? '0s' : formatRemaining(ms);
}

/** A JSON value as a short inline text for a summary line (`VNI=1, DirectRouting=true`). */
export function formatInlineValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
