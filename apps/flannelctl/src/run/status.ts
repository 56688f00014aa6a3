/**
 * `flannelctl status`: the network at a glance. The config, how many subnets it can hand out and how many are taken,
 * and one row per lease with its owner, backend, VTEP MAC, expiry and last renewal, flagging what needs a look:
 * a public IP held by two leases (peers' routes can only point at one of them), a lease about to expire (its host
 * has not renewed: flanneld renews 60 min before the end by default), a lease the config would not hand out (its
 * host will drop it at the next start), and reservations.
 */
import { admitLeases, leaseFitsConfig, poolAccepts, poolCapacity, publicAddressesOf, sharedPublicAddresses, type Lease, type NetworkConfig, type Rejection } from '@flannel-ts/core';
import type { StatusArgs } from '../commands/status.js';
import type { CommandContext } from '../context.js';
import { formatInlineValue, formatRemaining, renderFields } from '../format.js';
import { camelKeys, leaseRow, renderLeaseNotes, renderLeaseTable, type LeaseRow } from '../lease-rows.js';
import { describeMisfit } from '../lease-fit.js';
import { listTimedLeases, renewedAgoMs, type TimedLease } from '../lease-times.js';
import { reportSkipped } from './config.js';
import { readConfigLeniently } from '../read-config.js';

/** flanneld's default --subnet-lease-renew-margin: a lease with less left than this should have been renewed. */

export const LEASE_FLAGS = ['duplicate-public-ip', 'expiring', 'outside-config', 'rejected', 'reserved'] as const;
export type LeaseFlag = (typeof LEASE_FLAGS)[number];

/** A lease row of the report: the shape `leases list` and `leases watch` print too. */
export type HostRow = LeaseRow;

/** Counts are JSON numbers; a count beyond 2^53 (an IPv6-only pool) is a decimal string. */
export type Count = number | string;

export interface StatusReport {
  readonly configKey: string;
  readonly config: Record<string, unknown> | null;
  readonly configError: string | null;
  readonly capacity: { readonly family: 4 | 6; readonly total: Count; readonly leased: number; readonly reserved: number; readonly outside: number; readonly free: Count } | null;
  readonly hosts: HostRow[];
  readonly skipped: { readonly key: string; readonly reason: string }[];
  readonly summary: {
    readonly leases: number;
    readonly flagged: number;
    readonly counts: Readonly<Record<LeaseFlag, number>>;
  };
}

export interface StatusInput {
  readonly configKey: string;
  readonly config: NetworkConfig | undefined;
  readonly configError: string | undefined;
  readonly leases: readonly TimedLease[];
  readonly skipped: readonly { readonly key: string; readonly reason: string }[];
  readonly now: number;
  readonly expiryWarningMs: number;
}

