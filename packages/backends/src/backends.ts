/**
 * The backends this build can run, looked up by the config's `Backend.Type` (lower-cased). An explicit map: nothing
 * registers itself at import time. flanneld starts the backend through checkBackendConfig and flannelctl validates
 * a config with the same function, so a config flannelctl writes is one flanneld accepts.
 */
import { hostGwBackend } from '@flannel-ts/backend-host-gw';
import { udpBackend } from '@flannel-ts/backend-udp';
import { vxlanBackend } from '@flannel-ts/backend-vxlan';
import { ConfigError, backendOptionFields, type BackendFactory, type NetworkConfig } from '@flannel-ts/core';
import { BACKEND_TYPES, FLANNEL_BACKEND_TYPES, type BackendType } from './names.js';

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

export const BACKENDS: Readonly<Record<BackendType, BackendFactory<unknown>>> = {
  alloc: allocBackend as BackendFactory<unknown>,
  udp: udpBackend as BackendFactory<unknown>,
  vxlan: vxlanBackend as BackendFactory<unknown>,
  'host-gw': hostGwBackend as BackendFactory<unknown>,
};

export function backendFactory(type: string, backends: Readonly<Record<string, BackendFactory<unknown>>> = BACKENDS): BackendFactory<unknown> {
  const factory = backends[type];
  if (factory) return factory;
  const supported = Object.keys(backends).join(', ');
  if (FLANNEL_BACKEND_TYPES.includes(type)) {
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
export function checkBackendConfig(network: NetworkConfig, backends: Readonly<Record<string, BackendFactory<unknown>>> = BACKENDS): CheckedBackend {
  const factory = backendFactory(network.backendType, backends);
  return { factory, config: factory.parseConfig(network.backend) };
}
