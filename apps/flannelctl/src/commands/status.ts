/**
 * `flannelctl status`: what it accepts. What it does is in run/status.ts, loaded when it runs.
 */
import { defineCommand, type Command } from '../command.js';

/** flanneld's default --subnet-lease-renew-margin: a lease with less left than this should have been renewed. */
export const DEFAULT_EXPIRY_WARNING_MS = 60 * 60_000;

export interface StatusArgs {
  readonly json: boolean;
  readonly expiryWarningMs: number;
}

export const statusCommand: Command = defineCommand<StatusArgs>({
  name: 'status',
  args: '',
  summary: 'the network at a glance: config, capacity, one row per host, problems flagged',
  details:
    'Shows the config, the subnets it can hand out (total, leased, reserved, free) and one row per lease: subnet,\n' +
    'public IP, backend, VTEP MAC, when it expires and how long ago it was last renewed (how long ago its current\n' +
    'etcd lease was granted). FLAGS marks duplicate-public-ip (two leases name the same host), expiring (less than\n' +
    '--expiry-warning left: the host is not renewing), outside-config (the config would not hand this subnet out),\n' +
    'rejected (flanneld refuses to program it: the reason is in the notes, e.g. a key with host bits, a subnet outside\n' +
    'Network, an overlap with an older lease, a loopback public IP) and reserved. Exit 0 when the status could be read (flags do not fail it), 1 when the config is missing or invalid.\n' +
    '--json prints {configKey, config, configError, capacity, hosts[], skipped[], summary}.',
  options: [
    { flag: 'json', help: 'print the report as JSON' },
    { flag: 'expiry-warning', value: '<duration>', help: 'flag leases with less than this left (default 60m, flanneld\'s renew margin; a bare number is minutes)' },
  ],
  examples: ['flannelctl status', 'flannelctl status --json | jq \'.hosts[] | select(.flags != [])\'', 'flannelctl status --expiry-warning 2h'],
  parse: (_positionals, o) => ({ json: o.bool('json') ?? false, expiryWarningMs: o.duration('expiry-warning', 'm') ?? DEFAULT_EXPIRY_WARNING_MS }),
  run: async (args, ctx) => (await import('../run/status.js')).status(args, ctx),
});
