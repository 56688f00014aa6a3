/**
 * The host-gw backend across three hosts on one underlay, and with a host set up by hand the way flannel's
 * host-gw sets itself up.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, startLab, type Lab, type LabContainer, type LabHost } from '@flannel-ts/lab';
import { startDaemon, waitFor } from '@flannel-ts/testkit';
import { ping, tcpTransfer } from './net.js';

/** Routes with a gateway on the host's eth0, as `dst via gateway`, sorted. */
async function gatewayRoutes(host: LabHost): Promise<string[]> {
  const routes = await host.ipJson<Array<{ dst: string; gateway?: string }>>(['-4', 'route', 'show', 'dev', 'eth0']);
  return routes
    .filter((r) => r.gateway)
    .map((r) => `${r.dst} via ${r.gateway}`)
    .sort();
}

/** The routes a host should have: every other host's subnet via its underlay address. */
async function expectedRoutes(lab: Lab, host: LabHost, hosts: readonly LabHost[] = lab.hosts): Promise<string[]> {
  const out: string[] = [];
  for (const peer of hosts) if (peer !== host) out.push(`${(await peer.subnetEnv()).subnet!.toString()} via ${peer.underlayIp}`);
  return out.sort();
}

async function allReachable(from: LabContainer, targets: readonly LabContainer[]): Promise<boolean> {
  for (const to of targets) if (to !== from && !(await ping(from, to.ip, ['-c', '1', '-W', '1'])).ok) return false;
  return true;
}

const etcdValue = (lab: Lab, host: LabHost, key: string) => host.exec('etcdctl', [`--endpoints=${lab.etcdEndpoint}`, 'get', key, '--print-value-only']).then((v) => v.trim());

