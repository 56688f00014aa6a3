/** The backend contract (testkit) in a namespace: eth0 is a veth at 192.0.2.5/24, routes read back with `ip -j`. */
import { describe, it } from 'vitest';
import { createHostNetwork } from '@flannel-ts/host-net';
import { backendContractCases, createContractNamespace } from '@flannel-ts/testkit';
import { hostGwTarget } from './contract-target.js';
import { NETWORK } from './leases.js';

const target = hostGwTarget(async () => {
  const ns = await createContractNamespace();
  return { host: createHostNetwork({ netns: ns.name, confineRoutesTo: [NETWORK.ipv4!.network] }), [Symbol.asyncDispose]: () => ns[Symbol.asyncDispose]() };
});

describe('host-gw keeps the backend contract (namespace)', () => {
  for (const c of backendContractCases(target, { observable: true })) it(c.name, c.run);
});
