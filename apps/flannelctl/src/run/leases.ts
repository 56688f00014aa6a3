/**
 * `flannelctl leases list|reserve|revoke|watch`: the subnet leases under `<prefix>/subnets/` (flannel-compat.md §1.3-1.8).
 * A reservation is a lease key without an etcd lease: it never expires, and the host whose PublicIP it names takes
 * it when flanneld starts there. A reservation that does not fit the config would be deleted by that flanneld as
 * incompatible, so it is refused here before anything is written.
 */
import { FlannelError, IpNet, admitLeases, normalizeIP, parseSubnetKey, printable, type Lease, type LeaseAttrs, type LeaseSubnets, type Rejection } from '@flannel-ts/core';
import type { ReserveArgs, WatchArgs } from '../commands/leases.js';
import type { CommandContext } from '../context.js';
import { leaseRow, renderLeaseNotes, renderLeaseTable } from '../lease-rows.js';
import { listTimedLeases, renewedAgoMs } from '../lease-times.js';
import { describeMisfit } from '../lease-fit.js';
import { classifyDelete, classifyPut, describeEvent, renderEventHeader, renderEventLine, type KnownKey } from '../lease-events.js';
import { reportSkipped } from './config.js';
import { readConfigLeniently } from '../read-config.js';

/**
 * Every lease as a row (the shape of `status` hosts[] and `leases watch` events), sorted by subnet. The clock is read
 * once, so every expiry is computed from the same instant. A lease admission rejects keeps its row, flagged, with
 * the reason below the table (and in --json).
 */
export async function leasesList(args: { readonly json: boolean }, ctx: CommandContext): Promise<void> {
  const { registry, manager } = await ctx.openStore();
  const now = ctx.now();
  const listing = await listTimedLeases(registry, () => now);
  reportSkipped(listing.skipped, registry.subnetsPrefix, ctx);
  // Without a usable config nothing can be judged (status says why); every lease is then shown unflagged.
  const { config } = await readConfigLeniently(manager);
  const rejections = new Map<Lease, Rejection>();
  if (config) for (const { lease, rejection } of admitLeases(listing.leases.map((t) => t.lease), { config }).rejected) rejections.set(lease, rejection);
  const rows = listing.leases.map((timed) => leaseRow(timed.lease, now, { renewedAgoMs: renewedAgoMs(timed) }, [], [], rejections.get(timed.lease)));
  if (args.json) {
    ctx.out(JSON.stringify(rows, null, 2));
    return;
  }
  if (rows.length === 0) {
    ctx.err(`no leases under ${registry.subnetsPrefix}`);
    return;
  }
  const notes = renderLeaseNotes(rows);
  ctx.out(notes.length > 0 ? `${renderLeaseTable(rows)}\n\nNotes:\n${notes.join('\n')}` : renderLeaseTable(rows));
}


function parseNetworkArg(text: string, family: 4 | 6, what: string, example: string): IpNet {
  const net = IpNet.parse(text);
  if (!net || net.family !== family) {
    throw new FlannelError('CONFIG_INVALID', `${what} "${text}" is not an IPv${family} CIDR: write it as ${example}`);
  }
  if (!net.isMasked()) {
    throw new FlannelError('CONFIG_INVALID', `${what} "${text}" has host bits set: use ${net.masked().toString()}`);
  }
  return net;
}

