/**
 * The udp backend across three hosts: each a network namespace on one underlay, with flanneld and a container.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab, LabContainer } from '@flannel-ts/lab';
import { waitFor } from '@flannel-ts/testkit';
import { innerUdpPacket, listenUdp, ping, sendDatagram, startNetwork, tcpTransfer } from './net.js';

let lab: Lab;
let containers: LabContainer[];

beforeAll(async () => {
  ({ lab, containers } = await startNetwork(3, 'udp'));
});

afterAll(async () => {
  await lab?.[Symbol.asyncDispose]();
});

describe('udp backend, 3 hosts', () => {
  it('writes flannel subnet.env with MTU = underlay MTU - 28 and creates flannel0', async () => {
    for (const host of lab.hosts) {
      const env = await host.subnetEnv();
      expect(env.network?.toString()).toBe('10.1.0.0/16');
      expect(env.subnet?.prefixLength).toBe(24);
      expect(env.mtu).toBe(1472);
      const [link] = await host.ipJson<Array<{ mtu: number; flags: string[] }>>(['link', 'show', 'flannel0']);
      expect(link?.mtu).toBe(1472);
      const addrs = await host.ipJson<Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>>(['-4', 'addr', 'show', 'flannel0']);
      expect(addrs[0]?.addr_info[0]).toMatchObject({ local: env.subnet!.addressText(), prefixlen: 32 });
      const routes = await host.ipJson<Array<{ dst: string; dev: string }>>(['route', 'show', '10.1.0.0/16']);
      expect(routes).toEqual([expect.objectContaining({ dst: '10.1.0.0/16', dev: 'flannel0' })]);
    }
  });

  it('lets every container ping every other container', async () => {
    for (const from of containers) {
      for (const to of containers) {
        if (from === to) continue;
        const result = await ping(from, to.ip);
        expect(result.ok, `${from.ip} -> ${to.ip}\n${result.output}`).toBe(true);
      }
    }
  });

  it('carries a TCP transfer of several MB intact', async () => {
    const result = await tcpTransfer(containers[0]!, containers[2]!, 8 * 1024 * 1024);
    expect(result.receivedBytes).toBe(8 * 1024 * 1024);
    expect(result.received).toBe(result.sent);
  });

  it('handles packets larger than the MTU as the kernel would', async () => {
    const [c1, c2] = [containers[0]!, containers[1]!];
    // Fragmentable: the container fragments to its MTU, every fragment crosses the overlay.
    const big = await ping(c1, c2.ip, ['-c', '2', '-i', '0.2', '-W', '2', '-s', '4000']);
    expect(big.ok, big.output).toBe(true);
    expect(big.output).toMatch(/4008 bytes from/);
    // Don't-fragment and too big: refused up front with the MTU named, not lost silently.
    const df = await ping(c1, c2.ip, ['-c', '1', '-W', '2', '-M', 'do', '-s', '1472']);
    expect(df.ok).toBe(false);
    expect(df.output).toMatch(/message too long, mtu=1472/);
    // Small packets keep flowing.
    expect((await ping(c1, c2.ip)).ok).toBe(true);
  });

  it('accepts well-formed datagrams only from peers, and counts what it drops', async () => {
    const [c1, c2] = [containers[0]!, containers[1]!];
    const received = await listenUdp(c1, 9999);
    try {
      // The same raw packet (UDP from c2 to c1), sent to host 1's flannel port by a stranger and by host 2.
      await sendDatagram(lab.switchNamespace, '192.0.2.1', lab.hosts[0]!.underlayIp, innerUdpPacket(c2.ip, c1.ip, 9999, 'from-stranger'));
      await sendDatagram(lab.hosts[1]!.name, lab.hosts[1]!.underlayIp, lab.hosts[0]!.underlayIp, innerUdpPacket(c2.ip, c1.ip, 9999, 'from-peer'));
      await waitFor(() => received().includes('from-peer'), { what: 'the datagram sent by the peer' });
      // From the peer's own address, but spoofed: an inner source in host 3's subnet, and one aimed at host 3
      // through host 1 (an inner destination outside host 1's subnet). Neither may reach a container.
      const c3 = containers[2]!;
      await sendDatagram(lab.hosts[1]!.name, lab.hosts[1]!.underlayIp, lab.hosts[0]!.underlayIp, innerUdpPacket(c3.ip, c1.ip, 9999, 'spoofed-source'));
      const relayed = await listenUdp(c3, 9999);
      try {
        await sendDatagram(lab.hosts[1]!.name, lab.hosts[1]!.underlayIp, lab.hosts[0]!.underlayIp, innerUdpPacket(c2.ip, c3.ip, 9999, 'wrong-destination'));
        await sendDatagram(lab.hosts[1]!.name, lab.hosts[1]!.underlayIp, lab.hosts[0]!.underlayIp, innerUdpPacket(c2.ip, c1.ip, 9999, 'from-peer-again'));
        await waitFor(() => received().includes('from-peer-again'), { what: 'legitimate traffic after the spoofed datagrams' });
        await new Promise((r) => setTimeout(r, 300));
        expect(relayed()).not.toContain('wrong-destination');
      } finally {
        relayed.stop();
      }
      expect(received()).not.toContain('from-stranger');
      expect(received()).not.toContain('spoofed-source');
      // From the peer too: a runt and a packet that is not IPv4 are dropped.
      await sendDatagram(lab.hosts[1]!.name, lab.hosts[1]!.underlayIp, lab.hosts[0]!.underlayIp, Buffer.from('runt'));
      const notIPv4 = innerUdpPacket(c2.ip, c1.ip, 9999, 'not-ipv4');
      notIPv4[0] = 0x65;
      await sendDatagram(lab.hosts[1]!.name, lab.hosts[1]!.underlayIp, lab.hosts[0]!.underlayIp, notIPv4);
      await new Promise((r) => setTimeout(r, 300));
      expect(received()).not.toContain('not-ipv4');
    } finally {
      received.stop();
    }
    // TTL: a packet that arrives at the tunnel with TTL 1 is not forwarded (flannel decrements it as a router).
    expect((await ping(c1, c2.ip, ['-c', '1', '-W', '1', '-t', '2'])).ok).toBe(false);
    expect((await ping(c1, c2.ip, ['-c', '1', '-W', '1', '-t', '5'])).ok).toBe(true);
    // Counted: flanneld reports its data-path counters when it stops.
    const h1 = lab.hosts[0]!;
    await lab.stopFlanneld(h1);
    const output = h1.lastFlanneld?.output() ?? '';
    expect(output).toMatch(/udp data path counters .*dropRunt=1\b/);
    expect(output).toMatch(/udp data path counters .*dropUnknownSender=1\b/);
    expect(output).toMatch(/udp data path counters .*dropTtlExpired=1\b/);
    expect(output).toMatch(/udp data path counters .*dropNotIPv4=[1-9]/);
    expect(output).toMatch(/udp data path counters .*dropSpoofedSource=1\b/);
    expect(output).toMatch(/udp data path counters .*dropWrongDestination=1\b/);
    await lab.startFlanneld(h1);
    await waitFor(async () => (await ping(c1, c2.ip, ['-c', '1', '-W', '1'])).ok, { timeoutMs: 15_000, what: 'host 1 back' });
  });

  it('answers "net unreachable" for a subnet no host holds', async () => {
    const result = await ping(containers[0]!, '10.1.250.2', ['-c', '1', '-W', '2']);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/Destination Net Unreachable/);
  });

  it('drops a host whose lease is revoked within seconds, while the others keep talking', async () => {
    const [c1, c2, c3] = containers as [LabContainer, LabContainer, LabContainer];
    const h3 = lab.hosts[2]!;
    const h3Subnet = (await h3.subnetEnv()).subnet!;
    expect(await lab.stopFlanneld(h3)).toBe(0);
    const revokedAt = Date.now();
    await lab.flannelctl(['leases', 'revoke', h3Subnet.toString()]);
    await lab.hosts[0]!.flanneld!.waitForOutput(new RegExp(`peer removed subnet=${h3Subnet.ipText()}-24`), 10_000);
    const seconds = (Date.now() - revokedAt) / 1000;
    expect(seconds).toBeLessThan(5);
    const gone = await ping(c1, c3.ip, ['-c', '1', '-W', '2']);
    expect(gone.output).toMatch(/Destination Net Unreachable/);
    expect((await ping(c1, c2.ip)).ok).toBe(true);
    expect((await ping(c2, c1.ip)).ok).toBe(true);

    // The host comes back: its previous subnet (from subnet.env) is free, so it gets it again.
    await lab.startFlanneld(h3);
    expect((await h3.subnetEnv()).subnet?.toString()).toBe(h3Subnet.toString());
    await waitFor(async () => (await ping(c1, c3.ip, ['-c', '1', '-W', '1'])).ok, { timeoutMs: 15_000, what: 'host 3 reachable again' });
  });

  it('keeps the subnet across a flanneld restart and traffic resumes', async () => {
    const h2 = lab.hosts[1]!;
    const before = (await h2.subnetEnv()).subnet!.toString();
    expect(await lab.stopFlanneld(h2)).toBe(0);
    await lab.startFlanneld(h2);
    expect((await h2.subnetEnv()).subnet?.toString()).toBe(before);
    expect(h2.flanneld!.output()).toMatch(/reusing lease/);
    const [c1, c2] = [containers[0]!, containers[1]!];
    await waitFor(async () => (await ping(c1, c2.ip, ['-c', '1', '-W', '1'])).ok && (await ping(c2, c1.ip, ['-c', '1', '-W', '1'])).ok, {
      timeoutMs: 15_000,
      what: 'traffic after the restart',
    });
  });
});
