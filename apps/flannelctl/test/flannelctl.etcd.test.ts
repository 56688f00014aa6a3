import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNetworkConfig, silentLogger } from '@flannel-ts/core';
import { EtcdRegistry, LeaseManager, connectEtcd } from '@flannel-ts/lease-manager';
import { createTempDir, freePort, startEtcd, type EtcdServer } from '@flannel-ts/testkit';
import { assertBuilt, run, spawnCli, type RunOptions } from './helpers.js';

const PREFIX = '/coreos.com/network';
const CONFIG_KEY = `${PREFIX}/config`;

interface Harness extends AsyncDisposable {
  readonly etcd: EtcdServer;
  readonly registry: EtcdRegistry;
  /** A raw etcd client, for writing keys as another tool would. */
  readonly client: ReturnType<typeof connectEtcd>;
  readonly manager: LeaseManager;
  /** flannelctl in-process, pointed at this etcd through FLANNELD_ETCD_ENDPOINTS. */
  ctl(argv: readonly string[], options?: RunOptions): ReturnType<typeof run>;
  value(key: string): Promise<string | undefined>;
  /** The etcd lease id a key is attached to ('0' for none). */
  leaseOf(key: string): Promise<string | undefined>;
  acquire(publicIP: string, extra?: { backendType?: string; backendData?: unknown; publicIPv6?: string }): Promise<string>;
}

async function createHarness(): Promise<Harness> {
  const etcd = await startEtcd();
  const client = connectEtcd({ endpoints: [etcd.endpoint], callTimeoutMs: 3000 });
  const registry = new EtcdRegistry(client, PREFIX);
  const manager = new LeaseManager({ registry, log: silentLogger });
  return {
    etcd,
    registry,
    client,
    manager,
    ctl: (argv, options = {}) => run(argv, { ...options, env: { FLANNELD_ETCD_ENDPOINTS: etcd.endpoint, ...options.env } }),
    value: async (key) => (await client.get(key).string()) ?? undefined,
    leaseOf: async (key) => (await client.get(key).exec()).kvs[0]?.lease,
    acquire: async (publicIP, extra = {}) => {
      const config = parseNetworkConfig((await registry.getConfigText()) ?? '');
      const lease = await manager.acquireLease({ config, attrs: { publicIP, ...extra } });
      return lease.key;
    },
    async [Symbol.asyncDispose]() {
      client.close();
      await etcd[Symbol.asyncDispose]();
    },
  };
}