export async function leasesReserve(args: ReserveArgs, ctx: CommandContext): Promise<void> {
  const subnet = parseNetworkArg(args.subnet, 4, 'SUBNET', '10.1.30.0/24');
  const ipv6Subnet = args.ipv6Subnet === undefined ? undefined : parseNetworkArg(args.ipv6Subnet, 6, '--ipv6-subnet', 'fc00:0:0:1e::/64');
  const publicIP = normalizeIP(4, args.publicIP);
  if (publicIP === undefined) throw new FlannelError('CONFIG_INVALID', `--public-ip "${args.publicIP}" is not an IPv4 address: give the owner host's address, e.g. 192.0.2.10`);
  const publicIPv6 = args.publicIPv6 === undefined ? undefined : normalizeIP(6, args.publicIPv6);
  if (args.publicIPv6 !== undefined && publicIPv6 === undefined) {
    throw new FlannelError('CONFIG_INVALID', `--public-ipv6 "${args.publicIPv6}" is not an IPv6 address, e.g. 2001:db8::10`);
  }

  const { manager, registry } = await ctx.openStore();
  const config = await manager.getNetworkConfig();
  const subnets: LeaseSubnets = { subnet, ipv6Subnet };
  const misfit = describeMisfit(config, subnets);
  if (misfit !== undefined) {
    throw new FlannelError(
      'CONFIG_INVALID',
      `the reservation does not fit the network config: ${misfit}. flanneld on the owner host would delete it as incompatible; ` +
        'pick a subnet the config hands out (see `flannelctl config get`)',
    );
  }
  const attrs: LeaseAttrs = { publicIP, publicIPv6, backendType: args.backendType };
  try {
    await manager.reserveLease(subnets, attrs, { force: args.force });
  } catch (err) {
    if (err instanceof FlannelError && err.code === 'LEASE_CONFLICT') {
      throw new FlannelError('LEASE_CONFLICT', `${err.message} (or pass --force to write the reservation anyway)`, { cause: err });
    }
    throw err;
  }
  const key = registry.leaseKey(subnets);
  ctx.out(`reserved ${subnet}${ipv6Subnet ? ` and ${ipv6Subnet}` : ''} for ${publicIP}: ${key} (no expiry)`);
}

/**
 * The store key a REVOKE argument names: the key form as stored (`10.1.30.0-24`, dual-stack keys, even a malformed
 * key that `leases list` warned about), or a CIDR matched against each lease's IPv4 or IPv6 subnet.
 */
export async function leasesRevoke(args: { readonly subnet: string }, ctx: CommandContext): Promise<void> {
  const { manager, registry } = await ctx.openStore();
  const listing = await registry.listLeases();
  let key: string | undefined;
  let holder: string | undefined;
  if (args.subnet.includes('/')) {
    const net = IpNet.parse(args.subnet);
    if (!net) throw new FlannelError('CONFIG_INVALID', `"${args.subnet}" is not a subnet: write it as 10.1.30.0/24 or in key form 10.1.30.0-24`);
    const match = listing.leases.find((l) => (net.family === 4 ? l.subnet : l.ipv6Subnet)?.equals(net.masked()));
    key = match?.key;
    holder = match?.attrs.publicIP;
  } else {
    const exact = listing.leases.find((l) => l.key === args.subnet);
    const malformed = listing.skipped.find((s) => s.key === registry.leaseKey(args.subnet));
    if (exact || malformed) {
      key = args.subnet;
      holder = exact?.attrs.publicIP;
    } else {
      // Another spelling of a stored key: the IPv4 part of a dual-stack key, or e.g. upper-case IPv6.
      const parsed = parseSubnetKey(args.subnet);
      if (parsed.ok) {
        const want = parsed.value;
        const match = listing.leases.find(
          (l) => (!want.subnet || sameNet(l.subnet, want.subnet)) && (!want.ipv6Subnet || sameNet(l.ipv6Subnet, want.ipv6Subnet)),
        );
        key = match?.key;
        holder = match?.attrs.publicIP;
      }
    }
  }
  if (key === undefined) {
    throw new FlannelError('LEASE_NOT_FOUND', `no lease ${args.subnet} under ${registry.subnetsPrefix}: see the leases with \`flannelctl leases list\``);
  }
  await manager.revokeLease(key);
  ctx.out(printable(`revoked ${registry.leaseKey(key)}${holder ? ` (held by ${holder})` : ''}`));
}

function sameNet(a: IpNet | undefined, b: IpNet): boolean {
  return a !== undefined && a.equals(b);
}


