/**
 * IPv4 packet surgery for the forwarding path, done in place on the packet buffer (no allocation):
 * TTL decrement with an incremental checksum update (RFC 1624) and the ICMP "net unreachable" flannel's C proxy
 * sends back for a destination no peer owns.
 */

export const IPV4_HEADER_MIN = 20;
export const PROTO_ICMP = 1;

/** Destination address of an IPv4 packet as an unsigned 32-bit number. */
export function destination(packet: Buffer): number {
  return packet.readUInt32BE(16);
}

/**
 * Decrements the TTL and patches the header checksum. Returns false (packet must be dropped) when the TTL was
 * already 0 or 1, as a router would.
 */
export function decrementTtl(packet: Buffer): boolean {
  const ttl = packet[8]!;
  if (ttl <= 1) return false;
  packet[8] = ttl - 1;
  // HC' = ~(~HC + ~m + m') with m = the 16-bit word holding TTL (TTL<<8 | protocol); only the high byte changes,
  // so ~m + m' = 0xfeff (i.e. -0x0100 in one's complement).
  let sum = (~packet.readUInt16BE(10) & 0xffff) + 0xfeff;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  packet.writeUInt16BE(~sum & 0xffff, 10);
  return true;
}

/** True for a fragment other than the first (its offset is non-zero): no ICMP error may be sent for it. */
export function isNonFirstFragment(packet: Buffer): boolean {
  return (packet.readUInt16BE(6) & 0x1fff) !== 0;
}

export function internetChecksum(buffer: Buffer, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i + 1 < end; i += 2) sum += buffer.readUInt16BE(i);
  if ((end - start) % 2 === 1) sum += buffer[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Builds ICMP destination unreachable / net unreachable (type 3 code 0) for `original`, from `source`, TTL 8,
 * quoting the original header and the first 8 bytes of its payload (as flannel's proxy does).
 */
export function buildNetUnreachable(original: Buffer, source: number): Buffer {
  const headerLength = (original[0]! & 0x0f) * 4;
  const quoted = Math.min(original.length, headerLength + 8);
  const packet = Buffer.alloc(IPV4_HEADER_MIN + 8 + quoted);
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet[8] = 8; // TTL
  packet[9] = PROTO_ICMP;
  packet.writeUInt32BE(source, 12);
  packet.writeUInt32BE(original.readUInt32BE(12), 16); // back to the sender
  packet.writeUInt16BE(internetChecksum(packet, 0, IPV4_HEADER_MIN), 10);
  packet[20] = 3; // destination unreachable
  packet[21] = 0; // net unreachable
  original.copy(packet, 28, 0, quoted);
  packet.writeUInt16BE(internetChecksum(packet, 20, packet.length), 22);
  return packet;
}

/** ICMP error types (unreachable, source quench, redirect, time exceeded, parameter problem). */
const ICMP_ERROR_TYPES = new Set([3, 4, 5, 11, 12]);

/**
 * Whether an ICMP error may be sent about this packet (RFC 1122 3.2.2): not for ICMP errors and not for
 * fragments other than the first. flannel's proxy skips every ICMP packet, so a ping to a subnet no host holds
 * just times out; we answer echo requests too.
 */
export function mayAnswerWithIcmpError(packet: Buffer): boolean {
  if (isNonFirstFragment(packet)) return false;
  if (packet[9] !== PROTO_ICMP) return true;
  const headerLength = (packet[0]! & 0x0f) * 4;
  return packet.length > headerLength && !ICMP_ERROR_TYPES.has(packet[headerLength]!);
}
