/**
 * The built plugin on one host (a namespace), run as a runtime runs it, delegating to Debian's real bridge and
 * host-local: the container namespace's address, MTU and routes read back with `ip -j`, CHECK, DEL releasing the
 * address and the saved config, the older spec versions, IPv6, a delegate's failure, and the installed copy.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLANNEL_CNI, runCniPlugin, type CniCall } from '@flannel-ts/lab';
import { createNetns, createTempDir, run, sweepStaleNetns, uniqueName, type Netns, type TempDir } from '@flannel-ts/testkit';
import { assertBuilt } from './built.js';

// Debian's containernetworking-plugins (scripts/setup.sh installs it); no skip: a missing plugin is a failure.
describe('flannel CNI plugin with the real bridge plugin', () => {
  let host: Netns;
  let tmp: TempDir;
  const containers: Netns[] = [];
  let subnetFile: string;
  let dataDir: string;
  let ipamDir: string;

  beforeAll(async () => {
    assertBuilt();
    await sweepStaleNetns();
    host = await createNetns(uniqueName('h'));
    tmp = await createTempDir('cni-plugin-');
    subnetFile = join(tmp.path, 'subnet.env');
    dataDir = join(tmp.path, 'flannel');
    ipamDir = join(tmp.path, 'ipam');
    await writeFile(subnetFile, 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00:0:0:11::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  });

  afterAll(async () => {
    for (const c of containers) await c[Symbol.asyncDispose]();
    await host?.[Symbol.asyncDispose]();
    await tmp?.[Symbol.asyncDispose]();
  });

  async function container(): Promise<Netns> {
    const ns = await createNetns(uniqueName('c'));
    containers.push(ns);
    return ns;
  }

  const conf = (extra: object = {}) => ({ cniVersion: '1.0.0', name: 'flnet', type: 'flannel', subnetFile, dataDir, ipam: { dataDir: ipamDir }, ...extra });
  const call = (command: CniCall['command'], ns: Netns | undefined, config: object, containerId: string) =>
    runCniPlugin({ plugin: FLANNEL_CNI, command, hostNetns: host.name, containerId, ...(ns ? { netnsPath: `/run/netns/${ns.name}` } : {}), config });
  const allocated = () => (existsSync(join(ipamDir, 'flnet')) ? readdirSync(join(ipamDir, 'flnet')).filter((f) => /^[0-9a-f.:]+$/.test(f)) : []);

  it('ADD (1.0.0, dual stack): addresses from both subnets, FLANNEL_MTU, routes to both networks via the gateway', async () => {
    const ns = await container();
    const add = await call('ADD', ns, conf(), 'dual1');
    expect(add.code, add.stdout + add.stderr).toBe(0);
    expect(add.json).toMatchObject({
      cniVersion: '1.0.0',
      ips: [{ address: '10.1.17.2/24', gateway: '10.1.17.1' }, { address: 'fc00:0:0:11::2/64', gateway: 'fc00:0:0:11::1' }],
      routes: [{ dst: '10.1.0.0/16', gw: '10.1.17.1' }, { dst: 'fc00::/48', gw: 'fc00:0:0:11::1' }],
    });
    const [eth0] = await ns.ipJson<Array<{ mtu: number; addr_info: Array<{ local: string; prefixlen: number }> }>>(['addr', 'show', 'eth0']);
    expect(eth0!.mtu).toBe(1450);
    expect(eth0!.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(expect.arrayContaining(['10.1.17.2/24', 'fc00:0:0:11::2/64']));
    expect(await ns.ipJson(['route', 'show', '10.1.0.0/16'])).toMatchObject([{ dst: '10.1.0.0/16', gateway: '10.1.17.1', dev: 'eth0' }]);
    expect(await ns.ipJson(['-6', 'route', 'show', 'fc00::/48'])).toMatchObject([{ dst: 'fc00::/48', gateway: 'fc00:0:0:11::1', dev: 'eth0' }]);
    // The host side: cni0 holds the gateways, with flannel's MTU; ipMasq is off (FLANNEL_IPMASQ=true: flanneld masquerades).
    const [cni0] = await host.ipJson<Array<{ mtu: number; addr_info: Array<{ local: string }> }>>(['addr', 'show', 'cni0']);
    expect(cni0!.addr_info.map((a) => a.local)).toEqual(expect.arrayContaining(['10.1.17.1', 'fc00:0:0:11::1']));
    expect(await host.exec('iptables', ['-t', 'nat', '-S'])).not.toContain('10.1.17.2');
    await ns.exec('ping', ['-c', '1', '-W', '2', '10.1.17.1']);

    // CHECK with the ADD's result passes (the bridge plugin checks routes by destination and gateway).
    const check = await call('CHECK', ns, conf({ prevResult: add.json }), 'dual1');
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toBe('');

    // DEL releases both addresses and the saved config; a second DEL succeeds.
    expect(allocated().sort()).toEqual(['10.1.17.2', 'fc00:0:0:11::2']);
    expect(existsSync(join(dataDir, 'dual1'))).toBe(true);
    const del = await call('DEL', ns, conf({ prevResult: add.json }), 'dual1');
    expect(del.code, del.stdout + del.stderr).toBe(0);
    expect(allocated()).toEqual([]);
    expect(existsSync(join(dataDir, 'dual1'))).toBe(false);
    expect(await ns.ipJson(['link', 'show'])).toHaveLength(1); // only lo
    expect((await call('DEL', ns, conf(), 'dual1')).code).toBe(0);
  });

  it('CHECK fails when the container lost its route, with the bridge plugin\'s message', async () => {
    const ns = await container();
    const add = await call('ADD', ns, conf(), 'broken1');
    expect(add.code, add.stdout).toBe(0);
    await ns.exec('ip', ['route', 'del', '10.1.0.0/16']);
    const check = await call('CHECK', ns, conf({ prevResult: add.json }), 'broken1');
    expect(check.code).toBe(1);
    expect(check.json).toMatchObject({ cniVersion: '1.0.0', msg: expect.stringMatching(/^failed to delegate check: bridge: .*10\.1\.0\.0.*not found/) });
    expect((await call('DEL', ns, conf(), 'broken1')).code).toBe(0);
  });

  it.each(['0.3.1', '0.4.0'])('speaks %s: the result in that version, DEL idempotent', async (version) => {
    const ns = await container();
    const id = `v${version.replace(/\./g, '')}`;
    const add = await call('ADD', ns, conf({ cniVersion: version }), id);
    expect(add.code, add.stdout + add.stderr).toBe(0);
    expect(add.json).toMatchObject({ cniVersion: version, ips: [{ version: '4', address: expect.stringMatching(/^10\.1\.17\.\d+\/24$/) }, { version: '6' }] });
    if (version === '0.4.0') expect((await call('CHECK', ns, conf({ cniVersion: version, prevResult: add.json }), id)).code).toBe(0);
    expect((await call('DEL', ns, conf({ cniVersion: version }), id)).code).toBe(0);
    expect((await call('DEL', ns, conf({ cniVersion: version }), id)).code).toBe(0);
  });

  it('DEL after the container namespace is gone still releases the address', async () => {
    const ns = await createNetns(uniqueName('c'));
    const add = await call('ADD', ns, conf(), 'gone1');
    expect(add.code).toBe(0);
    const path = `/run/netns/${ns.name}`;
    await ns[Symbol.asyncDispose]();
    const del = await runCniPlugin({ plugin: FLANNEL_CNI, command: 'DEL', hostNetns: host.name, containerId: 'gone1', netnsPath: path, config: conf() });
    expect(del.code, del.stdout + del.stderr).toBe(0);
    expect(allocated()).toEqual([]);
  });

  it('a delegate failure comes back as a CNI error with the bridge plugin\'s message; the saved config stays for DEL', async () => {
    const add = await runCniPlugin({ plugin: FLANNEL_CNI, command: 'ADD', hostNetns: host.name, containerId: 'fail1', netnsPath: '/run/netns/does-not-exist', config: conf() });
    expect(add.code).toBe(1);
    expect(add.json).toMatchObject({ cniVersion: '1.0.0', msg: expect.stringMatching(/^failed to delegate add: bridge: .*does-not-exist/) });
    expect(existsSync(join(dataDir, 'fail1'))).toBe(true);
    expect((await call('DEL', undefined, conf(), 'fail1')).code).toBe(0);
    expect(existsSync(join(dataDir, 'fail1'))).toBe(false);
  });

  it('the installed copy (flannel install --dir) runs on its own, found by type in CNI_PATH', async () => {
    const bin = join(tmp.path, 'opt-cni-bin');
    await mkdir(bin);
    expect(await run(FLANNEL_CNI, ['install', '--dir', bin])).toContain(`installed ${join(bin, 'flannel')}`);
    const ns = await container();
    const add = await runCniPlugin({ plugin: join(bin, 'flannel'), command: 'ADD', hostNetns: host.name, containerId: 'inst1', netnsPath: `/run/netns/${ns.name}`, cniPath: `${bin}:/usr/lib/cni`, config: conf() });
    expect(add.code, add.stdout + add.stderr).toBe(0);
    expect((await runCniPlugin({ plugin: join(bin, 'flannel'), command: 'DEL', hostNetns: host.name, containerId: 'inst1', cniPath: `${bin}:/usr/lib/cni`, config: conf() })).code).toBe(0);
  });
});
