/**
 * The flannel CNI plugin on two hosts running flanneld (vxlan), driven as a runtime drives it (CNI_* environment,
 * config on stdin) and delegating to Debian's real bridge and host-local: each container lands on its host's
 * flannel subnet with FLANNEL_MTU and a route to the network (on host 2 the ADD comes while flanneld is still
 * starting: it waits for subnet.env and says so), the two ping each other across the overlay, CHECK passes, DEL
 * releases the address and the saved config, and a second DEL succeeds.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLANNEL_CNI, runCniPlugin, startLab, type CniCall, type Lab, type LabHost } from '@flannel-ts/lab';
import { deleteNetns, run, uniqueName } from '@flannel-ts/testkit';

interface CniContainer {
  readonly host: LabHost;
  readonly netns: string;
  readonly id: string;
  ip: string;
  result: Record<string, unknown> | undefined;
}

describe('flannel CNI plugin, 2 hosts on vxlan', () => {
  let lab: Lab;
  const containers: CniContainer[] = [];

  const conf = (host: LabHost, extra: object = {}) => ({
    cniVersion: '1.0.0',
    name: 'flannet',
    type: 'flannel',
    subnetFile: host.subnetFile,
    dataDir: join(lab.dir, `h${host.index}`, 'cni-flannel'),
    ipam: { dataDir: join(lab.dir, `h${host.index}`, 'cni-ipam') },
    ...extra,
  });
  const cni = (command: CniCall['command'], c: CniContainer, extra: object = {}, onStderr?: (chunk: string) => void) =>
    runCniPlugin({ plugin: FLANNEL_CNI, command, hostNetns: c.host.name, containerId: c.id, netnsPath: `/run/netns/${c.netns}`, config: conf(c.host, extra), ...(onStderr ? { onStderr } : {}) });
  const allocated = (host: LabHost) => {
    const dir = join(lab.dir, `h${host.index}`, 'cni-ipam', 'flannet');
    return existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
  };
  const ping = (from: CniContainer, to: CniContainer) => run('ip', ['netns', 'exec', from.netns, 'ping', '-c', '2', '-i', '0.2', '-W', '2', to.ip]);

  beforeAll(async () => {
    // --ip-masq as kube-flannel runs it: flanneld masquerades, so the plugin tells bridge not to (ipMasq false).
    lab = await startLab({ hosts: 2, flanneldArgs: ['--ip-masq'] });
    await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'vxlan']);
    // Host 2's flanneld starts in the first test, while a container is being added there.
    await lab.startFlanneld(lab.hosts[0]!);
    for (const host of lab.hosts) {
      const netns = uniqueName('p');
      await run('ip', ['netns', 'add', netns]);
      containers.push({ host, netns, id: `ctr-${netns}`, ip: '', result: undefined });
    }
  });

  afterAll(async () => {
    for (const c of containers) await deleteNetns(c.netns);
    await lab?.[Symbol.asyncDispose]();
  });

  it('ADD while flanneld is still starting waits for subnet.env, says so, then succeeds', async () => {
    const c = containers[1]!;
    expect(existsSync(c.host.subnetFile)).toBe(false);
    let waiting!: () => void;
    const saidWaiting = new Promise<void>((resolve) => (waiting = resolve));
    const pending = cni('ADD', c, {}, (chunk) => chunk.includes('waiting up to') && waiting());
    // flanneld starts only once the plugin has said it waits, so the test does not depend on who is faster.
    await Promise.race([saidWaiting, pending]);
    await lab.startFlanneld(c.host);
    const add = await pending;
    expect(add.code, add.stdout + add.stderr).toBe(0);
    expect(add.stderr).toContain(`flannel: ${c.host.subnetFile} does not exist yet; waiting up to 10s for flanneld to write it`);
    c.result = add.json;
    for (const host of lab.hosts) await host.flanneld!.waitForOutput(/peer added/);
  });

  it('ADD puts each container on its host\'s subnet with FLANNEL_MTU and a route to the network', async () => {
    for (const c of containers) {
      const env = await c.host.subnetEnv();
      const add = c.result ? { code: 0, stdout: '', stderr: '', json: c.result } : await cni('ADD', c);
      expect(add.code, add.stdout + add.stderr).toBe(0);
      const gateway = env.subnet!.addressText(1n);
      expect(add.json).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: `${env.subnet!.addressText(2n)}/24`, gateway }], routes: [{ dst: '10.1.0.0/16', gw: gateway }] });
      c.ip = env.subnet!.addressText(2n);
      c.result = add.json;
      const [eth0] = JSON.parse(await run('ip', ['-n', c.netns, '-j', 'addr', 'show', 'eth0'])) as Array<{ mtu: number; addr_info: Array<{ local: string }> }>;
      expect(eth0!.mtu).toBe(env.mtu);
      expect(env.mtu).toBe(1450);
      expect(eth0!.addr_info.map((a) => a.local)).toContain(c.ip);
      expect(JSON.parse(await run('ip', ['-n', c.netns, '-j', 'route', 'show', '10.1.0.0/16']))).toMatchObject([{ dst: '10.1.0.0/16', gateway, dev: 'eth0' }]);
      // The delegate config was saved as flannel's plugin saves it, with FLANNEL_IPMASQ=true turned into ipMasq false.
      expect(JSON.parse(await run('cat', [join(conf(c.host).dataDir, c.id)]))).toMatchObject({ type: 'bridge', name: 'flannet', mtu: 1450, ipMasq: false, isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet: env.subnet!.toString() }]] } });
    }
  });

  it('the two containers ping each other across the overlay', async () => {
    const [a, b] = containers as [CniContainer, CniContainer];
    await ping(a, b);
    await ping(b, a);
  });

  it('CHECK passes with the ADD result', async () => {
    for (const c of containers) {
      const check = await cni('CHECK', c, { prevResult: c.result });
      expect(check.code, check.stdout + check.stderr).toBe(0);
    }
  });

  it('DEL releases the address and the saved config; a second DEL succeeds', async () => {
    for (const c of containers) {
      expect(allocated(c.host)).toEqual([c.ip]);
      const del = await cni('DEL', c, { prevResult: c.result });
      expect(del.code, del.stdout + del.stderr).toBe(0);
      expect(allocated(c.host)).toEqual([]);
      expect(existsSync(join(conf(c.host).dataDir, c.id))).toBe(false);
      expect(JSON.parse(await run('ip', ['-n', c.netns, '-j', 'link', 'show']))).toHaveLength(1);
      const again = await cni('DEL', c);
      expect(again.code, again.stdout + again.stderr).toBe(0);
    }
  });
});
