import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpNet } from '@flannel-ts/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkWritable, formatSubnetEnv, parseSubnetEnv, readSubnetEnv, writeSubnetEnv } from '../src/index.js';

const net = (text: string) => IpNet.parse(text)!;

describe('formatSubnetEnv', () => {
  it('writes flannel IPv4 output byte for byte', () => {
    const text = formatSubnetEnv({ network: net('10.5.0.0/16'), subnet: net('10.5.72.0/24'), mtu: 1450, ipMasq: false });
    expect(text).toBe('FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.72.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
  });

  it('writes flannel dual-stack output byte for byte', () => {
    const text = formatSubnetEnv({
      network: net('10.42.0.0/16'),
      subnet: net('10.42.0.0/24'),
      ipv6Network: net('2001:cafe:42::/56'),
      ipv6Subnet: net('2001:cafe:42::/64'),
      mtu: 1450,
      ipMasq: true,
    });
    expect(text).toBe(
      'FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.0.1/24\nFLANNEL_IPV6_NETWORK=2001:cafe:42::/56\nFLANNEL_IPV6_SUBNET=2001:cafe:42::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n',
    );
  });

  it('writes IPv6-only output', () => {
    const text = formatSubnetEnv({ ipv6Network: net('2001:cafe:42::/56'), ipv6Subnet: net('2001:cafe:42::/64'), mtu: 1450, ipMasq: false });
    expect(text).toBe('FLANNEL_IPV6_NETWORK=2001:cafe:42::/56\nFLANNEL_IPV6_SUBNET=2001:cafe:42::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
  });

  it('rejects a non-positive MTU', () => {
    expect(() => formatSubnetEnv({ mtu: 0, ipMasq: false })).toThrow(/MTU must be a positive/);
  });
});

describe('parseSubnetEnv', () => {
  it('reads what it writes, masking the subnet back to the network', () => {
    const env = parseSubnetEnv('FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.72.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
    expect(env.network?.toString()).toBe('10.5.0.0/16');
    expect(env.subnet?.toString()).toBe('10.5.72.0/24');
    expect(env.mtu).toBe(1450);
    expect(env.ipMasq).toBe(false);
  });

  it('accepts what godotenv accepts: comments, export, quotes, colon separator', () => {
    const env = parseSubnetEnv('# written by hand\n\nexport FLANNEL_NETWORK="10.5.0.0/16"\nFLANNEL_SUBNET: \'10.5.72.1/24\'\nFLANNEL_MTU=1472 # udp\r\n');
    expect(env.variables).toEqual({ FLANNEL_NETWORK: '10.5.0.0/16', FLANNEL_SUBNET: '10.5.72.1/24', FLANNEL_MTU: '1472' });
    expect(env.subnet?.toString()).toBe('10.5.72.0/24');
    expect(env.mtu).toBe(1472);
  });

  it('treats a list of several subnets, or garbage, as no previous subnet', () => {
    expect(parseSubnetEnv('FLANNEL_SUBNET=10.5.72.1/24,10.5.73.1/24\n').subnet).toBeUndefined();
    expect(parseSubnetEnv('FLANNEL_SUBNET=banana\n').subnet).toBeUndefined();
    expect(parseSubnetEnv('FLANNEL_SUBNET=10.5.72.1/24,banana\n').subnet?.toString()).toBe('10.5.72.0/24');
    expect(parseSubnetEnv('FLANNEL_MTU=big\nFLANNEL_IPMASQ=maybe\n')).toMatchObject({ mtu: undefined, ipMasq: undefined });
  });
});

describe('writeSubnetEnv / readSubnetEnv', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subnet-env-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the directory and writes mode 0644 whatever the umask', async () => {
    const path = join(dir, 'run', 'flannel', 'subnet.env');
    const old = process.umask(0o077);
    try {
      await writeSubnetEnv(path, { network: net('10.5.0.0/16'), subnet: net('10.5.72.0/24'), mtu: 1450, ipMasq: true });
    } finally {
      process.umask(old);
    }
    expect((await stat(path)).mode & 0o777).toBe(0o644);
    expect(await readFile(path, 'utf8')).toContain('FLANNEL_SUBNET=10.5.72.1/24\n');
    expect((await readSubnetEnv(path))?.subnet?.toString()).toBe('10.5.72.0/24');
  });

  it('replaces an existing file atomically and leaves no temp files', async () => {
    const path = join(dir, 'subnet.env');
    await writeFile(path, 'old');
    await writeSubnetEnv(path, { mtu: 1400, ipMasq: false });
    expect(await readFile(path, 'utf8')).toBe('FLANNEL_MTU=1400\nFLANNEL_IPMASQ=false\n');
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(dir)).toEqual(['subnet.env']);
  });

  it('reads a missing file as undefined and reports other errors', async () => {
    expect(await readSubnetEnv(join(dir, 'absent.env'))).toBeUndefined();
    await expect(readSubnetEnv(dir)).rejects.toThrow(/cannot read/);
  });

  it('reports an unwritable target with the path', async () => {
    await writeFile(join(dir, 'file'), 'x');
    await expect(writeSubnetEnv(join(dir, 'file', 'subnet.env'), { mtu: 1400, ipMasq: false })).rejects.toThrow(/file\/subnet.env: .*\/file is a file, not a directory/);
  });

  // Node's recursive mkdir never settles for a directory under /proc (procfs answers ENOENT for any new name).
  it('fails within a second for a path under /proc, naming the directory and why', { timeout: 5000 }, async () => {
    const started = Date.now();
    await expect(checkWritable('/proc/nope/subnet.env')).rejects.toThrow(/cannot write \/proc\/nope\/subnet\.env: cannot create directory \/proc\/nope \(ENOENT: the file system does not allow creating it/);
    await expect(writeSubnetEnv('/proc/nope/deeper/subnet.env', { mtu: 1400, ipMasq: false })).rejects.toThrow(/cannot create directory \/proc\/nope /);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('checks a path without leaving anything behind, creating missing directories', async () => {
    const path = join(dir, 'a', 'b', 'subnet.env');
    await checkWritable(path);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(join(dir, 'a', 'b'))).toEqual([]);
    await expect(checkWritable(join(dir, 'a'))).rejects.toThrow(/is a directory; give a file path/);
    await writeFile(join(dir, 'file'), 'x');
    await expect(checkWritable(join(dir, 'file', 'x', 'subnet.env'))).rejects.toThrow(/\/file is a file, not a directory/);
  });
});

describe('formatSubnetEnv input checks', () => {
  it('refuses a network without its subnet (or the reverse)', () => {
    expect(() => formatSubnetEnv({ network: net('10.5.0.0/16'), mtu: 1450, ipMasq: false })).toThrow(/needs both the IPv4 network and the IPv4 subnet/);
    expect(() => formatSubnetEnv({ ipv6Subnet: net('fc00::/64'), mtu: 1450, ipMasq: false })).toThrow(/IPv6/);
  });
});
