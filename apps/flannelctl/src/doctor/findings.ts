/** What `flannelctl doctor` reports: one finding per check, each with the fix when something is wrong. */
import { printable } from '@flannel-ts/core';

export type FindingStatus = 'ok' | 'warn' | 'fail';

export interface Finding {
  /** Stable name of the check (`routes`, `mtu`, `peer`, ...), for scripts and tests. */
  readonly check: string;
  readonly status: FindingStatus;
  readonly message: string;
  /** What to do about it; null when there is nothing to do. May span lines (one command per line). */
  readonly fix: string | null;
}

export const ok = (check: string, message: string): Finding => ({ check, status: 'ok', message, fix: null });
export const warn = (check: string, message: string, fix: string | null = null): Finding => ({ check, status: 'warn', message, fix });
export const fail = (check: string, message: string, fix: string): Finding => ({ check, status: 'fail', message, fix });

const MARKERS: Record<FindingStatus, string> = { ok: '✓', warn: '!', fail: '✗' };

export interface FindingCounts {
  readonly ok: number;
  readonly warn: number;
  readonly fail: number;
}

export function countFindings(findings: readonly Finding[]): FindingCounts {
  return {
    ok: findings.filter((f) => f.status === 'ok').length,
    warn: findings.filter((f) => f.status === 'warn').length,
    fail: findings.filter((f) => f.status === 'fail').length,
  };
}

/** 1 when any check failed; warnings do not fail. */
export function exitCodeFor(findings: readonly Finding[]): 0 | 1 {
  return findings.some((f) => f.status === 'fail') ? 1 : 0;
}

/** One line per finding (marker, check, message), the fix indented under it, and a summary line. */
export function renderFindings(findings: readonly Finding[]): string {
  const width = Math.max(0, ...findings.map((f) => f.check.length));
  const lines: string[] = [];
  for (const finding of findings) {
    // Messages quote lease keys and values from etcd: escaped, so they cannot forge findings (fix lines are ours).
    lines.push(`${MARKERS[finding.status]} ${finding.check.padEnd(width)}  ${printable(finding.message)}`);
    if (finding.fix !== null && finding.status !== 'ok') {
      const [first = '', ...rest] = finding.fix.split('\n').map(printable);
      lines.push(`    fix: ${first}`, ...rest.map((line) => `         ${line}`));
    }
  }
  lines.push('', summarizeFindings(findings));
  return lines.join('\n');
}

export function summarizeFindings(findings: readonly Finding[]): string {
  const counts = countFindings(findings);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (counts.fail === 0) return `healthy: ${plural(counts.ok, 'check')} ok${counts.warn > 0 ? `, ${plural(counts.warn, 'warning')}` : ''}`;
  return `${plural(counts.fail, 'problem')}, ${plural(counts.warn, 'warning')}, ${plural(counts.ok, 'check')} ok`;
}
