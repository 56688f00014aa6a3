/**
 * The backend contract (testkit) for udp, run inside a namespace by contract.netns.test.ts: eth0 at 192.0.2.5/24,
 * the peers' public addresses on this host, where a socket per address stands in for each peer's forwarder.
 *
 * Against the recording host the TUN device is real but its address and route are only recorded, so packets
 * cannot reach it: the cases that observe the data path run against the real host only. There, what is
 * programmed is what the data path does: a datagram sent to each peer subnet either reaches that peer's address
 * (encapsulated, flannel's wire format) or is dropped.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { describe, it } from 'vitest';
import { parseNetworkConfig, type ExternalInterface, type HostNetwork, type Lease } from '@flannel-ts/core';
import { createHostNetwork } from '@flannel-ts/host-net';
import { backendContractCases, createRecordingHost, createRecordingLogger, type BackendContractTarget, type BackendUnderTest } from '@flannel-ts/testkit';

// The built backend: its forwarder starts dist/datapath-worker.js.
const DIST = new URL('../../dist/index.js', import.meta.url).href;
const { udpBackend } = (await import(DIST)) as typeof import('../../src/index.js');

const NETWORK = parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"udp"}}');
const EXT: ExternalInterface = { name: 'eth0', index: 2, mtu: 1500, ipv4: '192.0.2.5', ipv6: undefined, publicIP: '192.0.2.5', publicIPv6: undefined };
/** Peer addresses the contract uses (peer n at 192.0.2.(30+n), and one moved peer). */
export const PEER_ADDRESSES = ['192.0.2.31', '192.0.2.32', '192.0.2.33', '192.0.2.34', '192.0.2.62'];
const PEER_SUBNETS = ['10.1.31.0/24', '10.1.32.0/24', '10.1.33.0/24', '10.1.34.0/24'];

/** Sends one datagram into each peer subnet through the TUN; reports which peer address received which. */
async function probe(): Promise<string[]> {
  const listeners: Socket[] = [];
  const seen: string[] = [];
  try {
    for (const address of PEER_ADDRESSES) {
      const socket = createSocket('udp4');
      socket.on('message', (packet) => {
        // The datagram is one raw IPv4 packet: its destination address at bytes 16-19.
        if (packet.length >= 20) seen.push(`${packet[16]}.${packet[17]}.${packet[18]}.0/24 via ${address}`);
      });
      socket.bind(8285, address);
      await once(socket, 'listening');
      listeners.push(socket);
    }
    const sender = createSocket('udp4');
    listeners.push(sender);
    for (const subnet of PEER_SUBNETS) sender.send('probe', 9, subnet.replace('.0/24', '.2'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    return [...new Set(seen)];
  } finally {
    for (const socket of listeners) socket.close();
  }
}

function udpTarget(makeHost: () => HostNetwork, observable: boolean): BackendContractTarget {
  return {
    async start(): Promise<BackendUnderTest> {
      const backend = udpBackend.create(udpBackend.parseConfig(NETWORK.backend), { log: createRecordingLogger(), network: NETWORK, externalInterface: EXT, host: makeHost(), signal: new AbortController().signal });
      return { backend, externalInterface: EXT, ...(observable ? { programmed: probe } : {}), [Symbol.asyncDispose]: async () => undefined };
    },
    // flannel's udp leases carry PublicIP only.
    peerAttrs: () => ({}),
    expectedLine: (peer: Lease) => `${peer.subnet} via ${peer.attrs.publicIP}`,
  };
}

describe('udp keeps the backend contract (recording host)', () => {
  const recording = udpTarget(() => createRecordingHost({ links: [{ name: 'eth0', index: 2, mtu: 1500, up: true, cidrs: ['192.0.2.5/24'] }], confineRoutesTo: [NETWORK.ipv4!.network] }), false);
  for (const c of backendContractCases(recording, { observable: false })) it(c.name, c.run);
});

describe('udp keeps the backend contract (namespace)', () => {
  const real = udpTarget(() => createHostNetwork({ confineRoutesTo: [NETWORK.ipv4!.network] }), true);
  for (const c of backendContractCases(real, { observable: true })) it(c.name, c.run);
});
