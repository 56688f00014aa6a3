/**
 * What a host's kernel holds for peer subnets under a prefix, and what the live leases call for, in one shape:
 * `subnet -> description`. Churn tests and benchmarks compare the two to tell when a host has converged.
 */
import type { LabHost } from './lab.js';
import type { ChurnBackend, ChurnResult } from './churn.js';

/** The kernel's entries for subnets whose text starts with `prefix` (e.g. `10.2`), one string per subnet. */
export async function kernelPeerState(host: LabHost, backend: Exclude<ChurnBackend, 'udp'>, prefix: string): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  if (backend === 'host-gw') {
    for (const r of await host.ipJson<Array<{ dst: string; gateway?: string }>>(['-4', 'route', 'show', 'dev', 'eth0'])) {
      if (r.gateway && r.dst.startsWith(prefix)) state.set(r.dst, `via ${r.gateway}`);
    }
    return state;
  }
  const [routes, neighbours, fdbText] = await Promise.all([
    host.ipJson<Array<{ dst: string; gateway?: string }>>(['-4', 'route', 'show', 'dev', 'flannel.1']),
    host.ipJson<Array<{ dst: string; lladdr?: string }>>(['-4', 'neigh', 'show', 'dev', 'flannel.1']),
    host.exec('bridge', ['-j', 'fdb', 'show', 'dev', 'flannel.1']),
  ]);
  const fdb = new Map<string, string>();
  for (const f of JSON.parse(fdbText) as Array<{ mac: string; dst?: string }>) if (f.dst) fdb.set(f.mac, f.dst);
  const neigh = new Map<string, string>();
  for (const n of neighbours) if (n.lladdr) neigh.set(n.dst, n.lladdr);
  for (const r of routes) {
    if (!r.gateway || !r.dst.startsWith(prefix)) continue;
    const mac = neigh.get(r.gateway);
    state.set(r.dst, `via ${r.gateway} mac ${mac ?? '-'} dst ${mac ? (fdb.get(mac) ?? '-') : '-'}`);
  }
  // Entries without a route (left behind) show up as a mismatch too.
  for (const [address, mac] of neigh) if (address.startsWith(prefix) && !state.has(`${address}/24`)) state.set(`${address}/24`, `stray neighbour mac ${mac}`);
  return state;
}

/** What the live churn leases call for, in kernelPeerState's shape. */
export function expectedPeerState(backend: Exclude<ChurnBackend, 'udp'>, live: ChurnResult['live']): Map<string, string> {
  const state = new Map<string, string>();
  for (const [key, { publicIP, mac }] of live) {
    const subnet = key.replace('-', '/');
    const address = key.slice(0, key.indexOf('-'));
    state.set(subnet, backend === 'host-gw' ? `via ${publicIP}` : `via ${address} mac ${mac} dst ${publicIP}`);
  }
  return state;
}

/** The subnets where two states differ, for a readable failure. */
export function stateDifferences(actual: ReadonlyMap<string, string>, wanted: ReadonlyMap<string, string>, limit = 10): string[] {
  const out: string[] = [];
  for (const [subnet, want] of wanted) if (actual.get(subnet) !== want) out.push(`${subnet}: want ${want}, have ${actual.get(subnet) ?? 'nothing'}`);
  for (const [subnet, have] of actual) if (!wanted.has(subnet)) out.push(`${subnet}: stale ${have}`);
  return out.slice(0, limit);
}

/** VmRSS of a process in MiB, or undefined when it is gone. */
export async function rssMiB(pid: number): Promise<number | undefined> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : undefined;
}

/** CPU seconds (user + system) a process has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 (1-based) of /proc/PID/stat; clock ticks are 100 per second on Linux.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
