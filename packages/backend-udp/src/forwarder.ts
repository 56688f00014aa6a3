/**
 * The packet loop between the TUN device and the UDP socket (flannel's proxy.c, in the same shape): a packet read
 * from the TUN goes, as one datagram holding exactly the raw IPv4 packet, to the peer whose subnet holds its
 * destination; a datagram from a known peer is written to the TUN. TTL is decremented both ways.
 *
 * The hot path does no logging and no awaiting, allocates only what Node's reads allocate, and touches the
 * control plane only through the PeerTable (setPeer/deletePeer replace entries in place).
 */
import { createSocket, type Socket } from 'node:dgram';
import { buildNetUnreachable, decrementTtl, destination, IPV4_HEADER_MIN, mayAnswerWithIcmpError } from './packet.js';
import { PeerTable } from './peer-table.js';
import type { TunDevice } from './tun.js';

export interface ForwarderStats {
  tunPackets: number;
  tunBytes: number;
  udpPacketsSent: number;
  udpPacketsReceived: number;
  udpBytesReceived: number;
  tunWrites: number;
  dropRunt: number;
  dropNotIPv4: number;
  dropNoPeer: number;
  dropTtlExpired: number;
  dropUnknownSender: number;
  dropTunWriteFailed: number;
  icmpUnreachableSent: number;
}

export interface ForwarderOptions {
  readonly tun: TunDevice;
  /** Local address and port the UDP socket binds to (flannel binds the interface address). */
  readonly bindAddress: string;
  readonly port: number;
  /** Source address of ICMP errors (see icmpSourceAddress); settable once the lease is known. */
  readonly tunAddress?: number;
  readonly socketBufferBytes?: number;
}

export interface Forwarder extends AsyncDisposable {
  readonly peers: PeerTable;
  setTunAddress(address: number): void;
  readonly stats: Readonly<ForwarderStats>;
  readonly port: number;
}

export async function startForwarder(options: ForwarderOptions): Promise<Forwarder> {
  const { tun } = options;
  const peers = new PeerTable();
  let tunAddress = options.tunAddress ?? 0;
  const stats: ForwarderStats = {
    tunPackets: 0,
    tunBytes: 0,
    udpPacketsSent: 0,
    udpPacketsReceived: 0,
    udpBytesReceived: 0,
    tunWrites: 0,
    dropRunt: 0,
    dropNotIPv4: 0,
    dropNoPeer: 0,
    dropTtlExpired: 0,
    dropUnknownSender: 0,
    dropTunWriteFailed: 0,
    icmpUnreachableSent: 0,
  };
  const socket: Socket = createSocket({ type: 'udp4', reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port, options.bindAddress, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const bufferBytes = options.socketBufferBytes ?? 4 * 1024 * 1024;
  try {
    socket.setRecvBufferSize(bufferBytes);
    socket.setSendBufferSize(bufferBytes);
  } catch {
    // Capped by net.core.[rw]mem_max: the defaults still work.
  }
  socket.on('error', () => undefined);

  tun.read((packet) => {
    stats.tunPackets++;
    stats.tunBytes += packet.length;
    if (packet.length < IPV4_HEADER_MIN) {
      stats.dropRunt++;
      return;
    }
    if (packet[0]! >> 4 !== 4) {
      stats.dropNotIPv4++;
      return;
    }
    const route = peers.lookup(destination(packet));
    if (!route) {
      stats.dropNoPeer++;
      if (mayAnswerWithIcmpError(packet)) {
        if (tun.write(buildNetUnreachable(packet, tunAddress))) stats.icmpUnreachableSent++;
      }
      return;
    }
    if (!decrementTtl(packet)) {
      stats.dropTtlExpired++;
      return;
    }
    stats.udpPacketsSent++;
    socket.send(packet, route.port, route.address);
  });

  socket.on('message', (packet, sender) => {
    stats.udpPacketsReceived++;
    stats.udpBytesReceived += packet.length;
    if (!peers.isKnownSender(sender.address)) {
      stats.dropUnknownSender++;
      return;
    }
    if (packet.length < IPV4_HEADER_MIN) {
      stats.dropRunt++;
      return;
    }
    if (packet[0]! >> 4 !== 4) {
      stats.dropNotIPv4++;
      return;
    }
    if (!decrementTtl(packet)) {
      stats.dropTtlExpired++;
      return;
    }
    if (tun.write(packet)) stats.tunWrites++;
    else stats.dropTunWriteFailed++;
  });

  return {
    peers,
    stats,
    setTunAddress(address) {
      tunAddress = address;
    },
    port: socket.address().port,
    async [Symbol.asyncDispose]() {
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      tun.close();
    },
  };
}
