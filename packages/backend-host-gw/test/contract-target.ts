/** host-gw as the backend contract (testkit) sees it: the peer routes via each peer's address on eth0. */
import type { ExternalInterface, HostNetwork, Lease } from '@flannel-ts/core';
import { createRecordingLogger, type BackendContractTarget, type BackendUnderTest } from '@flannel-ts/testkit';
import { hostGwBackend } from '../src/index.js';
import { NETWORK } from './leases.js';

export const CONTRACT_EXT: ExternalInterface = { name: 'eth0', index: 2, mtu: 1500, ipv4: '192.0.2.5', ipv6: undefined, publicIP: '192.0.2.5', publicIPv6: undefined };

/** The gateway routes on eth0 inside the network, as `dst via gateway`. */
async function peerRoutes(host: HostNetwork): Promise<string[]> {
  return (await host.routes({ dev: 'eth0', family: 4 })).filter((r) => r.gateway && r.dst.startsWith('10.1.')).map((r) => `${r.dst} via ${r.gateway}`);
}

/** `host()` makes a fresh host (recording, or a namespace) with eth0 at 192.0.2.5/24, disposed with the case. */
export function hostGwTarget(host: () => Promise<{ host: HostNetwork } & AsyncDisposable>): BackendContractTarget {
  return {
    async start(): Promise<BackendUnderTest> {
      const fixture = await host();
      const backend = hostGwBackend.create(hostGwBackend.parseConfig(NETWORK.backend), { log: createRecordingLogger(), network: NETWORK, externalInterface: CONTRACT_EXT, host: fixture.host, signal: new AbortController().signal });
      return { backend, externalInterface: CONTRACT_EXT, programmed: () => peerRoutes(fixture.host), [Symbol.asyncDispose]: () => fixture[Symbol.asyncDispose]() };
    },
    peerAttrs: () => ({ backendType: 'host-gw' }),
    expectedLine: (peer: Lease) => `${peer.subnet} via ${peer.attrs.publicIP}`,
  };
}
