import { randomBytes } from 'node:crypto';

/** A random locally administered unicast MAC (first byte: bit 1 set, bit 0 clear), as flannel makes. */
export function randomMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = (bytes[0]! & 0xfe) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export { normalizeMac } from '@flannel-ts/core';
