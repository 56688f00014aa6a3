/**
 * The names of the backends this build runs, importable without loading the backends themselves (help text and
 * shell completion need the names, not the TUN or netlink code). A test checks it against BACKENDS.
 */
export const BACKEND_TYPES = ['alloc', 'udp', 'vxlan', 'host-gw'] as const;

export type BackendType = (typeof BACKEND_TYPES)[number];

/** Every backend type flannel knows; the ones not in BACKEND_TYPES are not built here. */
export const FLANNEL_BACKEND_TYPES: readonly string[] = ['alloc', 'extension', 'host-gw', 'ipip', 'ipsec', 'tencent-vpc', 'udp', 'vxlan', 'wireguard'];