describe('config set / get', () => {
  it('writes compact flannel JSON and reads it back', async () => {
    await using h = await createHarness();
    const set = await h.ctl(['config', 'set', '10.1.0.0/16', '--backend', 'vxlan', '--backend-opt', 'VNI=1', '--backend-opt', 'DirectRouting=true']);
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    const stored = '{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan","VNI":1,"DirectRouting":true}}';
    expect(await h.value(CONFIG_KEY)).toBe(stored);
    expect(set.stdout).toBe(`wrote ${CONFIG_KEY}: ${stored}\n`);

    const json = await h.ctl(['config', 'get', '--json']);
    expect(json).toEqual({ code: 0, stdout: `${stored}\n`, stderr: '' });

    const summary = await h.ctl(['config', 'get']);
    expect(summary.code).toBe(0);
    expect(summary.stdout).toMatch(/^Network: +10\.1\.0\.0\/16$/m);
    expect(summary.stdout).toMatch(/^SubnetLen: +24$/m);
    expect(summary.stdout).toMatch(/^SubnetMin: +10\.1\.1\.0$/m);
    expect(summary.stdout).toMatch(/^SubnetMax: +10\.1\.255\.0$/m);
    expect(summary.stdout).toMatch(/^Capacity: +255 subnets$/m);
    expect(summary.stdout).toMatch(/^Backend: +vxlan$/m);
    expect(summary.stdout).toMatch(/^Backend options: +VNI=1, DirectRouting=true$/m);
    expect(summary.stdout).not.toMatch(/IPv6/);
  });

  it('writes dual-stack, nftables and subnet range options, and shows IPv6 when enabled', async () => {
    await using h = await createHarness();
    const set = await h.ctl([
      'config', 'set', '10.2.0.0/16', '--subnet-len', '26', '--subnet-min', '10.2.1.0', '--subnet-max', '10.2.8.0',
      '--ipv6-network', 'fc00::/48', '--ipv6-subnet-len', '64', '--enable-nftables',
    ]);
    expect(set.code).toBe(0);
    expect(await h.value(CONFIG_KEY)).toBe(
      '{"Network":"10.2.0.0/16","SubnetLen":26,"SubnetMin":"10.2.1.0","SubnetMax":"10.2.8.0","EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetLen":64,"EnableNFTables":true}',
    );
    const summary = await h.ctl(['config', 'get']);
    expect(summary.stdout).toMatch(/^Capacity: +29 subnets$/m);
    expect(summary.stdout).toMatch(/^IPv6Network: +fc00::\/48$/m);
    expect(summary.stdout).toMatch(/^Backend: +udp \(no Backend in the config/m);
    expect(summary.stdout).toMatch(/^NFTables: +enabled$/m);
  });

  it('writes a document from --file - (stdin) compactly and uses another prefix', async () => {
    await using h = await createHarness();
    const doc = '{\n  "Network": "10.7.0.0/16",\n  "Backend": { "Type": "host-gw" }\n}\n';
    const set = await h.ctl(['-etcd-prefix=/other/network', 'config', 'set', '--file', '-'], { stdin: doc });
    expect(set.code).toBe(0);
    expect(await h.value('/other/network/config')).toBe('{"Network":"10.7.0.0/16","Backend":{"Type":"host-gw"}}');
    expect(await h.value(CONFIG_KEY)).toBeUndefined();
  });

  it('writes nothing when the config is invalid', async () => {
    await using h = await createHarness();
    const before = '{"Network":"10.1.0.0/16"}';
    await h.registry.putConfigText(before);
    for (const argv of [
      ['config', 'set', '10.1.0.0/33'],
      ['config', 'set', 'not-a-cidr'],
      ['config', 'set', '10.1.0.0/16', '--subnet-min', '10.2.0.0'],
      ['config', 'set', '10.1.0.0/29'],
    ]) {
      const result = await h.ctl(argv);
      expect(result.code, argv.join(' ')).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^error: .*(network|SubnetMin)/i);
    }
    // Exactly what flanneld refuses at start: backend types this build lacks, option types, ranges, unknown options.
    for (const [argv, reason] of [
      [['--backend', 'foo'], /unknown backend type: "foo" \(supported: alloc, udp, vxlan, host-gw\)/],
      [['--backend', 'wireguard'], /"wireguard" is not supported by this build/],
      [['--backend', 'vxlan', '--backend-opt', 'VNI=abc'], /Backend\.VNI must be a whole number from 0 to 16777215, got "abc"/],
      [['--backend', 'vxlan', '--backend-opt', 'VNI=99999999'], /Backend\.VNI must be a whole number from 0 to 16777215, got 99999999/],
      [['--backend', 'udp', '--backend-opt', 'Port=70000'], /Backend\.Port must be a UDP port number from 1 to 65535/],
      [['--backend', 'vxlan', '--backend-opt', 'Bogus=1'], /unknown vxlan backend option "Bogus": the vxlan backend takes VNI, Port, GBP, Learning, DirectRouting, MTU/],
      [['--backend', 'host-gw', '--backend-opt', 'VNI=1'], /unknown host-gw backend option "VNI": the host-gw backend takes no options/],
    ] as const) {
      const result = await h.ctl(['config', 'set', '10.1.0.0/16', ...argv]);
      expect(result.code, argv.join(' ')).toBe(1);
      expect(result.stderr, argv.join(' ')).toMatch(reason);
    }
    const hostBits = await h.ctl(['config', 'set', '10.1.0.1/16']);
    expect(hostBits.code).toBe(1);
    expect(hostBits.stderr).toMatch(/Network "10\.1\.0\.1\/16" has host bits set \(flannel would use 10\.1\.0\.0\/16\): write 10\.1\.0\.0\/16/);
    const fromFile = await h.ctl(['config', 'set', '--file', '-'], { stdin: '{"Network":"10.1.0.0/16","Backend":"vxlan"}' });
    expect(fromFile.code).toBe(1);
    expect(fromFile.stderr).toMatch(/Backend must be an object/);
    expect(await h.value(CONFIG_KEY)).toBe(before);

    await using empty = await createHarness();
    expect((await empty.ctl(['config', 'set', '10.1.0.0/33'])).code).toBe(1);
    expect(await empty.value(CONFIG_KEY)).toBeUndefined();
  });

  it('refuses a change that strands leases, naming them, unless --force', async () => {
    await using h = await createHarness();
    expect((await h.ctl(['config', 'set', '10.1.0.0/16'])).code).toBe(0);
    const key = await h.acquire('192.0.2.1');
    const original = await h.value(CONFIG_KEY);

    const refused = await h.ctl(['config', 'set', '10.2.0.0/16', '--backend', 'vxlan']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('strands 1 existing lease');
    expect(refused.stderr).toMatch(new RegExp(`${key.replace(/\./g, '\\.')} +public IP 192\\.0\\.2\\.1`));
    expect(refused.stderr).toContain('--force');
    expect(await h.value(CONFIG_KEY)).toBe(original);

    // A change every lease still fits is fine without --force.
    expect((await h.ctl(['config', 'set', '10.1.0.0/16', '--backend', 'vxlan'])).code).toBe(0);

    const forced = await h.ctl(['config', 'set', '10.2.0.0/16', '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(/^warning: .*192\.0\.2\.1/m);
    expect(await h.value(CONFIG_KEY)).toBe('{"Network":"10.2.0.0/16"}');
  });

  it('explains a missing config', async () => {
    await using h = await createHarness();
    for (const argv of [['config', 'get'], ['config', 'get', '--json'], ['config', 'validate']]) {
      const result = await h.ctl(argv);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/no network config at \/coreos\.com\/network\/config: create one with `flannelctl config set 10\.1\.0\.0\/16`/);
    }
  });

  it('validates the stored config, and shows an invalid one as stored', async () => {
    await using h = await createHarness();
    await h.registry.putConfigText('{"Network":"10.4.0.0/22"}');
    const valid = await h.ctl(['config', 'validate']);
    expect(valid.code).toBe(0);
    expect(JSON.parse(valid.stdout)).toMatchObject({ Network: '10.4.0.0/22', SubnetLen: 24, SubnetMin: '10.4.1.0', SubnetMax: '10.4.3.0' });

    await h.registry.putConfigText('{"Network":"10.4.0.0/30"}');
    const invalid = await h.ctl(['config', 'validate']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/config stored at \/coreos\.com\/network\/config is invalid: network is too small/);
    expect((await h.ctl(['config', 'get'])).code).toBe(1);
    expect(await h.ctl(['config', 'get', '--json'])).toEqual({ code: 0, stdout: '{"Network":"10.4.0.0/30"}\n', stderr: '' });
  });
});

describe('leases list', () => {
  it('shows leases, reservations and skips malformed keys with a warning', async () => {
    await using h = await createHarness();
    await h.registry.putConfigText('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}');
    const vxlanKey = await h.acquire('192.0.2.1', { backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' } });
    const udpKey = await h.acquire('192.0.2.2');
    expect((await h.ctl(['leases', 'reserve', '10.1.200.0/24', '--public-ip', '192.0.2.3'])).code).toBe(0);
    await h.client.put(`${PREFIX}/subnets/garbage`).value('{}');
    await h.client.put(`${PREFIX}/subnets/10.1.201.0-24`).value('{"PublicIP":"not-an-ip"}');

    const table = await h.ctl(['leases', 'list']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    // The row renderer of `status`: the same columns. A udp lease and a reservation without BackendType on a vxlan
    // network: shown, flagged, explained below.
    expect(lines[0]).toMatch(/^SUBNET +PUBLIC IP +BACKEND +VTEP MAC +EXPIRES +RENEWED +FLAGS$/);
    expect(lines).toHaveLength(8);
    expect(lines.slice(4, 6)).toEqual(['', 'Notes:']);
    const row = (ip: string) => lines.find((l) => l.includes(` ${ip} `)) ?? '';
    expect(row('192.0.2.1')).toMatch(new RegExp(`^${vxlanKey.replace('-', '/').replace(/\./g, '\\.')} +192\\.0\\.2\\.1 +vxlan +c6:d2:32:6f:8f:44 +in (23h59m|24h0m) +\\d+s ago +-$`));
    expect(row('192.0.2.2')).toMatch(new RegExp(`^${udpKey.replace('-', '/').replace(/\./g, '\\.')} \\(key ${udpKey.replace(/\./g, '\\.')}\\) +192\\.0\\.2\\.2 +- +- +in .* rejected$`));
    expect(row('192.0.2.3')).toMatch(/^10\.1\.200\.0\/24 \(key 10\.1\.200\.0-24\) +192\.0\.2\.3 +- +- +never +- +rejected,reserved$/);
    expect(lines).toContain(`  10.1.200.0-24: rejected (wrong-backend-type): BackendType is empty but the network's backend is vxlan; no flanneld programs it, fix or revoke the key`);
    expect(table.stdout).not.toContain('IPV6');
    const warnings = table.stderr.trimEnd().split('\n');
    expect(warnings).toHaveLength(2);
    expect(warnings).toContainEqual(expect.stringMatching(/^warning: skipping malformed lease \/coreos\.com\/network\/subnets\/garbage: .*not a subnet key/));
    expect(warnings).toContainEqual(expect.stringMatching(/^warning: skipping malformed lease \/coreos\.com\/network\/subnets\/10\.1\.201\.0-24: PublicIP "not-an-ip" is not an IPv4 address/));

    const json = await h.ctl(['leases', 'list', '--json']);
    expect(json.code).toBe(0);
    const leases = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(leases).toHaveLength(3);
    // One JSON shape with status's hosts[]: camelCase throughout, numbers as numbers.
    expect(leases.find((l) => l['publicIP'] === '192.0.2.1')).toEqual({
      key: vxlanKey,
      subnet: vxlanKey.replace('-', '/'),
      ipv6Subnet: null,
      publicIP: '192.0.2.1',
      publicIPv6: null,
      backendType: 'vxlan',
      backendData: { vni: 1, vtepMac: 'c6:d2:32:6f:8f:44' },
      backendV6Data: null,
      vtepMac: 'c6:d2:32:6f:8f:44',
      expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      expiresInSeconds: expect.any(Number),
      renewedAt: expect.stringMatching(/^\d{4}-/),
      renewedSecondsAgo: expect.any(Number),
      reserved: false,
      flags: [],
      notes: [],
      rejection: null,
    });
    const expiresAt = Date.parse(leases.find((l) => l['publicIP'] === '192.0.2.1')!['expiresAt'] as string);
    expect(Math.abs(expiresAt - (Date.now() + 24 * 3600_000))).toBeLessThan(10_000);
    expect(leases.find((l) => l['publicIP'] === '192.0.2.3')).toMatchObject({
      key: '10.1.200.0-24',
      subnet: '10.1.200.0/24',
      expiresAt: null,
      expiresInSeconds: null,
      reserved: true,
      flags: ['rejected', 'reserved'],
      rejection: { reason: 'wrong-backend-type', detail: "BackendType is empty but the network's backend is vxlan" },
    });
    // status --json names the same leases with the same fields and the same expiry.
    const status = JSON.parse((await h.ctl(['status', '--json'])).stdout) as { hosts: Array<Record<string, unknown>> };
    const inStatus = status.hosts.find((l) => l['publicIP'] === '192.0.2.1')!;
    expect(Object.keys(inStatus).sort()).toEqual(Object.keys(leases[0]!).sort());
    expect(Math.abs(Date.parse(inStatus['expiresAt'] as string) - expiresAt)).toBeLessThanOrEqual(1000);
    expect(json.stderr).toMatch(/garbage/);
  });

  it('adds IPv6 columns only when a lease has IPv6', async () => {
    await using h = await createHarness();
    await h.registry.putConfigText('{"Network":"10.1.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/48"}');
    const key = await h.acquire('192.0.2.1', { publicIPv6: '2001:db8::1' });
    const table = await h.ctl(['leases', 'list']);
    expect(table.stdout.split('\n')[0]).toMatch(/^SUBNET +IPV6 SUBNET +PUBLIC IP +PUBLIC IPV6 +BACKEND +VTEP MAC +EXPIRES +RENEWED +FLAGS$/);
    expect(table.stdout).not.toContain('rejected');
    expect(key).toContain('&');
    const json = JSON.parse((await h.ctl(['leases', 'list', '--json'])).stdout) as Array<Record<string, unknown>>;
    expect(json[0]?.['ipv6Subnet']).toMatch(/^fc00:0:0:[0-9a-f]+::\/64$/);
  });

  it('says so when there are no leases', async () => {
    await using h = await createHarness();
    expect(await h.ctl(['leases', 'list'])).toEqual({ code: 0, stdout: '', stderr: 'no leases under /coreos.com/network/subnets/\n' });
    expect(await h.ctl(['leases', 'list', '--json'])).toEqual({ code: 0, stdout: '[]\n', stderr: '' });
  });
});

describe('leases reserve', () => {
  it('writes a reservation without an etcd lease', async () => {
    await using h = await createHarness();
    await h.registry.putConfigText('{"Network":"10.1.0.0/16"}');
    const result = await h.ctl(['leases', 'reserve', '10.1.30.0/24', '--public-ip', '192.0.2.10', '--backend-type', 'vxlan']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${PREFIX}/subnets/10.1.30.0-24`);
    const key = `${PREFIX}/subnets/10.1.30.0-24`;
    expect(await h.value(key)).toBe('{"PublicIP":"192.0.2.10","PublicIPv6":null,"BackendType":"vxlan"}');
    expect(await h.leaseOf(key)).toBe('0');
  });

  it('writes a dual-stack reservation', async () => {
    await using h = await createHarness();
    await h.registry.putConfigText('{"Network":"10.1.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/48"}');
    const missingV6 = await h.ctl(['leases', 'reserve', '10.1.30.0/24', '--public-ip', '192.0.2.10']);
    expect(missingV6.code).toBe(1);
    expect(missingV6.stderr).toMatch(/has no IPv6 subnet but the config enables IPv6/);
    const ok = await h.ctl(['leases', 'reserve', '10.1.30.0/24', '--public-ip', '192.0.2.10', '--ipv6-subnet', 'fc00:0:0:1e::/64', '--public-ipv6', '2001:db8::10']);
    expect(ok.code).toBe(0);
    const key = `${PREFIX}/subnets/10.1.30.0-24&fc00:0:0:1e::-64`;
    expect(await h.value(key)).toBe('{"PublicIP":"192.0.2.10","PublicIPv6":"2001:db8::10"}');
    expect(await h.leaseOf(key)).toBe('0');
  });

  it('refuses invalid reservations before writing', async () => {
    await using h = await createHarness();
    await h.registry.putConfigText('{"Network":"10.1.0.0/16","SubnetMax":"10.1.100.0"}');
    const cases: Array<[string[], RegExp]> = [
      [['10.1.30/24', '--public-ip', '192.0.2.10'], /SUBNET "10\.1\.30\/24" is not an IPv4 CIDR/],
      [['10.1.30.0', '--public-ip', '192.0.2.10'], /is not an IPv4 CIDR/],
      [['10.1.30.5/24', '--public-ip', '192.0.2.10'], /host bits set: use 10\.1\.30\.0\/24/],
      [['10.2.30.0/24', '--public-ip', '192.0.2.10'], /outside Network 10\.1\.0\.0\/16.*flanneld on the owner host would delete it/],
      [['10.1.30.0/25', '--public-ip', '192.0.2.10'], /is a \/25 but SubnetLen is 24/],
      [['10.1.200.0/24', '--public-ip', '192.0.2.10'], /outside SubnetMin\.\.SubnetMax/],
      [['10.1.30.0/24', '--public-ip', '2001:db8::1'], /--public-ip "2001:db8::1" is not an IPv4 address/],
      [['10.1.30.0/24', '--public-ip', 'host-a'], /is not an IPv4 address/],
    ];
    for (const [args, message] of cases) {
      const result = await h.ctl(['leases', 'reserve', ...args]);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr).toMatch(message);
    }
    const listing = await h.registry.listLeases();
    expect(listing.leases).toEqual([]);
    expect(listing.skipped).toEqual([]);
  });

  it('refuses to overlap an existing lease unless --force', async () => {
    await using h = await createHarness();
    await h.registry.putConfigText('{"Network":"10.1.0.0/16"}');
    const key = await h.acquire('192.0.2.1');
    const subnet = key.replace('-', '/');
    const refused = await h.ctl(['leases', 'reserve', subnet, '--public-ip', '192.0.2.9']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`overlaps the existing lease ${key.replace(/\./g, '\\.')} of 192\\.0\\.2\\.1.*--force`));
    expect(await h.value(`${PREFIX}/subnets/${key}`)).toBe('{"PublicIP":"192.0.2.1","PublicIPv6":null}');

    const forced = await h.ctl(['leases', 'reserve', subnet, '--public-ip', '192.0.2.9', '--force']);
    expect(forced.code).toBe(0);
    expect(await h.value(`${PREFIX}/subnets/${key}`)).toBe('{"PublicIP":"192.0.2.9","PublicIPv6":null}');
    expect(await h.leaseOf(`${PREFIX}/subnets/${key}`)).toBe('0');
  });

  it('needs a config', async () => {
    await using h = await createHarness();
    const result = await h.ctl(['leases', 'reserve', '10.1.30.0/24', '--public-ip', '192.0.2.10']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/flannelctl config set/);
  });
});

describe('leases revoke', () => {
  it('accepts the CIDR and the key spelling, and fails on an unknown subnet', async () => {
    await using h = await createHarness();
    await h.registry.putConfigText('{"Network":"10.1.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/48"}');
    for (const [subnet, v6] of [['10.1.30.0/24', 'fc00:0:0:1e::/64'], ['10.1.31.0/24', 'fc00:0:0:1f::/64'], ['10.1.32.0/24', 'fc00:0:0:20::/64']] as const) {
      expect((await h.ctl(['leases', 'reserve', subnet, '--public-ip', '192.0.2.10', '--ipv6-subnet', v6])).code).toBe(0);
    }
    const byCidr = await h.ctl(['leases', 'revoke', '10.1.30.0/24']);
    expect(byCidr).toEqual({ code: 0, stdout: `revoked ${PREFIX}/subnets/10.1.30.0-24&fc00:0:0:1e::-64 (held by 192.0.2.10)\n`, stderr: '' });
    const byV4Key = await h.ctl(['leases', 'revoke', '10.1.31.0-24']);
    expect(byV4Key.code).toBe(0);
    const byFullKey = await h.ctl(['leases', 'revoke', '10.1.32.0-24&fc00:0:0:20::-64']);
    expect(byFullKey.code).toBe(0);
    expect((await h.registry.listLeases()).leases).toEqual([]);

    for (const unknown of ['10.1.30.0/24', '10.1.99.0-24', 'nonsense']) {
      const result = await h.ctl(['leases', 'revoke', unknown]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/no lease .* under \/coreos\.com\/network\/subnets\/: see the leases with `flannelctl leases list`/);
    }
  });

  it('revokes a live lease and a malformed key that leases list reported', async () => {
    await using h = await createHarness();
    await h.registry.putConfigText('{"Network":"10.1.0.0/16"}');
    const key = await h.acquire('192.0.2.1');
    await h.client.put(`${PREFIX}/subnets/garbage`).value('x');
    expect((await h.ctl(['leases', 'revoke', key])).code).toBe(0);
    expect(await h.value(`${PREFIX}/subnets/${key}`)).toBeUndefined();
    expect((await h.ctl(['leases', 'revoke', 'garbage'])).code).toBe(0);
    expect(await h.value(`${PREFIX}/subnets/garbage`)).toBeUndefined();
  });
});

describe('etcd unreachable', () => {
  it('fails within a few seconds, naming the endpoints', async () => {
    const port = await freePort();
    const started = Date.now();
    const result = await run(['leases', 'list', '--etcd-endpoints', `http://127.0.0.1:${port}`]);
    expect(Date.now() - started).toBeLessThan(6000);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^error: cannot reach etcd at http://127\\.0\\.0\\.1:${port} .*--etcd-endpoints`));
  });

  it('gives up at the deadline when etcd stops answering', async () => {
    await using h = await createHarness();
    const pid = h.etcd.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const result = await h.ctl(['config', 'get'], { etcdDeadlineMs: 1500 });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/etcd at http:\/\/127\.0\.0\.1:\d+ (did not answer within 1\.5 s|.*UNAVAILABLE|.*DEADLINE)/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
async function createCertificates(dir: string): Promise<Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string>> {
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test-ca', '-keyout', 'ca.key', '-out', 'ca.pem');
  await writeFile(path('server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await writeFile(path('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, ext] of [['server', 'server.ext'], ['client', 'client.ext']] as const) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', `${name}.pem`);
  }
  return { ca: path('ca.pem'), serverCert: path('server.pem'), serverKey: path('server.key'), clientCert: path('client.pem'), clientKey: path('client.key') };
}

describe('TLS', () => {
  it('connects with --etcd-cafile, --etcd-certfile and --etcd-keyfile (or their FLANNELD_* variables)', async () => {
    await using dir = await createTempDir();
    const certs = await createCertificates(dir.path);
    await using etcd = await startEtcd({
      scheme: 'https',
      // testkit detects an https etcd as ready by the "ready to serve client requests" line, logged at info level.
      extraArgs: ['--cert-file', certs.serverCert, '--key-file', certs.serverKey, '--client-cert-auth', '--trusted-ca-file', certs.ca, '--log-level', 'info'],
    });
    const tlsFlags = ['--etcd-cafile', certs.ca, '--etcd-certfile', certs.clientCert, '--etcd-keyfile', certs.clientKey];
    const set = await run(['config', 'set', '10.1.0.0/16', '--etcd-endpoints', etcd.endpoint, ...tlsFlags]);
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    const env = { FLANNELD_ETCD_ENDPOINTS: etcd.endpoint, FLANNELD_ETCD_CAFILE: certs.ca, FLANNELD_ETCD_CERTFILE: certs.clientCert, FLANNELD_ETCD_KEYFILE: certs.clientKey };
    expect(await run(['config', 'get', '--json'], { env })).toEqual({ code: 0, stdout: '{"Network":"10.1.0.0/16"}\n', stderr: '' });

    // Without a client certificate the server refuses; a lone --etcd-certfile is ignored with a warning, as flanneld does.
    const noCert = await run(['config', 'get', '--etcd-endpoints', etcd.endpoint, '--etcd-cafile', certs.ca, '--etcd-certfile', certs.clientCert], { etcdDeadlineMs: 8000 });
    expect(noCert.code).toBe(1);
    expect(noCert.stderr).toMatch(/^warning: --etcd-certfile and --etcd-keyfile are needed together/m);
    expect(noCert.stderr).toMatch(/^error: .*etcd/m);
  });

  it('names an unreadable certificate file', async () => {
    const result = await run(['leases', 'list', '--etcd-endpoints', 'https://127.0.0.1:1', '--etcd-cafile', '/nonexistent/ca.pem']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: cannot read --etcd-cafile \/nonexistent\/ca\.pem/);
  });
});

describe('bin/flannelctl end to end', () => {
  it('keeps output on stdout and errors on stderr, with exit codes 0, 1 and 2', async () => {
    assertBuilt();
    await using h = await createHarness();
    const env = { FLANNELD_ETCD_ENDPOINTS: h.etcd.endpoint };
    const set = await spawnCli(['-etcd-prefix=/e2e/network', 'config', 'set', '10.9.0.0/16', '--backend', 'vxlan', '--backend-opt', 'VNI=1'], { env });
    expect(set).toMatchObject({ code: 0, stderr: '' });
    expect(set.stdout).toBe('wrote /e2e/network/config: {"Network":"10.9.0.0/16","Backend":{"Type":"vxlan","VNI":1}}\n');

    const get = await spawnCli(['config', 'get', '--json', '--etcd-prefix', '/e2e/network'], { env });
    expect(get).toMatchObject({ code: 0, stdout: '{"Network":"10.9.0.0/16","Backend":{"Type":"vxlan","VNI":1}}\n', stderr: '' });

    const invalid = await spawnCli(['config', 'set', '10.9.0.0/40', '--etcd-prefix', '/e2e/network'], { env });
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toBe('');
    expect(invalid.stderr).toMatch(/^error: Network "10\.9\.0\.0\/40" is not a CIDR/);

    const usage = await spawnCli(['leases', 'frob'], { env });
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe('');
    expect(usage.stderr).toMatch(/unknown command `leases frob`\nUsage: flannelctl leases/);

    const help = await spawnCli(['leases', 'reserve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe('');
    expect(help.stdout).toContain('Usage: flannelctl leases reserve <SUBNET> [options]');
  });

  it('exits 1 quickly when etcd is not there, and validates a file from stdin without etcd', async () => {
    assertBuilt();
    const port = await freePort();
    const list = await spawnCli(['leases', 'list'], { env: { FLANNELD_ETCD_ENDPOINTS: `http://127.0.0.1:${port}` } });
    expect(list.code).toBe(1);
    expect(list.stdout).toBe('');
    expect(list.stderr).toMatch(/cannot reach etcd at http:\/\/127\.0\.0\.1:\d+/);
    expect(list.ms).toBeLessThan(8000);

    const validate = await spawnCli(['config', 'validate', '-'], { env: { FLANNELD_ETCD_ENDPOINTS: `http://127.0.0.1:${port}` }, stdin: '{"Network":"10.5.0.0/24"}' });
    expect(validate.code).toBe(0);
    expect(validate.stderr).toBe('');
    expect(JSON.parse(validate.stdout)).toMatchObject({ SubnetLen: 26 });
  });
});
