/** The backend contract (testkit) in a namespace: eth0 is a veth at 192.0.2.5/24, routes read back with `ip -j`. */
import { describe, it } from 'vitest';
import { createHostNetwork } from '@flannel-ts/host-net';
import { backendContractCases, createContractNamespace } from '@flannel-ts/testkit';
import { CONTRACT_NETWORK, vxlanTarget } from './contract-target.js';

const target = vxlanTarget(async () => {
  const ns = await createContractNamespace();
  return { host: createHostNetwork({ netns: ns.name, confineRoutesTo: [CONTRACT_NETWORK.ipv4!.network] }), [Symbol.asyncDispose]: () => ns[Symbol.asyncDispose]() };
});

describe('vxlan keeps the backend contract (namespace)', () => {
  for (const c of backendContractCases(target, { observable: true })) it(c.name, c.run);
});
