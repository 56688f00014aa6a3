/**
 * The vxlan backend's kernel watch (HostNetwork.monitor) in a namespace: a deleted device is re-created at once,
 * with its MAC and peer entries, without waiting for a periodic resync; after dispose the watch is gone; a change
 * whose notification the kernel dropped (a real netlink overrun, made by stopping `ip monitor` and flooding it) is
 * found by the next resync.
 */
import { describe, expect, it } from 'vitest';
import { IpNet, parseNetworkConfig, type ExternalInterface, type Lease } from '@flannel-ts/core';
import { createHostNetwork } from '@flannel-ts/host-net';
import { createContractNamespace, createRecordingLogger, run, waitFor, type Netns } from '@flannel-ts/testkit';
import { vxlanBackend } from '../src/index.js';

const NETWORK = parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}');

function lease(subnet: string, publicIP: string, mac: string): Lease {
  const net = IpNet.parse(subnet)!;
  return { key: `${net.ipText()}-${net.prefixLength}`, subnet: net, ipv6Subnet: undefined, attrs: { publicIP, backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } }, expiresAt: undefined };
}

/** eth0 of testkit's contract namespace (192.0.2.5/24) as the external interface. */
async function underlay(ns: Netns): Promise<ExternalInterface> {
  const [link] = await ns.ipJson<Array<{ ifindex: number; mtu: number }>>(['link', 'show', 'eth0']);
  return { name: 'eth0', index: link!.ifindex, mtu: link!.mtu, ipv4: '192.0.2.5', ipv6: undefined, publicIP: '192.0.2.5', publicIPv6: undefined };
}

describe('vxlan kernel watch in a namespace', () => {
  it('re-creates a deleted device at once, with its MAC and the peer entries', async () => {
    await using ns = await createContractNamespace();
    const log = createRecordingLogger();
    const backend = vxlanBackend.create(vxlanBackend.parseConfig(NETWORK.backend), {
      log,
      network: NETWORK,
      externalInterface: await underlay(ns),
      host: createHostNetwork({ netns: ns.name }),
      signal: new AbortController().signal,
    });
    try {
      const { attrs } = await backend.prepare();
      const mac = (attrs.backendData as { VtepMAC: string }).VtepMAC;
      await backend.attach(lease('10.1.30.0/24', '192.0.2.5', mac));
      await backend.resync([lease('10.1.31.0/24', '192.0.2.6', '0a:58:0a:01:1f:00')]);
      const route = async () => (await ns.ipJson<Array<{ dst: string; gateway?: string }>>(['route', 'show', 'dev', 'flannel.1'])).find((r) => r.dst === '10.1.31.0/24');
      expect(await route()).toMatchObject({ gateway: '10.1.31.0' });
      // The monitor subscribes asynchronously after prepare: give it a moment before the deletion.
      await new Promise((resolve) => setTimeout(resolve, 300));

      await ns.exec('ip', ['link', 'del', 'flannel.1']);
      await waitFor(() => log.find('vxlan device is gone, re-creating it'), { what: 'the repair of flannel.1', timeoutMs: 5000 });
      await waitFor(route, { what: 'the peer route back on the new device', timeoutMs: 5000 });
      const [link] = await ns.ipJson<Array<{ address: string }>>(['link', 'show', 'flannel.1']);
      expect(link?.address).toBe(mac);
    } finally {
      await backend[Symbol.asyncDispose]();
    }
    // Disposed: the device stays, and nothing re-creates it any more.
    const repairs = log.records.filter((r) => r.message === 'vxlan device is gone, re-creating it').length;
    await ns.exec('ip', ['link', 'del', 'flannel.1']);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(log.records.filter((r) => r.message === 'vxlan device is gone, re-creating it')).toHaveLength(repairs);
    expect(await ns.ipJson(['link', 'show', 'type', 'vxlan'])).toEqual([]);
  });

  it('reads the kernel at the next resync after the kernel dropped notifications (netlink overrun)', async () => {
    await using ns = await createContractNamespace();
    const log = createRecordingLogger();
    const backend = vxlanBackend.create(vxlanBackend.parseConfig(NETWORK.backend), {
      log,
      network: NETWORK,
      externalInterface: await underlay(ns),
      host: createHostNetwork({ netns: ns.name }),
      signal: new AbortController().signal,
    });
    const monitorPid = async () => {
      const out = await run('pgrep', ['-f', `^ip -n ${ns.name} -o monitor`]).catch(() => '');
      return Number(out.trim().split('\n')[0]) || undefined;
    };
    let stopped: number | undefined;
    try {
      const { attrs } = await backend.prepare();
      await backend.attach(lease('10.1.30.0/24', '192.0.2.5', (attrs.backendData as { VtepMAC: string }).VtepMAC));
      const peer = lease('10.1.31.0/24', '192.0.2.6', '0a:58:0a:01:1f:00');
      await backend.resync([peer]);
      const neighbour = async () => (await ns.ipJson<Array<{ dst: string }>>(['neigh', 'show', 'dev', 'flannel.1'])).some((n) => n.dst === '10.1.31.0');
      expect(await neighbour()).toBe(true);
      // Our own programming made the monitor note a change: one resync reads the kernel and clears it.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await backend.resync([peer]);

      // Stop the monitor, fill its socket with route events on peer0 (not ours), then delete our neighbour entry
      // while the socket is full: the kernel drops that notification and reports an overrun when ip reads again.
      stopped = await waitFor(monitorPid, { what: 'the ip monitor process' });
      process.kill(stopped, 'SIGSTOP');
      const routes = Array.from({ length: 8000 }, (_, i) => `198.18.${i >> 8}.${i & 255}/32`);
      await ns.exec('ip', ['-batch', '-'], { input: [...routes.map((r) => `route add ${r} dev peer0`), ...routes.map((r) => `route del ${r} dev peer0`)].join('\n') + '\n' });
      await ns.exec('ip', ['neigh', 'del', '10.1.31.0', 'dev', 'flannel.1']);
      process.kill(stopped, 'SIGCONT');
      stopped = undefined;
      await waitFor(() => log.find('the kernel dropped notifications to the device monitor (netlink overrun): the next reconcile reads the kernel'), { what: 'the overrun noticed', timeoutMs: 5000 });

      // Same peers, no event seen about the neighbour: only the reported overrun makes this resync look and repair.
      await backend.resync([peer]);
      expect(await neighbour()).toBe(true);
    } finally {
      if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
      await backend[Symbol.asyncDispose]();
    }
  });
});