/** How many etcd lease lookups `leases watch` keeps in flight, so it keeps up with a busy store. */
const WATCH_LOOKUPS_IN_FLIGHT = 32;

/** A line to print for one event, ready once its etcd lease lookups are done. */
type PendingLine = Promise<string>;

/**
 * Prints lease events as they happen, from the revision after a listing of the current leases (so nothing between
 * the listing and the watch is lost), until the signal aborts or `--count` events were printed. Events print in
 * store order; the etcd lease lookups behind them (an expiry, or telling an expiry from a delete) run ahead,
 * several at a time, so the watch keeps up with thousands of events a second. If the watch falls behind a
 * compaction, the leases are listed again and the differences printed, with a line on stderr that says so.
 */
export async function leasesWatch(args: WatchArgs, ctx: CommandContext): Promise<number> {
  const { registry } = await ctx.openStore();
  const { subnetsPrefix } = registry;
  const listing = await registry.listEntries();
  const known = new Map<string, KnownKey>();
  for (const entry of listing.entries) known.set(entry.key, { value: entry.value, etcdLeaseId: entry.ttlLeaseId });
  let fromRevision = listing.revision + 1n;
  if (args.count === 0 || ctx.signal.aborted) return 0;

  // Lookups: a bounded pool; an etcd lease's expiry is asked once (flanneld grants a new one per renewal).
  let inFlight = 0;
  const queued: Array<() => void> = [];
  const limited = async <T>(work: () => Promise<T>): Promise<T> => {
    if (inFlight >= WATCH_LOOKUPS_IN_FLIGHT) await new Promise<void>((resolve) => queued.push(resolve));
    inFlight++;
    try {
      return await work();
    } finally {
      inFlight--;
      queued.shift()?.();
    }
  };
  const ttlOf = (etcdLeaseId: string): Promise<number | undefined> =>
    // etcd's answer for an etcd lease that ended is a TTL of -1: what tells an expiry from a delete.
    etcdLeaseId === '0' ? Promise.resolve(undefined) : limited(async () => (await registry.timeToLive(etcdLeaseId))?.ttlSeconds ?? -1);
  const expiries = new Map<string, Promise<number | undefined>>();
  const expiryOf = (etcdLeaseId: string): Promise<number | undefined> => {
    let expiry = expiries.get(etcdLeaseId);
    if (!expiry) {
      expiry = ttlOf(etcdLeaseId).then((ttl) => (ttl !== undefined && ttl >= 0 ? ctx.now() + ttl * 1000 : undefined));
      expiries.set(etcdLeaseId, expiry);
      if (expiries.size > 10_000) expiries.delete(expiries.keys().next().value!);
    }
    return expiry;
  };

  let printed = 0;
  let finish: (outcome: { error?: unknown }) => void = () => undefined;
  const finished = new Promise<{ error?: unknown }>((resolve) => (finish = resolve));
  let output: Promise<void> = Promise.resolve();
  const emit = (line: PendingLine) => {
    output = output
      .then(async () => {
        if (args.count !== undefined && printed >= args.count) return;
        const text = await line;
        if (!args.json && printed === 0) ctx.out(renderEventHeader());
        ctx.out(text);
        printed++;
        if (args.count !== undefined && printed >= args.count) finish({});
      })
      .catch((error: unknown) => finish({ error }));
  };
  const render = async (input: Parameters<typeof describeEvent>[0]) => {
    const line = describeEvent(input);
    return args.json ? JSON.stringify(line) : renderEventLine(line);
  };

  /** Classifies one change against `known` (in store order, at once) and queues its line. */
  const handle = (type: 'Put' | 'Delete', fullKey: string, kv: { value: string; lease: string } | undefined, revisionText: string, previous?: KnownKey) => {
    const revision = Number(revisionText);
    const subnetKey = fullKey.slice(subnetsPrefix.length);
    const before = known.get(fullKey) ?? previous;
    if (!parseSubnetKey(subnetKey).ok) ctx.warn(printable(`${fullKey} is not a subnet key; showing it anyway`));
    if (type === 'Put' && kv) {
      const kind = classifyPut(before, kv.value);
      known.set(fullKey, { value: kv.value, etcdLeaseId: kv.lease });
      const time = ctx.now();
      emit(
        (async () => {
          const expiresAt = kv.lease === '0' ? null : await expiryOf(kv.lease);
          return render({ time, type: kind, subnetKey, value: kv.value, previousValue: before?.value, expiresAt, revision });
        })(),
      );
    } else {
      known.delete(fullKey);
      const leaseId = before?.etcdLeaseId;
      const time = ctx.now();
      emit(
        (async () => {
          const kind = classifyDelete(leaseId, leaseId === undefined ? undefined : await ttlOf(leaseId));
          return render({ time, type: kind, subnetKey, value: before?.value, previousValue: before?.value, expiresAt: undefined, revision });
        })(),
      );
    }
  };

  /** After a compaction: list again, print what changed since the last event seen, resume after the listing. */
  const relist = async (): Promise<bigint> => {
    const fresh = await registry.listEntries();
    const revision = fresh.revision.toString();
    const seen = new Set<string>();
    let changes = 0;
    for (const entry of fresh.entries) {
      seen.add(entry.key);
      const before = known.get(entry.key);
      if (before && before.value === entry.value && before.etcdLeaseId === entry.ttlLeaseId) continue;
      changes++;
      handle('Put', entry.key, { value: entry.value, lease: entry.ttlLeaseId }, revision);
    }
    for (const fullKey of [...known.keys()]) {
      if (seen.has(fullKey)) continue;
      changes++;
      handle('Delete', fullKey, undefined, revision);
    }
    ctx.warn(`the watch fell behind a compaction of etcd's history: listed the leases again at revision ${revision} (${changes} change${changes === 1 ? '' : 's'} since the last event shown; intermediate events are lost to the compaction)`);
    return fresh.revision + 1n;
  };

  const onAbort = () => finish({});
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let first = true;
  try {
    for (;;) {
      const watch = await registry.watch({ prefix: subnetsPrefix }, fromRevision, { withPrevious: true });
      if (first) ctx.err(`watching ${subnetsPrefix} from revision ${fromRevision} (${known.size} lease${known.size === 1 ? '' : 's'} now); stop with Ctrl-C`);
      first = false;
      let disconnected = false;
      const compacted = (async (): Promise<'compacted' | 'closed'> => {
        for await (const message of watch) {
          switch (message.type) {
            case 'changes':
              fromRevision = message.revision + 1n;
              for (const change of message.events) {
                if (args.count !== undefined && printed >= args.count) break;
                const previous = change.previous ? { value: change.previous.value, etcdLeaseId: change.previous.ttlLeaseId } : undefined;
                if (change.type === 'put') handle('Put', change.entry.key, { value: change.entry.value, lease: change.entry.ttlLeaseId }, change.entry.modRevision.toString(), previous);
                else handle('Delete', change.key, undefined, change.revision.toString(), previous);
              }
              break;
            case 'disconnected':
              if (!disconnected) ctx.warn('lost the connection to etcd; reconnecting (events are resumed from the last one seen)');
              disconnected = true;
              break;
            case 'connected':
              if (disconnected) ctx.warn('reconnected to etcd');
              disconnected = false;
              break;
            case 'compacted':
              return 'compacted';
            case 'failed':
              finish({ error: message.error });
              return 'closed';
          }
        }
        return 'closed';
      })();
      const outcome = await Promise.race([finished, compacted.then((end): Promise<'compacted' | { error?: unknown }> => (end === 'compacted' ? Promise.resolve(end) : finished))]);
      await watch.close();
      if (outcome !== 'compacted') {
        await output;
        if (outcome.error !== undefined) throw outcome.error;
        return 0;
      }
      fromRevision = await relist();
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

