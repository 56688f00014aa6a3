/**
 * `flannelctl config set|get|validate`: what each accepts (grammar, help, parsed args). What they do is in
 * run/config.ts, loaded when one of them runs, so `--help` and usage errors load no config or IP code.
 */
import { BACKEND_TYPES } from '@flannel-ts/backends/names';
import { defineCommand, type CommandGroup } from '../command.js';

export interface ConfigSetArgs {
  readonly network: string | undefined;
  /** A file (or `-` for stdin) holding the whole JSON document. */
  readonly file: string | undefined;
  readonly subnetLen: number | undefined;
  readonly subnetMin: string | undefined;
  readonly subnetMax: string | undefined;
  readonly backend: string | undefined;
  /** `KEY=VALUE` items for the Backend object. */
  readonly backendOptions: readonly string[];
  readonly ipv6Network: string | undefined;
  readonly ipv6SubnetLen: number | undefined;
  readonly enableNFTables: boolean | undefined;
  readonly noIPv4: boolean;
  readonly force: boolean;
}

export const configGroup: CommandGroup = {
  name: 'config',
  summary: 'read, write and check the network config',
  commands: [
    defineCommand<ConfigSetArgs>({
      name: 'set',
      args: '[NETWORK]',
      summary: 'validate and write the network config',
      details:
        'Builds the config from NETWORK and the flags (or takes a whole JSON document with --file), validates it as\n' +
        'flanneld does at start (backend type and options included), and writes it as compact JSON. Nothing invalid is written. A change that leaves existing\n' +
        'leases outside the new config is refused, naming those leases, unless --force is given.\n' +
        'Without --backend or --backend-opt the Backend object is left out, which flannel reads as udp.',
      options: [
        { flag: 'subnet-len', value: '<n>', help: 'per-host subnet prefix length (SubnetLen; default 24, or network prefix + 2 for small networks)' },
        { flag: 'subnet-min', value: '<ip>', help: 'first subnet to allocate (SubnetMin)' },
        { flag: 'subnet-max', value: '<ip>', help: 'last subnet to allocate (SubnetMax)' },
        { flag: 'backend', value: '<type>', help: `backend type (Backend.Type): ${BACKEND_TYPES.join(', ')}` },
        { flag: 'backend-opt', value: '<key=value>', help: 'backend option, repeatable; numbers and true/false are written as JSON numbers/booleans' },
        { flag: 'ipv6-network', value: '<cidr>', help: 'IPv6 network; sets EnableIPv6 and IPv6Network' },
        { flag: 'ipv6-subnet-len', value: '<n>', help: 'per-host IPv6 subnet prefix length (IPv6SubnetLen)' },
        { flag: 'enable-nftables', help: 'use nftables instead of iptables (EnableNFTables)' },
        { flag: 'no-ipv4', help: 'disable IPv4 (EnableIPv4 false), for an IPv6-only network' },
        { flag: 'file', value: '<file>', help: 'write this JSON document (- for stdin) instead of building one from flags' },
        { flag: 'force', help: 'write even if existing leases no longer fit the new config, or the network overlaps this host\'s interface' },
      ],
      examples: [
        'flannelctl config set 10.1.0.0/16 --backend vxlan --backend-opt VNI=1',
        'flannelctl config set 10.1.0.0/16 --subnet-len 26 --ipv6-network fc00::/48 --backend host-gw',
        'flannelctl config set --file net-conf.json',
      ],
      parse: (positionals, o) => ({
        network: positionals[0],
        file: o.last('file'),
        subnetLen: o.int('subnet-len'),
        subnetMin: o.last('subnet-min'),
        subnetMax: o.last('subnet-max'),
        backend: o.last('backend'),
        backendOptions: o.all('backend-opt'),
        ipv6Network: o.last('ipv6-network'),
        ipv6SubnetLen: o.int('ipv6-subnet-len'),
        enableNFTables: o.bool('enable-nftables'),
        noIPv4: o.bool('no-ipv4') ?? false,
        force: o.bool('force') ?? false,
      }),
      run: async (args, ctx) => (await import('../run/config.js')).configSet(args, ctx),
    }),
    defineCommand<{ json: boolean }>({
      name: 'get',
      args: '',
      summary: 'show the network config',
      details: 'Shows the stored config with defaults filled in and the number of subnets it can hand out.\nWith --json, prints the stored JSON document exactly as stored.',
      options: [{ flag: 'json', help: 'print the stored JSON document as is' }],
      examples: ['flannelctl config get', 'flannelctl config get --json --etcd-prefix /vxlan/network'],
      parse: (_positionals, o) => ({ json: o.bool('json') ?? false }),
      run: async (args, ctx) => (await import('../run/config.js')).configGet(args, ctx),
    }),
    defineCommand<{ file: string | undefined }>({
      name: 'validate',
      args: '[FILE]',
      summary: 'check a config and print it with defaults as JSON',
      details:
        'Validates FILE (- for stdin), or the config stored in etcd when no FILE is given, and prints the effective\n' +
        'config with every default filled in. An invalid config exits 1 with the reason. With FILE, etcd is not used.',
      options: [],
      examples: ['flannelctl config validate net-conf.json', 'echo \'{"Network":"10.1.0.0/16"}\' | flannelctl config validate -', 'flannelctl config validate'],
      parse: (positionals) => ({ file: positionals[0] }),
      run: async (args, ctx) => (await import('../run/config.js')).configValidate(args, ctx),
    }),
  ],
};
