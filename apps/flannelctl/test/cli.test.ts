import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTempDir } from '@flannel-ts/testkit';
import { parseCommandLine } from '../src/cli.js';
import type { ConfigSetArgs } from '../src/commands/config.js';
import { buildConfigDocument, parseBackendOption } from '../src/run/config.js';
import { formatRemaining, formatTime, renderTable } from '../src/format.js';
import { ArgReader, normalizeGoFlags, resolveEtcdOptions } from '../src/options.js';
import { run } from './helpers.js';

/** Nothing listens here: a command that touched etcd would fail with "cannot reach etcd". */
const NO_ETCD = { FLANNELD_ETCD_ENDPOINTS: 'http://127.0.0.1:1' };

const COMMANDS = [
  ['config', 'set'],
  ['config', 'get'],
  ['config', 'validate'],
  ['leases', 'list'],
  ['leases', 'reserve'],
  ['leases', 'revoke'],
] as const;

describe('help and version', () => {
  it('prints the program help on stdout with every command and an example', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    for (const [group, command] of COMMANDS) expect(result.stdout).toContain(`${group} ${command}`);
    expect(result.stdout).toContain('Examples:');
    expect(result.stdout).toContain('FLANNELD_ETCD_ENDPOINTS');
    expect(result.stdout).toContain('Exit status:');
  });

  it.each(COMMANDS)('prints help for %s %s with usage, options and an example', async (group, command) => {
    const result = await run([group, command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(`Usage: flannelctl ${group} ${command}`);
    // The etcd block is in the top help only; each command points to it.
    expect(result.stdout).not.toContain('--etcd-endpoints <list>');
    expect(result.stdout).toContain('see `flannelctl help`');
    expect(result.stdout).toMatch(new RegExp(`Examples:\\n  flannelctl ${group} ${command}`));
    expect((await run(['help', group, command])).stdout).toBe(result.stdout);
  });

  it('help [command] prints the same help as --help, and refuses unknown commands', async () => {
    expect((await run(['help'])).stdout).toBe((await run(['--help'])).stdout);
    expect((await run(['help', 'status'])).stdout).toBe((await run(['status', '--help'])).stdout);
    expect((await run(['help', 'leases'])).stdout).toBe((await run(['leases', '--help'])).stdout);
    const unknown = await run(['help', 'frob']);
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringMatching(/unknown command `frob`/)]);
    expect((await run(['help', 'leases', 'frob'])).stderr).toMatch(/unknown command `leases frob`/);
  });

  it('prints help for each group, also with -h', async () => {
    for (const group of ['config', 'leases']) {
      const result = await run([group, '-h']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: flannelctl ${group} <command>`);
      expect(result.stdout).toContain('Examples:');
    }
  });

  it('shows the options of config set', async () => {
    const { stdout } = await run(['config', 'set', '--help']);
    for (const flag of ['--subnet-len <n>', '--subnet-min', '--subnet-max', '--backend <type>', '--backend-opt', '--ipv6-network', '--ipv6-subnet-len', '--enable-nftables', '--no-ipv4', '--file', '--force']) {
      expect(stdout).toContain(flag);
    }
  });

  it('prints the version', async () => {
    const result = await run(['--version']);
    expect(result).toEqual({ code: 0, stdout: 'flannelctl v0.1.0\n', stderr: '' });
  });
});

describe('usage errors exit 2 with the usage on stderr and nothing on stdout', () => {
  it.each([
    [[], /missing command/],
    [['frob'], /unknown command `frob`/],
    [['config'], /missing config command/],
    [['leases', 'frob'], /unknown command `leases frob`/],
    [['config', 'get', '--bogus'], /unknown option `--bogus`/],
    [['--bogus'], /unknown option `--bogus`/],
    [['config', 'get', 'extra'], /unexpected argument `extra`/],
    [['leases', 'revoke'], /missing argument SUBNET/],
    [['leases', 'reserve', '10.1.30.0/24'], /missing --public-ip/],
    [['config', 'set'], /missing NETWORK/],
    [['config', 'set', '10.1.0.0/16', '--subnet-len', 'abc'], /--subnet-len takes a whole number/],
    [['config', 'set', '10.1.0.0/16', '--subnet-len'], /value is missing/],
    [['config', 'set', '10.1.0.0/16', '--force=maybe'], /--force takes true or false/],
    [['config', 'set', '10.1.0.0/16', '--backend-opt', 'VNI'], /--backend-opt takes KEY=VALUE/],
    [['config', 'set', '10.1.0.0/16', '--no-ipv4'], /--no-ipv4 disables IPv4/],
    [['config', 'set', '10.1.0.0/16', '--file', 'x.json'], /--file writes the document as it is/],
    [['config', 'set', '10.1.0.0/16', '--ipv6-subnet-len', '64'], /--ipv6-subnet-len needs --ipv6-network/],
    [['leases', 'list', '--etcd-endpoints', '127.0.0.1:2379'], /has no scheme/],
    [['leases', 'list', '--etcd-endpoints', 'http://127.0.0.1:notaport'], /has port "notaport", which is not a port number/],
    [['leases', 'list', '--etcd-endpoints', 'ftp://127.0.0.1:2379'], /has scheme "ftp", which etcd does not speak/],
  ])('%j', async (argv, message) => {
    const result = await run(argv, { env: NO_ETCD });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/^Usage: flannelctl/m);
  });
});

describe('argument handling', () => {
  it('accepts Go-style single-dash long flags', async () => {
    expect(normalizeGoFlags(['-etcd-prefix=/x', '-h', '-', '-etcd-endpoints', 'http://e:1', '--', '-keep'])).toEqual([
      '--etcd-prefix=/x',
      '-h',
      '-',
      '--etcd-endpoints',
      'http://e:1',
      '--',
      '-keep',
    ]);
    const invocation = parseCommandLine(['-etcd-prefix=/x', 'leases', 'list', '-json']);
    expect(invocation.kind).toBe('run');
    if (invocation.kind !== 'run') return;
    expect(invocation.command.name).toBe('list');
    expect(resolveEtcdOptions(invocation.options, {}).etcdPrefix).toBe('/x');
    expect(invocation.options.bool('json')).toBe(true);
  });

  it('finds the command after etcd flags and keeps option values as typed', () => {
    const invocation = parseCommandLine(['--etcd-password', '007', 'config', 'get', '--etcd-endpoints=http://a:1,http://b:2']);
    expect(invocation.kind).toBe('run');
    if (invocation.kind !== 'run') return;
    const etcd = resolveEtcdOptions(invocation.options, {});
    // cac alone would turn "007" into the number 7.
    expect(etcd.etcdPassword).toBe('007');
    expect(etcd.etcdEndpoints).toEqual(['http://a:1', 'http://b:2']);
  });

  it('reads repeated flags, booleans in Go spellings, and - as stdin', () => {
    const invocation = parseCommandLine(['config', 'set', '--backend-opt', 'VNI=1', '--backend-opt=Port=4789', '--force=false', '--file', '-']);
    expect(invocation.kind).toBe('run');
    if (invocation.kind !== 'run') return;
    expect(invocation.options.all('backend-opt')).toEqual(['VNI=1', 'Port=4789']);
    expect(invocation.options.bool('force')).toBe(false);
    expect(invocation.options.last('file')).toBe('-');
    const validate = parseCommandLine(['config', 'validate', '-']);
    expect(validate.kind === 'run' && validate.positionals).toEqual(['-']);
  });

  it('overlays FLANNELD_* variables under the command line and over the defaults', () => {
    const reader = (argv: string[]) => new ArgReader(argv);
    const env = { FLANNELD_ETCD_ENDPOINTS: 'http://env:2379', FLANNELD_ETCD_PREFIX: '/env/network', FLANNELD_ETCD_USERNAME: '' };
    const fromEnv = resolveEtcdOptions(reader([]), env);
    expect(fromEnv.etcdEndpoints).toEqual(['http://env:2379']);
    expect(fromEnv.etcdPrefix).toBe('/env/network');
    expect(fromEnv.etcdUsername).toBeUndefined();
    const fromFlags = resolveEtcdOptions(reader(['--etcd-endpoints=http://flag:2379']), env);
    expect(fromFlags.etcdEndpoints).toEqual(['http://flag:2379']);
    expect(fromFlags.etcdPrefix).toBe('/env/network');
    const defaults = resolveEtcdOptions(reader([]), {});
    expect(defaults.etcdEndpoints).toEqual(['http://127.0.0.1:4001', 'http://127.0.0.1:2379']);
    expect(defaults.etcdPrefix).toBe('/coreos.com/network');
  });

  it('uses the environment when running a command', async () => {
    const result = await run(['leases', 'list'], { env: { FLANNELD_ETCD_ENDPOINTS: 'http://127.0.0.1:1' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot reach etcd at http:\/\/127\.0\.0\.1:1 .*--etcd-endpoints/);
  });
});

describe('config set document', () => {
  const base: ConfigSetArgs = {
    network: '10.1.0.0/16',
    file: undefined,
    subnetLen: undefined,
    subnetMin: undefined,
    subnetMax: undefined,
    backend: undefined,
    backendOptions: [],
    ipv6Network: undefined,
    ipv6SubnetLen: undefined,
    enableNFTables: undefined,
    noIPv4: false,
    force: false,
  };

  it('leaves Backend out unless a backend flag is given', () => {
    expect(buildConfigDocument(base)).toEqual({ Network: '10.1.0.0/16' });
    expect(buildConfigDocument({ ...base, backendOptions: ['Port=8285'] })).toEqual({ Network: '10.1.0.0/16', Backend: { Type: 'udp', Port: 8285 } });
  });

  it('writes every flag in flannel spelling', () => {
    expect(
      buildConfigDocument({
        ...base,
        subnetLen: 26,
        subnetMin: '10.1.1.0',
        subnetMax: '10.1.200.0',
        backend: 'vxlan',
        backendOptions: ['VNI=1', 'DirectRouting=true'],
        ipv6Network: 'fc00::/48',
        ipv6SubnetLen: 64,
        enableNFTables: true,
      }),
    ).toEqual({
      Network: '10.1.0.0/16',
      SubnetLen: 26,
      SubnetMin: '10.1.1.0',
      SubnetMax: '10.1.200.0',
      EnableIPv6: true,
      IPv6Network: 'fc00::/48',
      IPv6SubnetLen: 64,
      EnableNFTables: true,
      Backend: { Type: 'vxlan', VNI: 1, DirectRouting: true },
    });
    expect(buildConfigDocument({ ...base, network: undefined, noIPv4: true, ipv6Network: 'fc00::/48' })).toEqual({
      EnableIPv4: false,
      EnableIPv6: true,
      IPv6Network: 'fc00::/48',
    });
  });

  it('types backend option values like JSON numbers and booleans, and keeps other text', () => {
    expect(parseBackendOption('VNI=1')).toEqual(['VNI', 1]);
    expect(parseBackendOption('DirectRouting=true')).toEqual(['DirectRouting', true]);
    expect(parseBackendOption('GBP=false')).toEqual(['GBP', false]);
    expect(parseBackendOption('MTU=1.5e3')).toEqual(['MTU', 1500]);
    expect(parseBackendOption('PSK=007')).toEqual(['PSK', '007']);
    expect(parseBackendOption('Mode=auto')).toEqual(['Mode', 'auto']);
    expect(parseBackendOption('Key=a=b')).toEqual(['Key', 'a=b']);
  });

  it('rejects an invalid config before touching etcd', async () => {
    const result = await run(['config', 'set', '10.1.0.0/33'], { env: NO_ETCD });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: Network "10\.1\.0\.0\/33" is not a CIDR/);
    expect(result.stderr).not.toMatch(/etcd/);
    const tooSmall = await run(['config', 'set', '10.1.0.0/16', '--subnet-len', '31'], { env: NO_ETCD });
    expect(tooSmall.code).toBe(1);
    expect(tooSmall.stderr).toMatch(/SubnetLen must be less than \/31/);
  });
});

describe('config validate FILE (no etcd)', () => {
  it('prints the effective config with defaults as pretty JSON', async () => {
    await using dir = await createTempDir();
    const file = join(dir.path, 'net-conf.json');
    await writeFile(file, '{"network":"10.3.0.0/16","Backend":{"Type":"vxlan","VNI":4}}');
    const result = await run(['config', 'validate', file], { env: NO_ETCD });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      Network: '10.3.0.0/16',
      SubnetLen: 24,
      SubnetMin: '10.3.1.0',
      SubnetMax: '10.3.255.0',
      EnableIPv4: true,
      EnableIPv6: false,
      EnableNFTables: false,
      Backend: { Type: 'vxlan', VNI: 4 },
    });
    expect(result.stdout).toContain('\n  "SubnetLen": 24,\n');
  });

  it('exits 1 with the reason for an invalid file', async () => {
    await using dir = await createTempDir();
    const file = join(dir.path, 'bad.json');
    await writeFile(file, '{"Network":"10.3.0.0/16","SubnetMin":"10.3.0.5"}');
    const result = await run(['config', 'validate', file], { env: NO_ETCD });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/SubnetMin is not on a SubnetLen boundary: 10\.3\.0\.5/);

    await writeFile(file, '{"Network":');
    const notJson = await run(['config', 'validate', file], { env: NO_ETCD });
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/not valid JSON/);

    const missing = await run(['config', 'validate', join(dir.path, 'absent.json')], { env: NO_ETCD });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*absent\.json/);
  });

  it('reads stdin for -', async () => {
    const result = await run(['config', 'validate', '-'], { env: NO_ETCD, stdin: '{"Network":"10.5.0.0/24"}' });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ Network: '10.5.0.0/24', SubnetLen: 26, SubnetMin: '10.5.0.64', SubnetMax: '10.5.0.192' });
  });
});

describe('formatting', () => {
  it('aligns table columns', () => {
    expect(renderTable(['A', 'LONG HEADER', 'C'], [['x', 'y', 'z'], ['wide cell', '', 'last']])).toBe(
      ['A           LONG HEADER   C', 'x           y             z', 'wide cell                 last'].join('\n'),
    );
  });

  it('formats remaining time and ISO times', () => {
    expect(formatRemaining(24 * 3600_000 - 1000)).toBe('23h59m');
    expect(formatRemaining(4 * 60_000 + 10_500)).toBe('4m10s');
    expect(formatRemaining(12_000)).toBe('12s');
    expect(formatRemaining(0)).toBe('expired');
    expect(formatTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05Z');
  });
});
