/**
 * Turning two states into the kernel changes between them. The same function serves both cases: `apply` diffs
 * the last programmed state against the new plan; `resync` diffs what the kernel actually holds against the plan
 * (repairing drift and removing stale entries of departed peers).
 */
import type { HostChange } from '@flannel-ts/core';
import type { DesiredRoute, DesiredState, FamilyView } from './plan.js';

const sameRoute = (a: DesiredRoute, b: DesiredRoute) => a.via === b.via && a.dev === b.dev && a.onlink === b.onlink;

export function diffStates(view: FamilyView, current: DesiredState, wanted: DesiredState): HostChange[] {
  const removals: HostChange[] = [];
  const additions: HostChange[] = [];
  for (const [dst, route] of current.routes) {
    if (!wanted.routes.has(dst)) removals.push({ kind: 'route', action: 'delete', dst, via: route.via, ...(route.dev ? { dev: route.dev } : {}) });
  }
  for (const [address] of current.neighbours) {
    if (!wanted.neighbours.has(address)) removals.push({ kind: 'neighbour', action: 'delete', dev: view.device, address });
  }
  for (const [mac, dst] of current.fdb) {
    if (wanted.fdb.get(mac) !== dst) removals.push({ kind: 'fdb', action: 'delete', dev: view.device, lladdr: mac, dst });
  }
  for (const [address, mac] of wanted.neighbours) {
    if (current.neighbours.get(address) !== mac) additions.push({ kind: 'neighbour', action: 'replace', dev: view.device, address, lladdr: mac });
  }
  for (const [dst, route] of wanted.routes) {
    const existing = current.routes.get(dst);
    if (!existing || !sameRoute(existing, route)) {
      additions.push({ kind: 'route', action: 'replace', dst, via: route.via, ...(route.dev ? { dev: route.dev } : {}), ...(route.onlink ? { onlink: true } : {}) });
    }
  }
  for (const [mac, dst] of wanted.fdb) {
    if (current.fdb.get(mac) !== dst) additions.push({ kind: 'fdb', action: 'replace', dev: view.device, lladdr: mac, dst });
  }
  return [...removals, ...additions];
}
