/**
 * The vxlan backend across three hosts, and with a host set up by hand the way flannel sets itself up.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab, type LabContainer, type LabHost } from '@flannel-ts/lab';
import { waitFor } from '@flannel-ts/testkit';
import { ping, startNetwork, tcpTransfer } from './net.js';

const vtepMac = async (host: LabHost) => (await host.ipJson<Array<{ address: string }>>(['link', 'show', 'flannel.1']))[0]?.address;

async function allReachable(from: LabContainer, targets: readonly LabContainer[]): Promise<boolean> {
  for (const to of targets) if (to !== from && !(await ping(from, to.ip, ['-c', '1', '-W', '1'])).ok) return false;
  return true;
}

describe('vxlan backend, 3 hosts', () => {
  let lab: Lab;
  let containers: LabContainer[];

  beforeAll(async () => {
    ({ lab, containers } = await startNetwork(3, 'vxlan'));
  });

  afterAll(async () => {
    await lab?.[Symbol.asyncDispose]();
  });

  it('creates flannel.1 and publishes its MAC in the lease as flannel does', async () => {
    const listing = JSON.parse(await lab.flannelctl(['leases', 'list', '--json'])) as Array<{ publicIP: string; backendType: string; backendData: { vni: number; vtepMac: string } }>;
    for (const host of lab.hosts) {
      const env = await host.subnetEnv();
      expect(env.mtu).toBe(1450);
      const [link] = await host.ipJson<Array<{ mtu: number; address: string; linkinfo: { info_kind: string; info_data: { id: number; port: number; learning: boolean; local: string } } }>>(['-d', 'link', 'show', 'flannel.1']);
      expect(link).toMatchObject({ mtu: 1450, linkinfo: { info_kind: 'vxlan', info_data: { id: 1, port: 8472, learning: false, local: host.underlayIp } } });
      const lease = listing.find((l) => l.publicIP === host.underlayIp);
      expect(lease).toMatchObject({ backendType: 'vxlan', backendData: { vni: 1, vtepMac: link!.address } });
      // Per peer: neighbour, FDB entry and onlink route.
      const routes = await host.ipJson<Array<{ dst: string; gateway: string; flags: string[] }>>(['route', 'show', 'dev', 'flannel.1']);
      expect(routes).toHaveLength(2);
      for (const route of routes) expect(route.flags).toContain('onlink');
      expect(await host.ipJson<unknown[]>(['neigh', 'show', 'dev', 'flannel.1', 'nud', 'permanent'])).toHaveLength(2);
    }
  });

  it('lets every container ping every other and carries TCP intact', async () => {
    for (const from of containers) expect(await allReachable(from, containers)).toBe(true);
    const result = await tcpTransfer(containers[0]!, containers[2]!, 8 * 1024 * 1024);
    expect(result.received).toBe(result.sent);
  });

  it('keeps traffic flowing through a flanneld restart, with the same VTEP MAC', async () => {
    const [c1, c2] = [containers[0]!, containers[1]!];
    const h2 = lab.hosts[1]!;
    const macBefore = await vtepMac(h2);
    const pinger = spawn('ip', ['netns', 'exec', c1.name, 'ping', '-i', '0.05', '-c', '80', '-W', '1', c2.ip]);
    let output = '';
    pinger.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const done = new Promise((resolve) => pinger.on('close', resolve));
    await new Promise((r) => setTimeout(r, 500));
    expect(await lab.stopFlanneld(h2)).toBe(0);
    await lab.startFlanneld(h2);
    await done;
    const loss = Number(/(\d+(?:\.\d+)?)% packet loss/.exec(output)?.[1] ?? 100);
    expect(loss, output).toBe(0);
    expect(await vtepMac(h2)).toBe(macBefore);
    expect(h2.flanneld!.output()).toMatch(/reusing lease/);
  });

  it('re-creates a deleted flannel.1 with the same MAC and every peer reachable again', async () => {
    const h1 = lab.hosts[0]!;
    const macBefore = await vtepMac(h1);
    await h1.exec('ip', ['link', 'del', 'flannel.1']);
    await waitFor(async () => (await vtepMac(h1).catch(() => undefined)) !== undefined, { timeoutMs: 15_000, what: 'flannel.1 back' });
    expect(await vtepMac(h1)).toBe(macBefore);
    await waitFor(() => allReachable(containers[0]!, containers), { timeoutMs: 15_000, what: 'all peers reachable from host 1' });
    expect(h1.flanneld!.output()).toMatch(/vxlan device is gone, re-creating it/);
  });

  it('repairs entries deleted or added by hand at the next reconcile', async () => {
    const h1 = lab.hosts[0]!;
    const c3 = containers[2]!;
    const peer = (await lab.hosts[2]!.subnetEnv()).subnet!;
    await h1.exec('ip', ['route', 'del', peer.toString(), 'dev', 'flannel.1']);
    await h1.exec('ip', ['neigh', 'del', peer.addressText(), 'dev', 'flannel.1']);
    await h1.exec('bridge', ['fdb', 'add', '02:00:00:00:00:99', 'dev', 'flannel.1', 'dst', '192.0.2.99', 'self', 'permanent']);
    expect((await ping(containers[0]!, c3.ip, ['-c', '1', '-W', '1'])).ok).toBe(false);
    await waitFor(async () => (await ping(containers[0]!, c3.ip, ['-c', '1', '-W', '1'])).ok, { timeoutMs: 25_000, what: 'the route repaired' });
    const fdb = await h1.exec('bridge', ['fdb', 'show', 'dev', 'flannel.1']);
    expect(fdb).not.toContain('02:00:00:00:00:99');
    expect(h1.flanneld!.output()).toMatch(/repairing kernel entries .*replace route/);
  });

  it('removes exactly the entries of a host that leaves, and takes it back when it rejoins', async () => {
    const [h1, , h3] = lab.hosts as [LabHost, LabHost, LabHost];
    const subnet = (await h3.subnetEnv()).subnet!;
    await lab.stopFlanneld(h3);
    await lab.flannelctl(['leases', 'revoke', subnet.toString()]);
    await waitFor(async () => !(await h1.exec('ip', ['route', 'show', 'dev', 'flannel.1'])).includes(subnet.toString()), { timeoutMs: 5000, what: 'route removed' });
    expect(await h1.exec('ip', ['neigh', 'show', 'dev', 'flannel.1'])).not.toContain(subnet.addressText() + ' ');
    expect(await allReachable(containers[0]!, containers.slice(0, 2))).toBe(true);
    await lab.startFlanneld(h3);
    expect((await h3.subnetEnv()).subnet?.toString()).toBe(subnet.toString());
    await waitFor(() => allReachable(containers[0]!, containers), { timeoutMs: 15_000, what: 'host 3 back' });
  });
});

describe('vxlan interop with a host set up by hand as flannel does', () => {
  it('exchanges traffic both ways with hosts running our flanneld', async () => {
    await using lab = await startLab({ hosts: 3 });
    await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'vxlan']);
    const [h1, h2, manual] = lab.hosts as [LabHost, LabHost, LabHost];
    await lab.startFlanneld(h1);
    await lab.startFlanneld(h2);

    // The manual host: what flannel's vxlan backend does on start (flannel-compat.md §5.2).
    const mac = '0a:58:0a:01:c8:00';
    await manual.exec('ip', ['link', 'add', 'flannel.1', 'address', mac, 'mtu', '1450', 'type', 'vxlan', 'id', '1', 'local', manual.underlayIp, 'dev', 'eth0', 'dstport', '8472', 'nolearning']);
    await manual.exec('ip', ['addr', 'add', '10.1.200.0/32', 'dev', 'flannel.1']);
    await manual.exec('ip', ['link', 'set', 'flannel.1', 'up']);
    const leaseJson = `{"PublicIP":"${manual.underlayIp}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${mac}"}}`;
    await manual.exec('etcdctl', [`--endpoints=${lab.etcdEndpoint}`, 'put', '/coreos.com/network/subnets/10.1.200.0-24', leaseJson]);
    await writeFile(manual.subnetFile, 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.200.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
    for (const host of [h1, h2]) {
      const peer = (await host.subnetEnv()).subnet!;
      const peerMac = await vtepMac(host);
      await manual.exec('ip', ['neigh', 'replace', peer.addressText(), 'lladdr', peerMac!, 'dev', 'flannel.1', 'nud', 'permanent']);
      await manual.exec('bridge', ['fdb', 'replace', peerMac!, 'dev', 'flannel.1', 'dst', host.underlayIp, 'self', 'permanent']);
      await manual.exec('ip', ['route', 'replace', peer.toString(), 'via', peer.addressText(), 'dev', 'flannel.1', 'onlink']);
    }
    const [c1, c2, c3] = [await lab.addContainer(h1), await lab.addContainer(h2), await lab.addContainer(manual)];
    // Our hosts programmed the manual host from its lease.
    await h1.flanneld!.waitForOutput(/peer added subnet=10.1.200.0-24 publicIP=192.0.2.13/);
    expect(await h1.exec('bridge', ['fdb', 'show', 'dev', 'flannel.1'])).toContain(`${mac} dst ${manual.underlayIp} self permanent`);
    for (const [from, to] of [
      [c1, c3],
      [c3, c1],
      [c2, c3],
      [c3, c2],
    ] as const) {
      const result = await ping(from, to.ip);
      expect(result.ok, `${from.ip} -> ${to.ip}\n${result.output}`).toBe(true);
    }
    const transfer = await tcpTransfer(c3, c1, 2 * 1024 * 1024);
    expect(transfer.received).toBe(transfer.sent);
  });
});

describe('vxlan DirectRouting', () => {
  it('routes straight to peers on the same L2 segment, without VXLAN entries', async () => {
    await using lab = await startLab({ hosts: 2 });
    await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'vxlan', '--backend-opt', 'DirectRouting=true']);
    const [h1, h2] = lab.hosts as [LabHost, LabHost];
    for (const host of lab.hosts) await lab.startFlanneld(host);
    const peer = (await h2.subnetEnv()).subnet!;
    await waitFor(async () => (await h1.exec('ip', ['route', 'show', peer.toString()])).includes(`via ${h2.underlayIp} dev eth0`), { what: 'direct route' });
    expect(await h1.exec('ip', ['route', 'show', 'dev', 'flannel.1'])).toBe('');
    expect(await h1.exec('ip', ['neigh', 'show', 'dev', 'flannel.1', 'nud', 'permanent'])).toBe('');
    const [c1, c2] = [await lab.addContainer(h1), await lab.addContainer(h2)];
    expect((await ping(c1, c2.ip)).ok).toBe(true);
  });
});
