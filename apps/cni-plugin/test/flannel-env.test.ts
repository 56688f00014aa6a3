import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CniError } from '../src/cni-error.js';
import { decodeFlannelSubnetEnv, readFlannelSubnetEnv } from '../src/flannel-env.js';

const PATH = '/run/flannel/subnet.env';

function failure(fn: () => unknown): CniError {
  try {
    fn();
  } catch (err) {
    return err as CniError;
  }
  throw new Error('did not throw');
}

describe('decodeFlannelSubnetEnv', () => {
  it('reads what flanneld writes, subnets masked to the network', () => {
    const env = decodeFlannelSubnetEnv('FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n', PATH);
    expect(env.networks.map(String)).toEqual(['10.1.0.0/16']);
    expect(String(env.subnet)).toBe('10.1.17.0/24');
    expect(env).toMatchObject({ mtu: 1472, ipMasq: true, ipv6Networks: [], ipv6Subnet: undefined });
  });

  it('takes lists of networks, dropping duplicates, and what godotenv takes (export, quotes, comments)', () => {
    const env = decodeFlannelSubnetEnv('# flannel\nexport FLANNEL_NETWORK="10.1.0.0/16,192.168.0.0/16,10.1.0.0/16"\nFLANNEL_SUBNET=10.1.17.1/24 # mine\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n', PATH);
    expect(env.networks.map(String)).toEqual(['10.1.0.0/16', '192.168.0.0/16']);
    expect(env).toMatchObject({ mtu: 1450, ipMasq: false });
  });

  it('names every missing variable as flannel does', () => {
    const err = failure(() => decodeFlannelSubnetEnv('foo=bar\n', PATH));
    expect(err).toMatchObject({ code: 6, message: `${PATH} is missing FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ` });
  });

  it.each([
    ['FLANNEL_NETWORK=10.1.0.0/16,bogus', 'FLANNEL_NETWORK in /run/flannel/subnet.env is not a list of IPv4 CIDRs: "10.1.0.0/16,bogus"'],
    ['FLANNEL_SUBNET=10.1.17.1', 'FLANNEL_SUBNET in /run/flannel/subnet.env is not one IPv4 CIDR'],
    ['FLANNEL_MTU=14x', 'FLANNEL_MTU in /run/flannel/subnet.env is not a positive whole number'],
    ['FLANNEL_MTU=0', 'FLANNEL_MTU in /run/flannel/subnet.env is not a positive whole number'],
    ['FLANNEL_IPMASQ=yes', 'FLANNEL_IPMASQ in /run/flannel/subnet.env is not "true" or "false": "yes"'],
  ])('a bad value (%s) is code 6 naming the variable', (line, message) => {
    const good: Record<string, string> = { FLANNEL_NETWORK: '10.1.0.0/16', FLANNEL_SUBNET: '10.1.17.1/24', FLANNEL_MTU: '1450', FLANNEL_IPMASQ: 'true' };
    const [key] = line.split('=');
    const text = Object.entries(good).map(([k, v]) => (k === key ? line : `${k}=${v}`)).join('\n');
    expect(failure(() => decodeFlannelSubnetEnv(text, PATH))).toMatchObject({ code: 6, message: expect.stringContaining(message) });
  });
});

describe('readFlannelSubnetEnv waits for flanneld', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cni-env-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says it waits, and reads the file once flanneld writes it', async () => {
    const path = join(dir, 'subnet.env');
    const said: string[] = [];
    let polls = 0;
    const env = await readFlannelSubnetEnv(path, {
      waitSeconds: 10,
      say: (line) => said.push(line),
      sleep: async () => {
        polls += 1;
        if (polls === 3) await writeFile(path, 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
      },
    });
    expect(String(env.subnet)).toBe('10.1.17.0/24');
    expect(said).toEqual([`flannel: ${path} does not exist yet; waiting up to 10s for flanneld to write it`]);
  });

  it('gives up after the bound with code 11 (try again later)', async () => {
    const path = join(dir, 'never.env');
    const started = Date.now();
    const err = await readFlannelSubnetEnv(path, { waitSeconds: 0.3, say: () => undefined, pollMs: 50 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err).toMatchObject({ code: 11, message: `${path} does not exist after waiting 0.3s: is flanneld running? it writes this file once it holds a lease` });
  });

  it('does not wait when told 0, and a directory in its place is an I/O error (5)', async () => {
    await expect(readFlannelSubnetEnv(join(dir, 'none'), { waitSeconds: 0, say: () => expect.fail('must not wait') })).rejects.toMatchObject({ code: 11 });
    await expect(readFlannelSubnetEnv(dir, { waitSeconds: 0, say: () => undefined })).rejects.toMatchObject({ code: 5, message: expect.stringContaining(`cannot read ${dir}`) });
  });
});
