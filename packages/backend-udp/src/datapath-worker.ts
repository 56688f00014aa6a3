/**
 * One direction of the udp data path, in its own thread, as a tight syscall loop (flannel's proxy.c, in the same
 * shape): poll, then drain up to a batch of packets with read/recvfrom and pass each on with sendto/write.
 * No logging, no allocation per forwarded packet, no promise: the control plane reaches the loop only through
 * messages (peer added/removed) picked up between batches.
 *
 *   tx: TUN -> UDP   read a packet, find the peer owning its destination, decrement TTL, sendto the peer
 *   rx: UDP -> TUN   recvfrom a datagram, accept it only from a known peer, with an inner source inside a subnet
 *                    that peer owns and an inner destination inside this host's subnet, decrement TTL, write it
 *                    to the TUN (so no host can inject packets with another host's addresses, or aim at a third)
 */
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { EAGAIN, EINTR, MSG_DONTWAIT, POLLIN, loadLibc, sockaddrIn } from './libc.js';
import { buildNetUnreachable, decrementTtl, IPV4_HEADER_MIN, mayAnswerWithIcmpError } from './packet.js';
import { PrefixTable, prefixMask } from './peer-table.js';
import { STAT_INDEX, STAT_NAMES } from './stats.js';

export type ControlMessage =
  | { readonly type: 'set'; readonly network: number; readonly prefixLength: number; readonly address: number; readonly port: number }
  | { readonly type: 'delete'; readonly network: number; readonly prefixLength: number }
  | { readonly type: 'clear' }
  | { readonly type: 'icmp-source'; readonly address: number }
  | { readonly type: 'own-subnet'; readonly network: number; readonly prefixLength: number }
  | { readonly type: 'stop' }
  /** Several of the above, applied in order between two packets. */
  | { readonly type: 'batch'; readonly messages: readonly ControlMessage[] };

export interface WorkerInit {
  readonly role: 'tx' | 'rx';
  readonly tunFd: number;
  readonly udpFd: number;
  readonly counters: SharedArrayBuffer;
  readonly control: MessagePort;
  /** Bumped by the main thread after each control message, so the loop only drains the port when needed. */
  readonly generation: SharedArrayBuffer;
}

const BATCH = 256;
const POLL_TIMEOUT_MS = 100;
const BUFFER_BYTES = 65536;

interface Route {
  readonly sockaddr: Buffer;
  readonly address: number;
}

const init = workerData as WorkerInit;
const libc = loadLibc();
// This worker's own bank of counters (see stats.ts).
const counters = new Float64Array(init.counters, (init.role === 'tx' ? 0 : STAT_NAMES.length) * Float64Array.BYTES_PER_ELEMENT, STAT_NAMES.length);
const S = STAT_INDEX;

/** Peer subnets and their senders (public IPs, host-order numbers): the table the forwarder's PeerTable mirrors. */
const routes = new PrefixTable<Route, number>((route) => route.address);
let icmpSource = 0;
/** This host's subnet: the only inner destination accepted from peers. Nothing is accepted before it is known. */
let ownNetwork = 0;
let ownMask = 0xffffffff;
let ownKnown = false;
let running = true;

function handleControl(message: ControlMessage): void {
  switch (message.type) {
    case 'set':
      routes.set(message.network, message.prefixLength, { sockaddr: sockaddrIn(message.address, message.port), address: message.address });
      break;
    case 'delete':
      routes.delete(message.network, message.prefixLength);
      break;
    case 'clear':
      routes.clear();
      break;
    case 'icmp-source':
      icmpSource = message.address;
      break;
    case 'own-subnet':
      ownMask = prefixMask(message.prefixLength);
      ownNetwork = (message.network & ownMask) >>> 0;
      ownKnown = true;
      break;
    case 'stop':
      running = false;
      break;
    case 'batch':
      for (const inner of message.messages) handleControl(inner);
      break;
  }
}

const generation = new Int32Array(init.generation);
let seenGeneration = 0;

function drainControl(): void {
  const current = Atomics.load(generation, 0);
  if (current === seenGeneration) return;
  seenGeneration = current;
  for (let entry = receiveMessageOnPort(init.control); entry; entry = receiveMessageOnPort(init.control)) handleControl(entry.message as ControlMessage);
}

const buffer = Buffer.allocUnsafeSlow(BUFFER_BYTES);
const pollFd = Buffer.alloc(8);
pollFd.writeInt32LE(init.role === 'tx' ? init.tunFd : init.udpFd, 0);
pollFd.writeInt16LE(POLLIN, 4);

function forwardFromTun(length: number): void {
  counters[S.tunPackets]!++;
  counters[S.tunBytes]! += length;
  if (length < IPV4_HEADER_MIN) return void counters[S.dropRunt]!++;
  if (buffer[0]! >> 4 !== 4) return void counters[S.dropNotIPv4]!++;
  const route = routes.lookup(buffer.readUInt32BE(16));
  if (!route) {
    counters[S.dropNoPeer]!++;
    const packet = buffer.subarray(0, length);
    if (mayAnswerWithIcmpError(packet)) {
      const icmp = buildNetUnreachable(packet, icmpSource);
      if (libc.write(init.tunFd, icmp, icmp.length) > 0) counters[S.icmpUnreachableSent]!++;
    }
    return;
  }
  if (!decrementTtl(buffer)) return void counters[S.dropTtlExpired]!++;
  if (libc.sendto(init.udpFd, buffer, length, 0, route.sockaddr, 16) < 0) counters[S.dropUdpSendFailed]!++;
  else counters[S.udpPacketsSent]!++;
}

const senderAddress = Buffer.alloc(16);
const senderLength = Buffer.alloc(4);

function forwardFromUdp(length: number): void {
  counters[S.udpPacketsReceived]!++;
  counters[S.udpBytesReceived]! += length;
  const sender = senderAddress.readUInt32BE(4);
  if (!routes.isKnownSender(sender)) return void counters[S.dropUnknownSender]!++;
  if (length < IPV4_HEADER_MIN) return void counters[S.dropRunt]!++;
  if (buffer[0]! >> 4 !== 4) return void counters[S.dropNotIPv4]!++;
  // The inner source must belong to the sending peer's own subnet, the inner destination to ours.
  if (routes.lookup(buffer.readUInt32BE(12))?.address !== sender) return void counters[S.dropSpoofedSource]!++;
  if (!ownKnown || ((buffer.readUInt32BE(16) & ownMask) >>> 0) !== ownNetwork) return void counters[S.dropWrongDestination]!++;
  if (!decrementTtl(buffer)) return void counters[S.dropTtlExpired]!++;
  if (libc.write(init.tunFd, buffer, length) < 0) counters[S.dropTunWriteFailed]!++;
  else counters[S.tunWrites]!++;
}

while (running) {
  drainControl();
  const ready = libc.poll(pollFd, 1, POLL_TIMEOUT_MS);
  if (ready <= 0) continue;
  // Peer changes posted while we slept apply to the packets that woke us.
  drainControl();
  for (let i = 0; i < BATCH && running; i++) {
    let length: number;
    if (init.role === 'tx') {
      length = libc.read(init.tunFd, buffer, BUFFER_BYTES);
    } else {
      senderLength.writeUInt32LE(16, 0);
      length = libc.recvfrom(init.udpFd, buffer, BUFFER_BYTES, MSG_DONTWAIT, senderAddress, senderLength);
    }
    if (length < 0) {
      const errno = libc.errno();
      if (errno === EAGAIN || errno === EINTR) break;
      break;
    }
    if (init.role === 'tx') forwardFromTun(length);
    else forwardFromUdp(length);
  }
}
init.control.close();
