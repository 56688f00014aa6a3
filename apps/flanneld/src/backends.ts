/**
 * The backends this build of flanneld can run, looked up by the config's `Backend.Type` (lower-cased). An explicit
 * map: nothing registers itself at import time.
 */
import { hostGwBackend } from '@flannel-ts/backend-host-gw';
import { udpBackend } from '@flannel-ts/backend-udp';
import { vxlanBackend } from '@flannel-ts/backend-vxlan';
import { ConfigError, type BackendFactory } from '@flannel-ts/core';

/** flannel's `alloc`: a subnet lease and subnet.env, no data path (flannel-compat.md §5.6). */
export const allocBackend: BackendFactory<Record<string, never>> = {
  type: 'alloc',
  parseConfig: () => ({}),
  create: (_config, deps) => ({
    type: 'alloc',
    prepare: async () => ({ attrs: {}, mtu: deps.externalInterface.mtu }),
    attach: async () => undefined,
    apply: async () => undefined,
    resync: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined,
  }),
};

export const BACKENDS: Readonly<Record<string, BackendFactory<unknown>>> = {
  alloc: allocBackend as BackendFactory<unknown>,
  udp: udpBackend as BackendFactory<unknown>,
  vxlan: vxlanBackend as BackendFactory<unknown>,
  'host-gw': hostGwBackend as BackendFactory<unknown>,
};

/** Every backend type flannel knows; the ones not in BACKENDS are not built yet. */
const FLANNEL_BACKEND_TYPES = ['alloc', 'extension', 'host-gw', 'ipip', 'ipsec', 'tencent-vpc', 'udp', 'vxlan', 'wireguard'];

export function backendFactory(type: string, backends = BACKENDS): BackendFactory<unknown> {
  const factory = backends[type];
  if (factory) return factory;
  const supported = Object.keys(backends).join(', ');
  if (FLANNEL_BACKEND_TYPES.includes(type)) {
    throw new ConfigError(
      'Backend.Type',
      `backend type "${type}" is not supported by this build of flanneld yet (supported: ${supported}): change Backend.Type in the network config, e.g. flannelctl config set <network> --backend ${Object.keys(backends)[0]}`,
    );
  }
  throw new ConfigError('Backend.Type', `unknown backend type: "${type}" (supported: ${supported}): fix Backend.Type in the network config`);
}
