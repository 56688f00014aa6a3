/**
 * The vxlan device as pure decisions: its name and MTU, whether an existing link is one the backend can keep, the
 * changes that (re)create it, and the address changes that leave exactly the own subnet's address on it. prepare,
 * attach and inspect (so resync and flannelctl doctor) all decide through these.
 */
import { IpNet, type AddressEntry, type HostChange, type IpFamily, type Lease, type LinkEntry, type NetworkConfig } from '@flannel-ts/core';
import type { VxlanConfig } from './config.js';

/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
export const VXLAN_ENCAP_OVERHEAD = 50;
/** The same over an IPv6 underlay (outer header 40): the kernel refuses a larger MTU on flannel-v6. */
export const VXLAN6_ENCAP_OVERHEAD = 70;

/** The families the network enables, each with a device of its own. */
export function familiesOf(network: Pick<NetworkConfig, 'ipv4' | 'ipv6'>): IpFamily[] {
  return [...(network.ipv4 ? [4 as const] : []), ...(network.ipv6 ? [6 as const] : [])];
}

/** flannel.<VNI> for IPv4, flannel-v6.<VNI> for IPv6. */
export function vxlanDeviceName(family: IpFamily, vni: number): string {
  return family === 4 ? `flannel.${vni}` : `flannel-v6.${vni}`;
}

/** The device MTU: the underlay's (Backend.MTU, else the interface's) less the encapsulation of the family. */
export function vxlanDeviceMtu(family: IpFamily, config: Pick<VxlanConfig, 'mtu'>, interfaceMtu: number): number {
  return (config.mtu ?? interfaceMtu) - (family === 4 ? VXLAN_ENCAP_OVERHEAD : VXLAN6_ENCAP_OVERHEAD);
}

/** Why an existing link cannot serve as the device (another kind, VNI, port, GBP, learning or underlay), or undefined. */
export function incompatibility(link: Pick<LinkEntry, 'kind' | 'vxlan'>, config: VxlanConfig, externalDevice: string): string | undefined {
  const v = link.vxlan;
  if (link.kind !== 'vxlan' || v === undefined) return `it is a ${link.kind ?? 'plain'} device, not vxlan`;
  if (v.vni !== config.vni) return `VNI ${v.vni}, not ${config.vni}`;
  if (v.port !== config.port) return `UDP port ${v.port}, not ${config.port}`;
  if (v.gbp !== config.gbp) return `gbp ${v.gbp ? 'on' : 'off'}, not ${config.gbp ? 'on' : 'off'}`;
  if (v.learning !== config.learning) return `learning ${v.learning ? 'on' : 'off'}, not ${config.learning ? 'on' : 'off'}`;
  if (v.dev !== undefined && v.dev !== externalDevice) return `bound to ${v.dev}, not ${externalDevice}`;
  return undefined;
}

export interface DeviceSpec {
  readonly name: string;
  readonly mtu: number;
  /** Source address of the encapsulated packets. */
  readonly local: string | undefined;
  readonly externalDevice: string;
  /** The MAC to create it with (the one published in the lease); undefined: the kernel picks one. */
  readonly mac: string | undefined;
}

/** Creates the device (deleting an incompatible `existing` one first) and sets it up. */
export function createDeviceChanges(spec: DeviceSpec, config: VxlanConfig, existing: boolean): HostChange[] {
  return [
    ...(existing ? [{ kind: 'link-delete', name: spec.name } as const] : []),
    { kind: 'vxlan', name: spec.name, vni: config.vni, local: spec.local, dev: spec.externalDevice, port: config.port, learning: config.learning, gbp: config.gbp, mtu: spec.mtu, address: spec.mac },
    { kind: 'link', name: spec.name, up: true },
  ];
}

/** The device's own address: the own subnet's network address, as a /32 (/128); undefined without such a subnet. */
export function vxlanDeviceAddress(own: Pick<Lease, 'subnet' | 'ipv6Subnet'> | undefined, family: IpFamily): string | undefined {
  const subnet = family === 4 ? own?.subnet : own?.ipv6Subnet;
  return subnet ? `${subnet.addressText()}/${family === 4 ? 32 : 128}` : undefined;
}

/** Whether an address (or CIDR) lies inside the flannel network of its family. */
export function isInside(network: IpNet, cidrOrAddress: string): boolean {
  const address = cidrOrAddress.split('/')[0]!;
  const net = IpNet.parse(`${address}/${network.family === 4 ? 32 : 128}`, network.family);
  return net !== undefined && network.contains(net);
}

/**
 * Exactly one address from the flannel network on the device: the own subnet's network address (`ownAddress`,
 * a /32 or /128). Nothing when it is in place: a needless replace is a kernel event, which would make the next
 * periodic reconcile read the kernel again.
 */
export function addressChanges(device: string, family: IpFamily, network: IpNet, ownAddress: string, addresses: readonly AddressEntry[]): HostChange[] {
  const changes: HostChange[] = [];
  let present = false;
  for (const a of addresses) {
    if (a.family !== family) continue;
    if (a.cidr === ownAddress) present = true;
    else if (isInside(network, a.cidr)) changes.push({ kind: 'address', action: 'delete', dev: device, cidr: a.cidr });
  }
  if (!present) changes.push({ kind: 'address', action: 'replace', dev: device, cidr: ownAddress });
  return changes;
}
