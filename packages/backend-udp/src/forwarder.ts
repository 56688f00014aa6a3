/**
 * The udp data path: the TUN device and a UDP socket, moved between by two worker threads (one per direction,
 * see datapath-worker.ts), so the packet loop never waits on the control plane and uses both cores. The main
 * thread only opens the socket, starts the workers, and tells them about peers (the PeerTable here mirrors what
 * they hold, for inspection); counters live in shared memory.
 */
import { once } from 'node:events';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { FlannelError, type IpNet } from '@flannel-ts/core';
import type { ControlMessage, WorkerInit } from './datapath-worker.js';
import { AF_INET, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, SOL_SOCKET, SO_RCVBUF, SO_RCVBUFFORCE, SO_SNDBUF, SO_SNDBUFFORCE, ipv4ToNumber, loadLibc, sockaddrIn } from './libc.js';
import { PeerTable, type PeerRoute } from './peer-table.js';
import { STAT_BANKS, STAT_NAMES, readStats, type ForwarderStats } from './stats.js';
import type { TunDevice } from './tun.js';

export interface ForwarderOptions {
  readonly tun: TunDevice;
  /** Local address and port the UDP socket binds to (flannel binds the interface address). */
  readonly bindAddress: string;
  readonly port: number;
  readonly socketBufferBytes?: number;
  /** The compiled worker script (defaults to datapath-worker.js next to this module). */
  readonly workerUrl?: URL;
}

export interface Forwarder extends AsyncDisposable {
  /** What the workers route by (kept in step with them). */
  readonly peers: Pick<PeerTable, 'lookup' | 'entries' | 'isKnownSender' | 'size'>;
  readonly port: number;
  setPeer(subnet: IpNet, route: PeerRoute): void;
  deletePeer(subnet: IpNet): void;
  clearPeers(): void;
  /** Source address (host-order number) of the ICMP errors written into the TUN. */
  setIcmpSource(address: number): void;
  /** This host's subnet: datagrams whose inner destination lies elsewhere are dropped. */
  setOwnSubnet(subnet: IpNet): void;
  stats(): ForwarderStats;
}

function openUdpSocket(address: string, port: number, bufferBytes: number): number {
  const libc = loadLibc();
  const fd = libc.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new FlannelError('HOST_COMMAND_FAILED', `cannot create a UDP socket (errno ${libc.errno()})`);
  const size = Buffer.alloc(4);
  size.writeInt32LE(bufferBytes, 0);
  // Root may exceed net.core.[rw]mem_max (the *FORCE options); otherwise take what the limit allows.
  if (libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4) !== 0) libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4);
  if (libc.setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, size, 4) !== 0) libc.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, size, 4);
  if (libc.bind(fd, sockaddrIn(ipv4ToNumber(address), port), 16) !== 0) {
    const errno = libc.errno();
    libc.close(fd);
    const reason = errno === 98 ? 'address already in use: is another flanneld running?' : errno === 99 ? 'address not on this host' : `errno ${errno}`;
    throw new FlannelError('HOST_COMMAND_FAILED', `cannot bind UDP ${address}:${port} (${reason})`);
  }
  return fd;
}

/**
 * Each data-path worker is an isolate of its own: a V8 heap and a Node environment, about 9 MiB resident even
 * idle (measured on Node 20: two idle workers add 18 MiB to a process), which is the price of using both cores for
 * the two directions. Its loop allocates nothing per packet and holds only the peer table, so a small heap is
 * plenty: these caps keep the young generation (which V8 grows to 16 MiB under allocation) and the old one small,
 * about 1 MiB less per worker at rest and far less under a burst of control messages.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32, stackSizeMb: 1 } as const;

export async function startForwarder(options: ForwarderOptions): Promise<Forwarder> {
  const { tun } = options;
  const libc = loadLibc();
  const udpFd = openUdpSocket(options.bindAddress, options.port, options.socketBufferBytes ?? 4 * 1024 * 1024);
  const counters = new SharedArrayBuffer(STAT_BANKS * STAT_NAMES.length * Float64Array.BYTES_PER_ELEMENT);
  const peers = new PeerTable();
  const workerUrl = options.workerUrl ?? new URL('./datapath-worker.js', import.meta.url);

  const generation = new SharedArrayBuffer(4);
  const generationView = new Int32Array(generation);
  const workers: Array<{ worker: Worker; control: MessagePort }> = [];
  for (const role of ['tx', 'rx'] as const) {
    const channel = new MessageChannel();
    const init: WorkerInit = { role, tunFd: tun.fd, udpFd, counters, control: channel.port2, generation };
    const worker = new Worker(workerUrl, { workerData: init, transferList: [channel.port2], resourceLimits: WORKER_LIMITS });
    workers.push({ worker, control: channel.port1 });
  }
  await Promise.all(workers.map(({ worker }) => once(worker, 'online')));
  // Control messages of one tick (a whole batch of peer changes) go to each worker as one message, applied there
  // at once: one structured clone and one wake-up per batch instead of per peer.
  let pending: ControlMessage[] = [];
  const flush = () => {
    const messages = pending;
    pending = [];
    const message: ControlMessage = messages.length === 1 ? messages[0]! : { type: 'batch', messages };
    for (const { control } of workers) control.postMessage(message);
    Atomics.add(generationView, 0, 1);
  };
  const broadcast = (message: ControlMessage) => {
    if (pending.length === 0) queueMicrotask(flush);
    pending.push(message);
  };

  return {
    peers,
    port: options.port,
    setPeer(subnet, route) {
      peers.set(subnet, route);
      broadcast({ type: 'set', network: Number(subnet.first), prefixLength: subnet.prefixLength, address: ipv4ToNumber(route.address), port: route.port });
    },
    deletePeer(subnet) {
      if (peers.delete(subnet)) broadcast({ type: 'delete', network: Number(subnet.first), prefixLength: subnet.prefixLength });
    },
    clearPeers() {
      peers.clear();
      broadcast({ type: 'clear' });
    },
    setIcmpSource(address) {
      broadcast({ type: 'icmp-source', address });
    },
    setOwnSubnet(subnet) {
      broadcast({ type: 'own-subnet', network: Number(subnet.first), prefixLength: subnet.prefixLength });
    },
    stats: () => readStats(new Float64Array(counters)),
    async [Symbol.asyncDispose]() {
      broadcast({ type: 'stop' });
      await Promise.all(workers.filter(({ worker }) => worker.threadId >= 0).map(({ worker }) => once(worker, 'exit')));
      for (const { control } of workers) control.close();
      libc.close(udpFd);
      tun.close();
    },
  };
}
