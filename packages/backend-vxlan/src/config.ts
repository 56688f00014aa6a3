import { ConfigError, backendOptionFields, goJsonStringify } from '@flannel-ts/core';

/** flannel's vxlan options (flannel-compat.md §2.5), with its defaults. */
export interface VxlanConfig {
  readonly vni: number;
  /** UDP port; flannel's 0 means the kernel default, 8472. */
  readonly port: number;
  readonly gbp: boolean;
  readonly learning: boolean;
  readonly directRouting: boolean;
  /** Underlay MTU to derive the device MTU from; undefined = the external interface's. */
  readonly mtu: number | undefined;
}

export const KERNEL_DEFAULT_VXLAN_PORT = 8472;

const KEYS = ['VNI', 'Port', 'GBP', 'Learning', 'DirectRouting', 'MTU'] as const;

export function parseVxlanConfig(backend: Readonly<Record<string, unknown>>): VxlanConfig {
  // MacPrefix and Name are flannel's Windows vxlan options, ignored on Linux: a mixed cluster's config stays valid.
  const fields = backendOptionFields(backend, 'vxlan', KEYS, ['MacPrefix', 'Name']);
  const int = (name: (typeof KEYS)[number], fallback: number, min: number, max: number): number => {
    const value = fields[name] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`Backend.${name}`, `error decoding VXLAN backend config: Backend.${name} must be a whole number from ${min} to ${max}, got ${goJsonStringify(value)}`);
    }
    return value;
  };
  const bool = (name: (typeof KEYS)[number]): boolean => {
    const value = fields[name] ?? false;
    if (typeof value !== 'boolean') throw new ConfigError(`Backend.${name}`, `error decoding VXLAN backend config: Backend.${name} must be true or false, got ${goJsonStringify(value)}`);
    return value;
  };
  const port = int('Port', 0, 0, 65535);
  const mtu = fields.MTU === undefined ? undefined : int('MTU', 0, 68 + 50, 65535);
  return {
    vni: int('VNI', 1, 0, 16_777_215),
    port: port === 0 ? KERNEL_DEFAULT_VXLAN_PORT : port,
    gbp: bool('GBP'),
    learning: bool('Learning'),
    directRouting: bool('DirectRouting'),
    mtu,
  };
}