function count(value: bigint): Count {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

export function configSummary(config: NetworkConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (config.ipv4) {
    out['network'] = config.ipv4.network.toString();
    out['subnetLen'] = config.ipv4.subnetLen;
    out['subnetMin'] = config.ipv4.subnetMin.ipText();
    out['subnetMax'] = config.ipv4.subnetMax.ipText();
  }
  if (config.ipv6) {
    out['ipv6Network'] = config.ipv6.network.toString();
    out['ipv6SubnetLen'] = config.ipv6.subnetLen;
  }
  out['backendType'] = config.backendType;
  // camelCase throughout: {"type":"vxlan","vni":1}, not the stored {"Type":"vxlan","VNI":1}.
  out['backend'] = camelKeys(config.backend);
  return out;
}

/** The whole report, from what was read; pure, so the flag logic is tested without etcd. */
export function buildStatus(input: StatusInput): StatusReport {
  const { config, now } = input;
  const shared = sharedPublicAddresses(input.leases.map((t) => t.lease));
  // The same decision every flanneld takes (seen from no particular host: overlaps and duplicate MACs between leases).
  const rejections = new Map<Lease, Rejection>();
  if (config) for (const { lease, rejection } of admitLeases(input.leases.map((t) => t.lease), { config }).rejected) rejections.set(lease, rejection);
  const hosts = input.leases.map((timed): LeaseRow => {
    const { lease } = timed;
    const flags: LeaseFlag[] = [];
    const notes: string[] = [];
    const sharing = publicAddressesOf(lease).flatMap((address) => {
      const others = (shared.get(address) ?? []).filter((other) => other !== lease);
      return others.length > 0 ? [{ address, others }] : [];
    });
    if (sharing.length > 0) {
      flags.push('duplicate-public-ip');
      for (const { address, others } of sharing) notes.push(`public IP ${address} is also held by ${others.map((l) => l.subnet?.toString() ?? l.key).join(', ')}: peers reach only one of them`);
    }
    const remainingMs = typeof lease.expiresAt === 'number' ? lease.expiresAt - now : undefined;
    if (lease.expiresAt === undefined) {
      flags.push('expiring');
      notes.push('its etcd lease ended while listing: the key is about to disappear');
    } else if (remainingMs !== undefined && remainingMs < input.expiryWarningMs) {
      flags.push('expiring');
      notes.push(`expires in ${formatRemaining(remainingMs)}: its host has not renewed it (is flanneld running there?)`);
    }
    if (config && !leaseFitsConfig(config, lease)) {
      flags.push('outside-config');
      notes.push(`${describeMisfit(config, lease) ?? 'does not fit the config'}: its host drops it at the next start (or revoke it)`);
    }
    return leaseRow(lease, now, { renewedAgoMs: renewedAgoMs(timed) }, flags, notes, rejections.get(lease));
  });

  let capacity: StatusReport['capacity'] = null;
  const pool = config?.ipv4 ?? config?.ipv6;
  if (pool) {
    const inPool = input.leases.filter(({ lease }) => {
      const subnet = pool.family === 4 ? lease.subnet : lease.ipv6Subnet;
      return subnet !== undefined && poolAccepts(pool, subnet.masked());
    });
    const reserved = inPool.filter(({ lease }) => lease.expiresAt === null).length;
    const leased = inPool.length - reserved;
    const total = poolCapacity(pool);
    // Leases the pool would not hand out take no subnet of it; counted apart so the header adds up to the rows.
    const outside = input.leases.length - inPool.length;
    capacity = { family: pool.family, total: count(total), leased, reserved, outside, free: count(total - BigInt(inPool.length)) };
  }

  const counts = Object.fromEntries(LEASE_FLAGS.map((flag) => [flag, hosts.filter((h) => h.flags.includes(flag)).length])) as Record<LeaseFlag, number>;
  return {
    configKey: input.configKey,
    config: config ? configSummary(config) : null,
    configError: input.configError ?? null,
    capacity,
    hosts,
    skipped: [...input.skipped],
    summary: {
      leases: hosts.length,
      // A reservation alone is not a problem.
      flagged: hosts.filter((h) => h.flags.some((f) => f !== 'reserved')).length,
      counts,
    },
  };
}

export function renderStatus(report: StatusReport): string {
  const fields: [string, string][] = [];
  const config = report.config;
  if (!config) fields.push(['Config', `none usable at ${report.configKey}: ${report.configError ?? 'unknown error'}`]);
  else {
    if (config['network']) fields.push(['Network', `${String(config['network'])} (SubnetLen ${String(config['subnetLen'])}, ${String(config['subnetMin'])} to ${String(config['subnetMax'])})`]);
    if (config['ipv6Network']) fields.push(['IPv6 network', `${String(config['ipv6Network'])} (IPv6SubnetLen ${String(config['ipv6SubnetLen'])})`]);
    const options = Object.entries(config['backend'] as Record<string, unknown>).filter(([key]) => key.toLowerCase() !== 'type');
    fields.push(['Backend', `${String(config['backendType'])}${options.length > 0 ? ` (${options.map(([k, v]) => `${k}=${formatInlineValue(v)}`).join(', ')})` : ''}`]);
  }
  if (report.capacity) {
    const c = report.capacity;
    fields.push(['Subnets', `${c.total} total, ${c.leased} leased, ${c.reserved} reserved, ${c.free} free${c.outside > 0 ? `; ${c.outside} lease${c.outside === 1 ? '' : 's'} outside the config` : ''}`]);
  }
  const blocks = [renderFields(fields)];

  if (report.hosts.length > 0) {
    blocks.push(renderLeaseTable(report.hosts));
    const notes = renderLeaseNotes(report.hosts);
    if (notes.length > 0) blocks.push(`Notes:\n${notes.join('\n')}`);
  } else {
    blocks.push('No leases: no host has joined yet.');
  }
  blocks.push(summaryLine(report));
  return blocks.join('\n\n');
}

export function summaryLine(report: StatusReport): string {
  const { leases, flagged, counts } = report.summary;
  const reservations = counts.reserved;
  const what = `${leases} lease${leases === 1 ? '' : 's'}${reservations > 0 ? ` (${reservations} reserved)` : ''}`;
  const problems = LEASE_FLAGS.filter((f) => f !== 'reserved' && counts[f] > 0).map((f) => `${counts[f]} ${f}`);
  const skipped = report.skipped.length > 0 ? `, ${report.skipped.length} unreadable` : '';
  if (!report.config) return `${what}${skipped}; no usable network config`;
  return flagged === 0 ? `${what}${skipped}, none flagged` : `${what}${skipped}, ${flagged} flagged: ${problems.join(', ')}`;
}


export async function status(args: StatusArgs, ctx: CommandContext): Promise<number> {
  const { manager, registry } = await ctx.openStore();
  const { config, configError } = await readConfigLeniently(manager);
  // One clock reading for the whole report, as `leases list` does: expiry times agree between the two.
  const now = ctx.now();
  const listing = await listTimedLeases(registry, () => now);
  const report = buildStatus({
    configKey: registry.configKey,
    config,
    configError,
    leases: listing.leases,
    skipped: listing.skipped,
    now,
    expiryWarningMs: args.expiryWarningMs,
  });
  if (args.json) ctx.out(JSON.stringify(report, null, 2));
  else {
    reportSkipped(listing.skipped, registry.subnetsPrefix, ctx);
    ctx.out(renderStatus(report));
  }
  return config ? 0 : 1;
}

