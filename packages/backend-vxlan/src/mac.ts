import { randomBytes } from 'node:crypto';

/** A random locally administered unicast MAC (first byte: bit 1 set, bit 0 clear), as flannel makes. */
export function randomMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = (bytes[0]! & 0xfe) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * Parses a MAC the way Go's net.ParseMAC does for 6-byte addresses (colon, hyphen or dotted notation) and returns
 * it lower-case colon-separated; undefined when it is not one.
 */
export function normalizeMac(text: string): string | undefined {
  let hex: string | undefined;
  if (/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(text) && !(text.includes(':') && text.includes('-'))) hex = text.replace(/[:-]/g, '');
  else if (/^([0-9a-fA-F]{4}\.){2}[0-9a-fA-F]{4}$/.test(text)) hex = text.replace(/\./g, '');
  if (!hex) return undefined;
  return hex.toLowerCase().match(/../g)!.join(':');
}
