/**
 * vxlan as the backend contract (testkit) sees it: per peer subnet, the onlink route on flannel.1, the permanent
 * neighbour entry giving its VTEP MAC and the FDB entry sending that MAC to the peer's address.
 */
import { parseNetworkConfig, type ExternalInterface, type HostNetwork, type Lease } from '@flannel-ts/core';
import { createRecordingLogger, type BackendContractTarget, type BackendUnderTest } from '@flannel-ts/testkit';
import { vxlanBackend } from '../src/index.js';

export const CONTRACT_NETWORK = parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}');
export const CONTRACT_EXT: ExternalInterface = { name: 'eth0', index: 2, mtu: 1500, ipv4: '192.0.2.5', ipv6: undefined, publicIP: '192.0.2.5', publicIPv6: undefined };
const DEVICE = 'flannel.1';

/** One line per peer route on the device: `subnet mac <neighbour's MAC> at <that MAC's FDB destination>`. */
async function peerEntries(host: HostNetwork): Promise<string[]> {
  if (!(await host.link(DEVICE))) return [];
  const macs = new Map((await host.neighbours(DEVICE, 4)).filter((n) => n.permanent).map((n) => [n.address, n.lladdr]));
  const endpoints = new Map((await host.fdb(DEVICE)).filter((f) => f.permanent && f.dst).map((f) => [f.lladdr, f.dst]));
  return (await host.routes({ dev: DEVICE, family: 4 }))
    .filter((r) => r.gateway)
    .map((r) => {
      const mac = macs.get(r.gateway!);
      return `${r.dst} mac ${mac ?? '-'} at ${(mac && endpoints.get(mac)) ?? '-'}`;
    });
}

const macOf = (n: number) => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;

/** `host()` makes a fresh host (recording, or a namespace) with eth0 at 192.0.2.5/24, disposed with the case. */
export function vxlanTarget(host: () => Promise<{ host: HostNetwork } & AsyncDisposable>): BackendContractTarget {
  return {
    async start(): Promise<BackendUnderTest> {
      const fixture = await host();
      const backend = vxlanBackend.create(vxlanBackend.parseConfig(CONTRACT_NETWORK.backend), {
        log: createRecordingLogger(),
        network: CONTRACT_NETWORK,
        externalInterface: CONTRACT_EXT,
        host: fixture.host,
        signal: new AbortController().signal,
      });
      return { backend, externalInterface: CONTRACT_EXT, programmed: () => peerEntries(fixture.host), [Symbol.asyncDispose]: () => fixture[Symbol.asyncDispose]() };
    },
    peerAttrs: (n) => ({ backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: macOf(n) } }),
    expectedLine: (peer: Lease) => `${peer.subnet} mac ${(peer.attrs.backendData as { VtepMAC: string }).VtepMAC} at ${peer.attrs.publicIP}`,
  };
}
