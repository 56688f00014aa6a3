/**
 * flannel's udp backend (flannel-compat.md §5.1), wire-compatible: TUN `flannel0` addressed
 * `<own subnet network address>/32` with MTU = external MTU - 28 and a route for the whole Network; a UDP socket on
 * the external interface address and `Port` (default 8285); each datagram is exactly one raw IPv4 packet, sent to
 * the peer's PublicIP on the same port. The lease carries only PublicIP (no BackendType), as flannel writes it.
 *
 * Beyond flannel: datagrams from addresses that are not a peer's PublicIP, whose inner source is not in that peer's
 * subnet, or whose inner destination is not in this host's subnet are dropped and counted by reason.
 */
import { ConfigError, FlannelError, backendOptionFields, goJsonStringify, parseIPv4, type IpNet, type Backend, type BackendDeps, type BackendFactory, type Lease, type LeaseBatch } from '@flannel-ts/core';
import { startForwarder, type Forwarder } from './forwarder.js';
import { openTun } from './tun.js';

export const DEFAULT_UDP_PORT = 8285;
/** IPv4 header (20) + UDP header (8). */
export const UDP_ENCAP_OVERHEAD = 28;

export interface UdpConfig {
  readonly port: number;
  /** TUN name; `flannel%d` lets the kernel pick flannel0, flannel1, ... as flannel does. */
  readonly deviceName: string;
}

export const udpBackend: BackendFactory<UdpConfig> = {
  type: 'udp',
  parseConfig(backend) {
    const port = backendOptionFields(backend, 'udp', ['Port']).Port ?? DEFAULT_UDP_PORT;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConfigError('Backend.Port', `Backend.Port must be a UDP port number from 1 to 65535, got ${goJsonStringify(port)}; flannel's default is 8285`);
    }
    return { port, deviceName: 'flannel%d' };
  },
  create: (config, deps) => new UdpBackend(config, deps),
};

/**
 * The source of the ICMP errors the forwarder writes into the TUN. flannel uses the TUN's own address, which the
 * kernel drops as a martian (a packet arriving with a local source), so the sender never hears of it. We use an
 * address of the flannel network that is not local and routes back through flannel0: the network address, or
 * when the own subnet holds it, the next subnet's.
 */
export function icmpSourceAddress(network: IpNet, own: IpNet): bigint {
  return own.containsAddress(network.first) ? own.next().first : network.first;
}

class UdpBackend implements Backend {
  readonly type = 'udp';
  readonly #config: UdpConfig;
  readonly #deps: BackendDeps;
  #forwarder: Forwarder | undefined;
  #device: string | undefined;
  #address: string | undefined;
  /**
   * The leases the peer table was last built from (by resync, then kept up by apply): a periodic resync with the
   * same leases has nothing to change, and skips re-sending every peer to both data-path workers.
   */
  readonly #programmed = new Map<string, Lease>();

  constructor(config: UdpConfig, deps: BackendDeps) {
    this.#config = config;
    this.#deps = deps;
  }

  /** Data-path counters (packets, bytes, drops by reason). */
  metrics() {
    return this.#forwarder?.stats();
  }

