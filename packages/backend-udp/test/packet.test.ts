import { describe, expect, it } from 'vitest';
import { buildNetUnreachable, decrementTtl, internetChecksum } from '../src/packet.js';

/** A minimal valid IPv4/UDP packet with a correct header checksum. */
function packet(ttl: number, { src = '10.1.30.2', dst = '10.1.31.2', proto = 17, fragmentOffset = 0 } = {}): Buffer {
  const p = Buffer.alloc(36);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(fragmentOffset, 6);
  p[8] = ttl;
  p[9] = proto;
  src.split('.').forEach((o, i) => (p[12 + i] = Number(o)));
  dst.split('.').forEach((o, i) => (p[16 + i] = Number(o)));
  p.writeUInt16BE(internetChecksum(p, 0, 20), 10);
  return p;
}

describe('decrementTtl', () => {
  it('decrements and keeps the header checksum valid (RFC 1624)', () => {
    for (const ttl of [2, 64, 128, 255]) {
      const p = packet(ttl);
      expect(decrementTtl(p)).toBe(true);
      expect(p[8]).toBe(ttl - 1);
      expect(internetChecksum(p, 0, 20)).toBe(0); // a valid header sums to zero
    }
  });

  it('refuses to forward TTL 1 and 0', () => {
    expect(decrementTtl(packet(1))).toBe(false);
    expect(decrementTtl(packet(0))).toBe(false);
  });
});

describe('buildNetUnreachable', () => {
  it('sends ICMP type 3 code 0 back to the sender, quoting header + 8 bytes, TTL 8', () => {
    const original = packet(64);
    const icmp = buildNetUnreachable(original, 0x0a011e00);
    expect(icmp.length).toBe(20 + 8 + 28);
    expect(icmp[8]).toBe(8);
    expect(icmp[9]).toBe(1);
    expect([...icmp.subarray(12, 16)]).toEqual([10, 1, 30, 0]);
    expect([...icmp.subarray(16, 20)]).toEqual([10, 1, 30, 2]);
    expect([icmp[20], icmp[21]]).toEqual([3, 0]);
    expect(internetChecksum(icmp, 0, 20)).toBe(0);
    expect(internetChecksum(icmp, 20, icmp.length)).toBe(0);
    expect(icmp.subarray(28).equals(original.subarray(0, 28))).toBe(true);
  });
});

describe('mayAnswerWithIcmpError', () => {
  const withIcmpType = (type: number) => {
    const p = Buffer.alloc(28);
    p[0] = 0x45;
    p[9] = 1;
    p[20] = type;
    return p;
  };
  it('answers UDP/TCP and echo requests, never ICMP errors or later fragments', async () => {
    const { mayAnswerWithIcmpError } = await import('../src/packet.js');
    expect(mayAnswerWithIcmpError(withIcmpType(8))).toBe(true); // echo request
    for (const type of [3, 4, 5, 11, 12]) expect(mayAnswerWithIcmpError(withIcmpType(type))).toBe(false);
    const udp = Buffer.alloc(28);
    udp[0] = 0x45;
    udp[9] = 17;
    expect(mayAnswerWithIcmpError(udp)).toBe(true);
    udp.writeUInt16BE(0x0010, 6); // fragment offset 16
    expect(mayAnswerWithIcmpError(udp)).toBe(false);
  });
});
