/**
 * The backends this build of flanneld can run, looked up by the config's `Backend.Type` (lower-cased). An explicit
 * map: nothing registers itself at import time. Each entry loads its backend on demand, so flanneld loads only the
 * backend it runs (the udp backend brings koffi and worker threads, vxlan and host-gw their planners).
 */
import { ConfigError, type BackendFactory } from '@flannel-ts/core';

/** Loads one backend's factory. */
export type BackendLoader = () => Promise<BackendFactory<unknown>>;

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

export const BACKENDS: Readonly<Record<string, BackendLoader>> = {
  alloc: async () => allocBackend as BackendFactory<unknown>,
  udp: async () => (await import('@flannel-ts/backend-udp')).udpBackend as BackendFactory<unknown>,
  vxlan: async () => (await import('@flannel-ts/backend-vxlan')).vxlanBackend as BackendFactory<unknown>,
  'host-gw': async () => (await import('@flannel-ts/backend-host-gw')).hostGwBackend as BackendFactory<unknown>,
};

/** Every backend type flannel knows; the ones not in BACKENDS are not built yet. */
const FLANNEL_BACKEND_TYPES = ['alloc', 'extension', 'host-gw', 'ipip', 'ipsec', 'tencent-vpc', 'udp', 'vxlan', 'wireguard'];

export async function backendFactory(type: string, backends = BACKENDS): Promise<BackendFactory<unknown>> {
  const load = backends[type];
  if (load) return load();
  const supported = Object.keys(backends).join(', ');
  if (FLANNEL_BACKEND_TYPES.includes(type)) {
    throw new ConfigError(
      'Backend.Type',
      `backend type "${type}" is not supported by this build of flanneld yet (supported: ${supported}): change Backend.Type in the network config, e.g. flannelctl config set <network> --backend ${Object.keys(backends)[0]}`,
    );
  }
  throw new ConfigError('Backend.Type', `unknown backend type: "${type}" (supported: ${supported}): fix Backend.Type in the network config`);
}