describe('host-gw backend, 3 hosts', () => {
  let lab: Lab;
  let containers: LabContainer[];

  beforeAll(async () => {
    lab = await startLab({ hosts: 3 });
    await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'host-gw']);
    for (const host of lab.hosts) await lab.startFlanneld(host);
    containers = [];
    for (const host of lab.hosts) containers.push(await lab.addContainer(host));
    // Each flanneld has programmed both peers.
    for (const host of lab.hosts) await waitFor(async () => (await gatewayRoutes(host)).length === 2, { what: `2 peer routes on host ${host.index}` });
  });

  afterAll(async () => {
    await lab?.[Symbol.asyncDispose]();
  });

  it('writes MTU 1500, the lease as flannel does, and a route per peer subnet via its underlay IP on eth0', async () => {
    for (const host of lab.hosts) {
      const env = await host.subnetEnv();
      expect(env.network?.toString()).toBe('10.1.0.0/16');
      expect(env.mtu).toBe(1500);
      const key = `/coreos.com/network/subnets/${env.subnet!.ipText()}-${env.subnet!.prefixLength}`;
      expect(await etcdValue(lab, host, key)).toBe(`{"PublicIP":"${host.underlayIp}","PublicIPv6":null,"BackendType":"host-gw"}`);
      expect(await gatewayRoutes(host)).toEqual(await expectedRoutes(lab, host));
      // No device of its own.
      expect((await host.ipJson<Array<{ ifname: string }>>(['link', 'show'])).map((l) => l.ifname).filter((n) => n.startsWith('flannel'))).toEqual([]);
    }
  });

  it('lets every container ping every other and carries 8 MB of TCP intact', async () => {
    for (const from of containers) {
      for (const to of containers) {
        if (from === to) continue;
        const result = await ping(from, to.ip);
        expect(result.ok, `${from.ip} -> ${to.ip}\n${result.output}`).toBe(true);
      }
    }
    const result = await tcpTransfer(containers[0]!, containers[2]!, 8 * 1024 * 1024);
    expect(result.receivedBytes).toBe(8 * 1024 * 1024);
    expect(result.received).toBe(result.sent);
  });

  it('keeps traffic flowing through a flanneld restart: the routes stay while it is down', async () => {
    const [c1, c2] = [containers[0]!, containers[1]!];
    const h2 = lab.hosts[1]!;
    const routesBefore = await gatewayRoutes(h2);
    const pinger = spawn('ip', ['netns', 'exec', c1.name, 'ping', '-i', '0.05', '-c', '80', '-W', '1', c2.ip]);
    let output = '';
    pinger.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const done = new Promise((resolve) => pinger.on('close', resolve));
    await new Promise((r) => setTimeout(r, 500));
    expect(await lab.stopFlanneld(h2)).toBe(0);
    expect(await gatewayRoutes(h2)).toEqual(routesBefore);
    await lab.startFlanneld(h2);
    await done;
    const loss = Number(/(\d+(?:\.\d+)?)% packet loss/.exec(output)?.[1] ?? 100);
    expect(loss, output).toBe(0);
    expect(h2.flanneld!.output()).toMatch(/reusing lease/);
    expect(await gatewayRoutes(h2)).toEqual(routesBefore);
  });

  it('repairs routes deleted, changed or added by hand within one resync period', async () => {
    const [h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost];
    const [c1, , c3] = containers as [LabContainer, LabContainer, LabContainer];
    const subnet3 = (await h3.subnetEnv()).subnet!.toString();
    const subnet2 = (await h2.subnetEnv()).subnet!.toString();
    await h1.exec('ip', ['route', 'del', subnet3, 'dev', 'eth0']);
    await h1.exec('ip', ['route', 'replace', subnet2, 'via', '192.0.2.99', 'dev', 'eth0']);
    await h1.exec('ip', ['route', 'add', '10.1.250.0/24', 'via', '192.0.2.98', 'dev', 'eth0']);
    expect((await ping(c1, c3.ip, ['-c', '1', '-W', '1'])).ok).toBe(false);

    await waitFor(async () => JSON.stringify(await gatewayRoutes(h1)) === JSON.stringify(await expectedRoutes(lab, h1)), { timeoutMs: 20_000, what: 'routes on host 1 repaired' });
    expect(await allReachable(c1, containers)).toBe(true);
    const output = h1.flanneld!.output();
    expect(output).toMatch(new RegExp(`route recovered subnet=${subnet3} via=${h3.underlayIp}`));
    expect(output).toMatch(new RegExp(`route corrected subnet=${subnet2} via=${h2.underlayIp} was=192.0.2.99`));
    expect(output).toMatch(/stale route removed subnet=10.1.250.0\/24 via=192.0.2.98/);
  });

  it('drops the route of a host that leaves within seconds, refuses NAT on rejoin, then takes it back', async () => {
    const [h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost];
    const [c1, c2, c3] = containers as [LabContainer, LabContainer, LabContainer];
    const subnet = (await h3.subnetEnv()).subnet!;
    expect(await lab.stopFlanneld(h3)).toBe(0);
    const revokedAt = Date.now();
    await lab.flannelctl(['leases', 'revoke', subnet.toString()]);
    for (const host of [h1, h2]) {
      await waitFor(async () => !(await gatewayRoutes(host)).some((r) => r.startsWith(`${subnet.toString()} `)), { timeoutMs: 5000, what: `route to ${subnet} gone on host ${host.index}` });
      expect(await gatewayRoutes(host)).toEqual(await expectedRoutes(lab, host, [h1, h2]));
    }
    expect((Date.now() - revokedAt) / 1000).toBeLessThan(5);
    expect((await ping(c1, c3.ip, ['-c', '1', '-W', '1'])).ok).toBe(false);
    expect((await ping(c1, c2.ip)).ok).toBe(true);
    expect((await ping(c2, c1.ip)).ok).toBe(true);

    // A public IP that is not the interface's address: host-gw cannot work behind NAT, flanneld says so and exits 1
    // (started directly, as lab.startFlanneld waits for a daemon that comes up).
    await using refused = startDaemon('ip', ['netns', 'exec', h3.name, BIN.flanneld, `--etcd-endpoints=${lab.etcdEndpoint}`, '--iface=eth0', `--subnet-file=${h3.subnetFile}`, '--public-ip=203.0.113.5']);
    expect(await refused.exited()).toBe(1);
    expect(refused.output()).toMatch(
      /your PublicIP differs from interface IP, meaning that probably you're on a NAT, which is not supported by host-gw backend: --public-ip 203.0.113.5 is not the address of eth0 \(192.0.2.13\); .*use the vxlan backend/,
    );

    // Back with its previous subnet (from subnet.env), reachable again.
    await lab.startFlanneld(h3);
    expect((await h3.subnetEnv()).subnet?.toString()).toBe(subnet.toString());
    await waitFor(() => allReachable(c1, containers), { timeoutMs: 15_000, what: 'host 3 reachable again' });
    for (const host of lab.hosts) expect(await gatewayRoutes(host)).toEqual(await expectedRoutes(lab, host));
  });
});

describe('host-gw interop with a host set up by hand as flannel does', () => {
  it('exchanges traffic both ways with hosts running our flanneld', async () => {
    await using lab = await startLab({ hosts: 3 });
    await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'host-gw']);
    const [h1, h2, manual] = lab.hosts as [LabHost, LabHost, LabHost];
    await lab.startFlanneld(h1);
    await lab.startFlanneld(h2);

    // The manual host: flannel's lease value and routes (flannel-compat.md §1.4, §5.3).
    await manual.exec('etcdctl', [`--endpoints=${lab.etcdEndpoint}`, 'put', '/coreos.com/network/subnets/10.1.200.0-24', `{"PublicIP":"${manual.underlayIp}","PublicIPv6":null,"BackendType":"host-gw"}`]);
    await writeFile(manual.subnetFile, 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.200.1/24\nFLANNEL_MTU=1500\nFLANNEL_IPMASQ=false\n');
    for (const host of [h1, h2]) await manual.exec('ip', ['route', 'replace', (await host.subnetEnv()).subnet!.toString(), 'via', host.underlayIp, 'dev', 'eth0']);
    const [c1, c2, c3] = [await lab.addContainer(h1), await lab.addContainer(h2), await lab.addContainer(manual)];

    for (const host of [h1, h2]) {
      await waitFor(async () => (await gatewayRoutes(host)).includes(`10.1.200.0/24 via ${manual.underlayIp}`), { what: `route to the manual host on host ${host.index}` });
    }
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
