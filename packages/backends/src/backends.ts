/**
 * The backends this build can run, looked up by the config's `Backend.Type` (lower-cased). An explicit map: nothing
 * registers itself at import time. Each entry loads its backend on demand, so flanneld loads only the backend it runs
 * (the udp backend brings koffi and worker threads, vxlan and host-gw their planners). flanneld starts the backend
 * through checkBackendConfig and flannelctl validates a config with the same function, so a config flannelctl writes
 * is one flanneld accepts.
 */
import { ConfigError, backendOptionFields, type BackendFactory, type NetworkConfig } from '@flannel-ts/core';
import { BACKEND_TYPES, FLANNEL_BACKEND_TYPES, type BackendType } from './names.js';

/** Loads one backend's factory. */
export type BackendLoader = () => Promise<BackendFactory<unknown>>;

/** flannel's `alloc`: a subnet lease and subnet.env, no data path (flannel-compat.md §5.6). */
export const allocBackend: BackendFactory<Record<string, never>> = {
  type: 'alloc',
  parseConfig: (backend) => (backendOptionFields(backend, 'alloc', []), {}),
  create: (_config, deps) => ({
    type: 'alloc',
    prepare: async () => ({ attrs: {}, mtu: deps.externalInterface.mtu }),
    attach: async () => undefined,
    apply: async () => undefined,
    resync: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined,
  }),
};

export const BACKENDS: Readonly<Record<BackendType, BackendLoader>> = {
  alloc: async () => allocBackend as BackendFactory<unknown>,
  udp: async () => (await import('@flannel-ts/backend-udp')).udpBackend as BackendFactory<unknown>,
  vxlan: async () => (await import('@flannel-ts/backend-vxlan')).vxlanBackend as BackendFactory<unknown>,
  'host-gw': async () => (await import('@flannel-ts/backend-host-gw')).hostGwBackend as BackendFactory<unknown>,
};

export async function backendFactory(type: string, backends: Readonly<Record<string, BackendLoader>> = BACKENDS): Promise<BackendFactory<unknown>> {
  const load = backends[type];
  if (load) return load();
  const supported = Object.keys(backends).join(', ');
  if ((FLANNEL_BACKEND_TYPES as readonly string[]).includes(type)) {
    throw new ConfigError(
      'Backend.Type',
      `backend type "${type}" is not supported by this build of flanneld yet (supported: ${supported}): change Backend.Type in the network config, e.g. flannelctl config set <network> --backend ${BACKEND_TYPES[2]}`,
    );
  }
  throw new ConfigError('Backend.Type', `unknown backend type: "${type}" (supported: ${supported}): fix Backend.Type in the network config`);
}

export interface CheckedBackend {
  readonly factory: BackendFactory<unknown>;
  /** The backend's own config, defaults applied. */
  readonly config: unknown;
}

/** The backend type and its options, checked as flanneld checks them at start. Throws ConfigError. */
export async function checkBackendConfig(network: NetworkConfig, backends: Readonly<Record<string, BackendLoader>> = BACKENDS): Promise<CheckedBackend> {
  const factory = await backendFactory(network.backendType, backends);
  return { factory, config: factory.parseConfig(network.backend) };
}
