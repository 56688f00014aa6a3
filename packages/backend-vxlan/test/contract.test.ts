/** The backend contract (testkit) against a recording host. */
import { describe, it } from 'vitest';
import { backendContractCases, createRecordingHost } from '@flannel-ts/testkit';
import { CONTRACT_EXT, CONTRACT_NETWORK, vxlanTarget } from './contract-target.js';

const target = vxlanTarget(async () => ({
  host: createRecordingHost({ links: [{ name: 'eth0', index: CONTRACT_EXT.index, mtu: CONTRACT_EXT.mtu, up: true, cidrs: ['192.0.2.5/24'] }], confineRoutesTo: [CONTRACT_NETWORK.ipv4!.network] }),
  [Symbol.asyncDispose]: async () => undefined,
}));

describe('vxlan keeps the backend contract (recording host)', () => {
  for (const c of backendContractCases(target, { observable: true })) it(c.name, c.run);
});
