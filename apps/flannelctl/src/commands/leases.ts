/**
 * `flannelctl leases list|reserve|revoke|watch`: what each accepts. What they do is in run/leases.ts, loaded when
 * one of them runs.
 */
import { UsageError } from '@flannel-ts/core/command-line';
import { defineCommand, type CommandGroup } from '../command.js';

export interface ReserveArgs {
  readonly subnet: string;
  readonly publicIP: string;
  readonly ipv6Subnet: string | undefined;
  readonly publicIPv6: string | undefined;
  readonly backendType: string | undefined;
  readonly force: boolean;
}

export interface WatchArgs {
  readonly json: boolean;
  /** Stop after this many events; undefined = until SIGINT/SIGTERM. */
  readonly count: number | undefined;
}

export const leasesGroup: CommandGroup = {
  name: 'leases',
  summary: 'list, reserve, revoke and watch subnet leases',
  commands: [
    defineCommand<{ json: boolean }>({
      name: 'list',
      args: '',
      summary: 'list every lease with its owner and expiry',
      details:
        'EXPIRES shows when the etcd lease ends and the time left, or `reserved` for a key without an etcd lease.\n' +
        'Entries that cannot be read are reported on stderr and skipped. --json prints an array of objects with\n' +
        'key, subnet, ipv6Subnet, publicIP, publicIPv6, backendType, backendData, backendV6Data, expiresAt, reserved and\n' +
        'rejection ({reason, detail} when flanneld refuses to program the lease, e.g. a key with host bits; else null).\n' +
        'A rejected lease keeps its row, with its key and FLAGS rejected:<reason>, and the reason in words below.',
      options: [{ flag: 'json', help: 'print the leases as a JSON array' }],
      examples: ['flannelctl leases list', 'flannelctl leases list --json'],
      parse: (_positionals, o) => ({ json: o.bool('json') ?? false }),
      run: async (args, ctx) => (await import('../run/leases.js')).leasesList(args, ctx),
    }),
    defineCommand<ReserveArgs>({
      name: 'reserve',
      args: '<SUBNET>',
      summary: 'reserve a subnet for a host (a lease that never expires)',
      details:
        'Writes SUBNET as a lease without an etcd lease, owned by the host with --public-ip. SUBNET must be one the\n' +
        'config hands out (inside Network, a /SubnetLen, between SubnetMin and SubnetMax); otherwise flanneld on that\n' +
        'host would delete it as incompatible. A subnet that overlaps an existing lease is refused unless --force.',
      options: [
        { flag: 'public-ip', value: '<ip>', help: 'IPv4 address of the host that owns the subnet (required)' },
        { flag: 'ipv6-subnet', value: '<cidr>', help: 'IPv6 subnet, for a dual-stack network' },
        { flag: 'public-ipv6', value: '<ip>', help: 'IPv6 address of the host' },
        { flag: 'backend-type', value: '<type>', help: 'BackendType to record, e.g. vxlan (the host rewrites it when it starts)' },
        { flag: 'force', help: 'write even if the subnet overlaps an existing lease' },
      ],
      examples: ['flannelctl leases reserve 10.1.30.0/24 --public-ip 192.0.2.10', 'flannelctl leases reserve 10.1.31.0/24 --public-ip 192.0.2.11 --ipv6-subnet fc00:0:0:1f::/64'],
      parse: (positionals, o) => {
        const publicIP = o.last('public-ip');
        if (publicIP === undefined) throw new UsageError('missing --public-ip: name the host that owns the subnet, e.g. --public-ip 192.0.2.10');
        return {
          subnet: positionals[0] ?? '',
          publicIP,
          ipv6Subnet: o.last('ipv6-subnet'),
          publicIPv6: o.last('public-ipv6'),
          backendType: o.last('backend-type'),
          force: o.bool('force') ?? false,
        };
      },
      run: async (args, ctx) => (await import('../run/leases.js')).leasesReserve(args, ctx),
    }),
    defineCommand<{ subnet: string }>({
      name: 'revoke',
      args: '<SUBNET>',
      summary: 'delete a lease or reservation',
      details:
        'SUBNET is a CIDR (10.1.30.0/24) or the key as stored (10.1.30.0-24, 10.1.30.0-24&fc00:0:0:1e::-64), including\n' +
        'a malformed key reported by `leases list`. flanneld on the host that held the lease acquires a new one.',
      options: [],
      examples: ['flannelctl leases revoke 10.1.30.0/24', 'flannelctl leases revoke 10.1.30.0-24'],
      parse: (positionals) => ({ subnet: positionals[0] ?? '' }),
      run: async (args, ctx) => (await import('../run/leases.js')).leasesRevoke(args, ctx),
    }),
    defineCommand<WatchArgs>({
      name: 'watch',
      args: '',
      summary: 'print lease events as they happen (added, renewed, changed, removed, expired)',
      details:
        'One line per event with an ISO-8601 timestamp: added (a host joined), renewed (the same lease written again with\n' +
        'a fresh etcd lease), changed (other attributes, e.g. a new VTEP MAC), removed (deleted, e.g. by `leases revoke`)\n' +
        'and expired (deleted because its etcd lease ended: the host stopped renewing). Runs until Ctrl-C (SIGINT) or\n' +
        'SIGTERM, then exits 0; --count N stops after N events. --json prints one JSON object per line with time, type,\n' +
        'key, subnet, ipv6Subnet, publicIP, publicIPv6, backendType, backendData, expiresAt, previous (for changed) and\n' +
        'revision. A line on stderr says when the watch is in place.',
      options: [
        { flag: 'json', help: 'print one JSON object per event and line' },
        { flag: 'count', value: '<n>', help: 'stop after n events' },
      ],
      examples: ['flannelctl leases watch', 'flannelctl leases watch --json --count 1'],
      lifetime: 'until-signal',
      parse: (_positionals, o) => ({ json: o.bool('json') ?? false, count: o.int('count') }),
      run: async (args, ctx) => (await import('../run/leases.js')).leasesWatch(args, ctx),
    }),
  ],
};