  async prepare() {
    const { network, externalInterface: ext, log } = this.#deps;
    if (!network.ipv4) throw new ConfigError('EnableIPv4', 'the udp backend carries IPv4 only: enable IPv4 (set Network) or pick vxlan for IPv6');
    if (!ext.ipv4) throw new FlannelError('INTERFACE_NOT_FOUND', `interface ${ext.name} has no IPv4 address for the udp backend to bind`);
    const mtu = ext.mtu - UDP_ENCAP_OVERHEAD;
    const tun = openTun(this.#config.deviceName);
    this.#device = tun.name;
    try {
      this.#forwarder = await startForwarder({ tun, bindAddress: ext.ipv4, port: this.#config.port });
    } catch (err) {
      tun.close();
      throw err;
    }
    await this.#deps.host.apply([{ kind: 'link', name: tun.name, mtu, up: true }]);
    log.info('udp backend ready', { device: tun.name, mtu, listen: `${ext.ipv4}:${this.#config.port}` });
    return { attrs: {}, mtu };
  }

  async attach(own: Lease) {
    const device = this.#requireDevice();
    const { network, host } = this.#deps;
    if (!own.subnet || !network.ipv4) return;
    const address = `${own.subnet.addressText()}/32`;
    const changes = [];
    if (this.#address && this.#address !== address) changes.push({ kind: 'address', action: 'delete', dev: device, cidr: this.#address } as const);
    changes.push(
      { kind: 'address', action: 'replace', dev: device, cidr: address } as const,
      { kind: 'route', action: 'replace', dst: network.ipv4.network.toString(), dev: device, scope: 'global' } as const,
    );
    await host.apply(changes);
    this.#address = address;
    this.#requireForwarder().setIcmpSource(Number(icmpSourceAddress(network.ipv4.network, own.subnet)));
    this.#requireForwarder().setOwnSubnet(own.subnet);
  }

  async apply(batch: LeaseBatch) {
    const forwarder = this.#requireForwarder();
    for (const event of batch) {
      if (event.type === 'removed') this.#programmed.delete(event.lease.key);
      else this.#programmed.set(event.lease.key, event.lease);
      const subnet = event.lease.subnet;
      if (!subnet) continue;
      if (event.type === 'removed') forwarder.deletePeer(subnet);
      else if (this.#usable(event.lease)) forwarder.setPeer(subnet, { address: event.lease.attrs.publicIP, port: this.#config.port });
    }
  }

  /**
   * Brings the forwarder's table to exactly these peers by difference: unchanged peers are not touched, so
   * packets keep flowing while a resync runs (clearing and refilling would leave the workers without routes).
   */
  async resync(leases: readonly Lease[]) {
    const forwarder = this.#requireForwarder();
    // Nothing changed since the last batch or resync: nothing to send (idle cost does not grow with the peers).
    if (leases.length === this.#programmed.size && leases.every((lease) => this.#programmed.get(lease.key) === lease)) return;
    this.#programmed.clear();
    for (const lease of leases) this.#programmed.set(lease.key, lease);
    const wanted = new Map<string, { subnet: IpNet; address: string }>();
    for (const lease of leases) if (lease.subnet && this.#usable(lease)) wanted.set(lease.subnet.toString(), { subnet: lease.subnet, address: lease.attrs.publicIP });
    for (const { subnet, route } of forwarder.peers.entries()) {
      const want = wanted.get(subnet.toString());
      if (!want) forwarder.deletePeer(subnet);
      else if (want.address === route.address && route.port === this.#config.port) wanted.delete(subnet.toString());
    }
    for (const { subnet, address } of wanted.values()) forwarder.setPeer(subnet, { address, port: this.#config.port });
  }

  async [Symbol.asyncDispose]() {
    // The TUN device (and its routes) go with the process, as with flannel's udp proxy.
    const stats = this.#forwarder?.stats();
    await this.#forwarder?.[Symbol.asyncDispose]();
    if (stats) this.#deps.log.info('udp data path counters', stats);
    this.#forwarder = undefined;
  }

  #usable(lease: Lease): boolean {
    const ok = parseIPv4(lease.attrs.publicIP) !== undefined && lease.attrs.publicIP !== '0.0.0.0';
    if (!ok) this.#deps.log.warn('ignoring peer without a public IPv4 address', { subnet: lease.key });
    return ok;
  }

  #requireForwarder(): Forwarder {
    if (!this.#forwarder) throw new FlannelError('USAGE', 'udp backend used before prepare()');
    return this.#forwarder;
  }

  #requireDevice(): string {
    if (!this.#device) throw new FlannelError('USAGE', 'udp backend used before prepare()');
    return this.#device;
  }
}
