/**
 * Kernel change notifications: `ip -o monitor label OBJECTS` (one line per change, each labelled `[LINK]`,
 * `[ADDR]`, `[NEIGH]` or `[ROUTE]`) and `bridge -o monitor fdb`, turned into KernelEvents. The lines are iproute2's
 * own text (there is no JSON monitor output), so the parsing lives here, next to the commands that produce it.
 */
import type { KernelEvent, KernelMonitorHandlers, KernelObject } from '@flannel-ts/core';
import type { CommandRunner } from './command-runner.js';

const IP_MONITOR_OBJECT: Record<Exclude<KernelObject, 'fdb'>, string> = { link: 'link', address: 'address', neighbour: 'neigh', route: 'route' };
const LABELS: Record<string, Exclude<KernelObject, 'fdb'>> = { LINK: 'link', ADDR: 'address', NEIGH: 'neighbour', ROUTE: 'route' };
/** Route types `ip route` prints before the destination; unicast is not printed. */
const ROUTE_TYPES = new Set(['local', 'broadcast', 'multicast', 'anycast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'unicast']);

const wordAfter = (words: readonly string[], key: string): string | undefined => {
  const at = words.indexOf(key);
  return at >= 0 ? words[at + 1] : undefined;
};

/** One line of `ip -o monitor label ...`; undefined for a line that is not a change (e.g. a namespace banner). */
export function parseIpMonitorLine(line: string): KernelEvent | undefined {
  const labelled = /^\[(LINK|ADDR|NEIGH|ROUTE)\](Deleted )?(.*)$/.exec(line);
  if (!labelled) return undefined;
  const object = LABELS[labelled[1]!]!;
  const deleted = labelled[2] !== undefined;
  const rest = labelled[3]!;
  switch (object) {
    case 'link':
      // `4: flannel.1: <BROADCAST,...` or `3: eth9@eth9p: <...`
      return { object, deleted, dev: /^\d+: ([^\s:@]+)/.exec(rest)?.[1] };
    case 'address':
      // `4: flannel.1    inet 10.1.0.0/32 scope global flannel.1\ ...`
      return { object, deleted, dev: /^\d+: (\S+)/.exec(rest)?.[1] };
    case 'neighbour': {
      // `10.1.31.0 dev flannel.1 lladdr 0a:58:0a:01:1f:00 PERMANENT`
      return { object, deleted, dev: wordAfter(rest.trim().split(/\s+/), 'dev') };
    }
    case 'route': {
      // `[type] DST [via [inet6] GW] [dev DEV] ...`
      const words = rest.trim().split(/\s+/);
      const type = ROUTE_TYPES.has(words[0] ?? '') ? words.shift() : undefined;
      let gateway = wordAfter(words, 'via');
      if (gateway === 'inet' || gateway === 'inet6') gateway = words[words.indexOf('via') + 2];
      return { object, deleted, dev: wordAfter(words, 'dev'), dst: words[0], gateway, type };
    }
  }
}

/** One line of `bridge -o monitor fdb`: `[Deleted ]MAC dev DEV dst ADDR self permanent`. */
export function parseFdbMonitorLine(line: string): KernelEvent | undefined {
  const match = /^(Deleted )?([0-9a-f]{2}(?::[0-9a-f]{2}){5}) (.*)$/i.exec(line);
  if (!match) return undefined;
  return { object: 'fdb', deleted: match[1] !== undefined, dev: wordAfter(match[3]!.trim().split(/\s+/), 'dev') };
}

export interface MonitorCommands {
  readonly ip: string;
  readonly bridge: string;
  /** `-n NS`, or nothing. */
  readonly nsArgs: readonly string[];
}

/**
 * One `ip monitor` for the ip objects, one `bridge monitor fdb` when the FDB is asked for. When either ends before
 * `signal` aborts, the other is stopped too and `onStop` runs once: the watch is whole or gone. A line on either's
 * stderr is a notification the kernel dropped: `onLost`.
 */
export function monitorKernel(runner: CommandRunner, commands: MonitorCommands, objects: readonly KernelObject[], handlers: KernelMonitorHandlers, signal: AbortSignal): void {
  if (signal.aborted) return;
  const stop = new AbortController();
  const abort = () => stop.abort();
  signal.addEventListener('abort', abort, { once: true });
  const watches: Array<Promise<number | null>> = [];
  const ipObjects = objects.flatMap((object) => (object === 'fdb' ? [] : [IP_MONITOR_OBJECT[object]]));
  const hand = (parse: (line: string) => KernelEvent | undefined) => (line: string) => {
    const event = parse(line);
    if (event) handlers.onEvent(event);
  };
  // iproute2 keeps listening after a netlink overrun and says so on stderr ("netlink receive error No buffer space
  // available"); it prints nothing else there while it runs.
  const lost = (line: string) => {
    if (line.trim() !== '') handlers.onLost();
  };
  if (ipObjects.length > 0) watches.push(runner.stream(commands.ip, [...commands.nsArgs, '-o', 'monitor', 'label', ...ipObjects], hand(parseIpMonitorLine), stop.signal, lost));
  if (objects.includes('fdb')) watches.push(runner.stream(commands.bridge, [...commands.nsArgs, '-o', 'monitor', 'fdb'], hand(parseFdbMonitorLine), stop.signal, lost));
  if (watches.length === 0) return;
  void Promise.race(watches).then(() => {
    signal.removeEventListener('abort', abort);
    if (signal.aborted) return;
    stop.abort();
    handlers.onStop();
  });
}
