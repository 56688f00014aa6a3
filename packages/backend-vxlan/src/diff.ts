/**
 * Turning two states into the kernel changes between them. The same function serves both cases: `apply` diffs
 * the last programmed state against the new plan; `inspect` (and so resync and flannelctl doctor) diffs what the
 * kernel actually holds against the plan, classifying each difference as missing, wrong or stale.
 */
import type { EntryDrift, EntryInspection, HostChange, KernelEntry } from '@flannel-ts/core';
import type { DesiredRoute, DesiredState, FamilyView } from './plan.js';

/** Entries as found in the kernel (or as last applied): like a plan, but a MAC may have several FDB entries. */
export interface KernelState {
  /** peer subnet address -> MAC */
  readonly neighbours: ReadonlyMap<string, string>;
  /** [MAC, underlay address] pairs */
  readonly fdb: Iterable<readonly [string, string]>;
  /** destination subnet -> route */
  readonly routes: ReadonlyMap<string, DesiredRoute>;
}

export interface StateDrift {
  /** routes, neighbours, fdb: each difference with the changes that repair it. */
  readonly entries: readonly EntryInspection[];
  /** Every change, removals first (so an entry that moves keeps one form at a time). */
  readonly changes: HostChange[];
}

const sameRoute = (a: DesiredRoute, b: DesiredRoute) => a.via === b.via && a.dev === b.dev && a.onlink === b.onlink;

const routeEntry = (dst: string, route: DesiredRoute): KernelEntry => ({ kind: 'route', dst, via: route.via, dev: route.dev, onlink: route.onlink });

export function diffStates(view: FamilyView, current: KernelState, wanted: DesiredState): HostChange[] {
  return driftStates(view, current, wanted).changes;
}

/** Each way `current` differs from `wanted`, and the changes (in one list) that turn the one into the other. */
export function driftStates(view: FamilyView, current: KernelState, wanted: DesiredState): StateDrift {
  const device = view.device;
  const removals: HostChange[] = [];
  const additions: HostChange[] = [];
  const currentFdb = [...current.fdb];

  // Removals, in kernel order.
  const staleRoutes: EntryDrift[] = [];
  for (const [dst, route] of current.routes) {
    if (wanted.routes.has(dst)) continue;
    const change: HostChange = { kind: 'route', action: 'delete', dst, via: route.via, ...(route.dev ? { dev: route.dev } : {}) };
    removals.push(change);
    staleRoutes.push({ problem: 'stale', found: [routeEntry(dst, route)], changes: [change] });
  }
  const staleNeighbours: EntryDrift[] = [];
  for (const [address, mac] of current.neighbours) {
    if (wanted.neighbours.has(address)) continue;
    const change: HostChange = { kind: 'neighbour', action: 'delete', dev: device, address };
    removals.push(change);
    staleNeighbours.push({ problem: 'stale', found: [{ kind: 'neighbour', dev: device, address, lladdr: mac }], changes: [change] });
  }
  // An FDB entry the plan does not want is stale, unless the plan wants its MAC elsewhere and the kernel has no
  // entry for the MAC there: then the MAC is wrong, deleted and replaced.
  const present = new Set(currentFdb.map(([mac, dst]) => `${mac} ${dst}`));
  const staleFdb: EntryDrift[] = [];
  const wrongFdb = new Map<string, { found: KernelEntry[]; changes: HostChange[] }>();
  for (const [mac, dst] of currentFdb) {
    const want = wanted.fdb.get(mac);
    if (want === dst) continue;
    const change: HostChange = { kind: 'fdb', action: 'delete', dev: device, lladdr: mac, dst };
    removals.push(change);
    const found: KernelEntry = { kind: 'fdb', dev: device, lladdr: mac, dst };
    if (want !== undefined && !present.has(`${mac} ${want}`)) {
      const wrong = wrongFdb.get(mac) ?? { found: [], changes: [] };
      wrong.found.push(found);
      wrong.changes.push(change);
      wrongFdb.set(mac, wrong);
    } else staleFdb.push({ problem: 'stale', found: [found], changes: [change] });
  }

  // Additions, in plan order.
  const neighbours: EntryDrift[] = [];
  for (const [address, mac] of wanted.neighbours) {
    const have = current.neighbours.get(address);
    if (have === mac) continue;
    const change: HostChange = { kind: 'neighbour', action: 'replace', dev: device, address, lladdr: mac };
    additions.push(change);
    neighbours.push({
      problem: have === undefined ? 'missing' : 'wrong',
      wanted: { kind: 'neighbour', dev: device, address, lladdr: mac },
      found: have === undefined ? [] : [{ kind: 'neighbour', dev: device, address, lladdr: have }],
      changes: [change],
    });
  }
  const routes: EntryDrift[] = [];
  for (const [dst, route] of wanted.routes) {
    const existing = current.routes.get(dst);
    if (existing && sameRoute(existing, route)) continue;
    const change: HostChange = { kind: 'route', action: 'replace', dst, via: route.via, ...(route.dev ? { dev: route.dev } : {}), ...(route.onlink ? { onlink: true } : {}) };
    additions.push(change);
    routes.push({ problem: existing ? 'wrong' : 'missing', wanted: routeEntry(dst, route), found: existing ? [routeEntry(dst, existing)] : [], changes: [change] });
  }
  const fdb: EntryDrift[] = [];
  for (const [mac, dst] of wanted.fdb) {
    if (present.has(`${mac} ${dst}`)) continue;
    const change: HostChange = { kind: 'fdb', action: 'replace', dev: device, lladdr: mac, dst };
    additions.push(change);
    const wrong = wrongFdb.get(mac);
    fdb.push({ problem: wrong ? 'wrong' : 'missing', wanted: { kind: 'fdb', dev: device, lladdr: mac, dst }, found: wrong?.found ?? [], changes: [...(wrong?.changes ?? []), change] });
  }

  return {
    entries: [
      { kind: 'route', wanted: wanted.routes.size, drift: [...routes, ...staleRoutes] },
      { kind: 'neighbour', wanted: wanted.neighbours.size, drift: [...neighbours, ...staleNeighbours] },
      { kind: 'fdb', wanted: wanted.fdb.size, drift: [...fdb, ...staleFdb] },
    ],
    changes: [...removals, ...additions],
  };
}
