/**
 * Dual stack: with IPv6Network in the config, flannel-v6.<VNI> carries IPv6 the same way flannel.<VNI> carries IPv4.
 */
import { describe, expect, it } from 'vitest';
import { startLab, type LabHost } from '@flannel-ts/lab';
import { waitFor } from '@flannel-ts/testkit';

describe('vxlan dual stack', () => {
  it('leases an IPv4 and an IPv6 subnet per host and carries both over flannel.1 and flannel-v6.1', async () => {
    await using lab = await startLab({ hosts: 2, ipv6: true });
    await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'vxlan', '--ipv6-network', 'fc00:0:0:100::/56']);
    const [h1, h2] = lab.hosts as [LabHost, LabHost];
    for (const host of lab.hosts) await lab.startFlanneld(host);

    const leases = JSON.parse(await lab.flannelctl(['leases', 'list', '--json'])) as Array<{ key: string; publicIPv6: string; backendType: string; backendV6Data: { vni: number; vtepMac: string } }>;
    expect(leases).toHaveLength(2);
    for (const lease of leases) {
      expect(lease.key).toMatch(/^10\.1\.\d+\.0-24&fc00:0:0:1[0-9a-f]{2}::-64$/);
      expect(lease.publicIPv6).toMatch(/^2001:db8::1[12]$/);
      expect(lease.backendV6Data.vni).toBe(1);
    }

    const envs = await Promise.all(lab.hosts.map((h) => h.subnetEnv()));
    for (const env of envs) {
      expect(env.variables['FLANNEL_IPV6_NETWORK']).toBe('fc00:0:0:100::/56');
      expect(env.ipv6Subnet?.prefixLength).toBe(64);
    }
    for (const [host, env] of [
      [h1, envs[0]!],
      [h2, envs[1]!],
    ] as const) {
      const [link] = await host.ipJson<Array<{ address: string; mtu: number }>>(['link', 'show', 'flannel-v6.1']);
      expect(link?.mtu).toBe(1430); // 1500 - 70: the outer header is IPv6
      expect(leases.find((l) => l.publicIPv6 === `2001:db8::${10 + host.index}`)?.backendV6Data.vtepMac).toBe(link!.address);
      const addresses = await host.ipJson<Array<{ addr_info: Array<{ local: string; scope: string }> }>>(['-6', 'addr', 'show', 'flannel-v6.1']);
      expect(addresses[0]!.addr_info.map((a) => a.local)).toContain(env.ipv6Subnet!.addressText());
    }

    // Host 1 reaches host 2's addresses on its flannel devices over the overlay, IPv4 and IPv6.
    const v4 = envs[1]!.subnet!.addressText();
    const v6 = envs[1]!.ipv6Subnet!.addressText();
    await waitFor(async () => (await h1.exec('ping', ['-c', '1', '-W', '1', v4]).catch(() => '')).includes(' 0% packet loss'), { what: `ping ${v4}` });
    await waitFor(async () => (await h1.exec('ping', ['-6', '-c', '1', '-W', '1', v6]).catch(() => '')).includes(' 0% packet loss'), { what: `ping ${v6}` });
    const routes = await h1.ipJson<Array<{ dst: string; dev: string; flags: string[] }>>(['-6', 'route', 'show', 'dev', 'flannel-v6.1']);
    expect(routes.map((r) => r.dst)).toContain(envs[1]!.ipv6Subnet!.toString());
  });
});
