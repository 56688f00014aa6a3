/**
 * The kernel entries the vxlan backend wants, as a pure function of the peer leases (flannel-compat.md §5.2):
 * for each vxlan peer, a permanent neighbour entry (peer subnet address -> peer VTEP MAC), an FDB entry (peer VTEP
 * MAC -> peer public IP) and an onlink route (peer subnet via the peer subnet address on the device); with
 * DirectRouting and the peer on the same L2 segment, a plain route via the peer's public IP instead.
 * IPv4 and IPv6 go through the same code, parameterised by family.
 */
import type { IpFamily, Lease, Logger } from '@flannel-ts/core';
import { isPlainObjectValue } from './util.js';
import { normalizeMac } from './mac.js';

export interface FamilyView {
  readonly family: IpFamily;
  /** The vxlan device of this family, e.g. flannel.1 / flannel-v6.1. */
  readonly device: string;
  /** Underlay device, for direct routes. */
  readonly externalDevice: string;
}

export interface DesiredState {
  /** peer subnet address -> VTEP MAC */
  readonly neighbours: ReadonlyMap<string, string>;
  /** VTEP MAC -> peer public IP */
  readonly fdb: ReadonlyMap<string, string>;
  /** destination subnet -> route */
  readonly routes: ReadonlyMap<string, DesiredRoute>;
}

export interface DesiredRoute {
  readonly dst: string;
  readonly via: string;
  /** undefined for a direct route (main table, resolved by the kernel). */
  readonly dev: string | undefined;
  readonly onlink: boolean;
}

export interface PeerEndpoint {
  readonly subnet: string;
  readonly subnetAddress: string;
  readonly publicIP: string;
  readonly vtepMac: string;
}

/** The peer's endpoint for a family, or a reason to skip the lease. */
export function peerEndpoint(lease: Lease, family: IpFamily): PeerEndpoint | string {
  if (lease.attrs.backendType !== 'vxlan') return `backend type ${lease.attrs.backendType ?? '(none)'} is not vxlan`;
  const subnet = family === 4 ? lease.subnet : lease.ipv6Subnet;
  const publicIP = family === 4 ? lease.attrs.publicIP : lease.attrs.publicIPv6;
  const data = family === 4 ? lease.attrs.backendData : lease.attrs.backendV6Data;
  if (!subnet) return `no IPv${family} subnet`;
  if (!publicIP || publicIP === '0.0.0.0') return `no public IPv${family} address`;
  if (!isPlainObjectValue(data)) return `BackendData${family === 6 ? 'V6' : ''} is not an object`;
  const macText = Object.entries(data).find(([key]) => key.toLowerCase() === 'vtepmac')?.[1];
  const vtepMac = typeof macText === 'string' ? normalizeMac(macText) : undefined;
  if (!vtepMac) return `VtepMAC ${JSON.stringify(macText ?? null)} is not a MAC address`;
  return { subnet: subnet.toString(), subnetAddress: subnet.addressText(), publicIP, vtepMac };
}

/** The kernel entries one peer lease calls for (a direct route, or neighbour + FDB entry + onlink route). */
export interface PeerEntries {
  readonly route: DesiredRoute;
  /** [peer subnet address, VTEP MAC]; absent for a direct route. */
  readonly neighbour?: readonly [string, string];
  /** [VTEP MAC, peer public IP]; absent for a direct route. */
  readonly fdb?: readonly [string, string];
}

/** What one lease contributes to the plan, or a reason to skip it. */
export function peerEntries(view: FamilyView, lease: Lease, isDirect: (publicIP: string) => boolean): PeerEntries | string {
  const endpoint = peerEndpoint(lease, view.family);
  if (typeof endpoint === 'string') return endpoint;
  if (isDirect(endpoint.publicIP)) return { route: { dst: endpoint.subnet, via: endpoint.publicIP, dev: undefined, onlink: false } };
  return {
    route: { dst: endpoint.subnet, via: endpoint.subnetAddress, dev: view.device, onlink: true },
    neighbour: [endpoint.subnetAddress, endpoint.vtepMac],
    fdb: [endpoint.vtepMac, endpoint.publicIP],
  };
}

export function planPeers(view: FamilyView, peers: Iterable<Lease>, options: { isDirect: (publicIP: string) => boolean; log?: Logger }): DesiredState {
  const neighbours = new Map<string, string>();
  const fdb = new Map<string, string>();
  const routes = new Map<string, DesiredRoute>();
  for (const lease of peers) {
    const entries = peerEntries(view, lease, options.isDirect);
    if (typeof entries === 'string') {
      options.log?.debug('ignoring lease', { subnet: lease.key, reason: entries });
      continue;
    }
    routes.set(entries.route.dst, entries.route);
    if (entries.neighbour) neighbours.set(entries.neighbour[0], entries.neighbour[1]);
    if (entries.fdb) fdb.set(entries.fdb[0], entries.fdb[1]);
  }
  return { neighbours, fdb, routes };
}

export const EMPTY_STATE: DesiredState = { neighbours: new Map(), fdb: new Map(), routes: new Map() };

/** planPeers with direct routes naming the underlay device explicitly: the form the kernel reports them in. */
export function planKernelState(view: FamilyView, peers: Iterable<Lease>, options: { isDirect: (publicIP: string) => boolean; log?: Logger }): DesiredState {
  const plan = planPeers(view, peers, options);
  const routes = new Map<string, DesiredRoute>();
  for (const [dst, route] of plan.routes) routes.set(dst, route.dev ? route : { ...route, dev: view.externalDevice });
  return { ...plan, routes };
}
