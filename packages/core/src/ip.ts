/**
 * IPv4 and IPv6 addresses and networks. Parsing and text formatting go through ip-num; arithmetic is done on
 * the bigint values ip-num produces, so both families share one code path parameterised by `family`.
 *
 * Text follows Go's `net.IP.String()` (what flannel writes): dotted decimal for IPv4, RFC 5952 for IPv6
 * (lower case, longest run of two or more zero groups compressed). Unlike flannel, an IPv6 value is always
 * printed as IPv6 (fixes flannel quirk 16, flannel-compat.md §12).
 */
import { IPv4, IPv6, collapseIPv6Number } from 'ip-num';

export type IpFamily = 4 | 6;

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

export function familyBits(family: IpFamily): number {
  return BITS[family];
}

const IPV4_TEXT = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const IPV6_TEXT = /^[0-9a-fA-F:.]+$/;

/** Parses dotted-decimal IPv4 text (no leading zeros, as Go >= 1.17). Returns undefined when invalid. */
export function parseIPv4(text: string): bigint | undefined {
  if (!IPV4_TEXT.test(text)) return undefined;
  if (text.split('.').some((octet) => octet.length > 1 && octet.startsWith('0'))) return undefined;
  try {
    return IPv4.fromString(text).value;
  } catch {
    return undefined;
  }
}

/** Parses IPv6 text (any case, embedded IPv4 allowed). Returns undefined when invalid. */
export function parseIPv6(text: string): bigint | undefined {
  if (!text.includes(':') || !IPV6_TEXT.test(text)) return undefined;
  try {
    return IPv6.fromString(text.toLowerCase()).value;
  } catch {
    return undefined;
  }
}

const V4_MAPPED_PREFIX = 0xffff00000000n;

/**
 * Parses an address of either family. IPv4-mapped IPv6 text (`::ffff:1.2.3.4`) is an IPv4 address, as in Go's
 * `net.ParseIP(...).To4()`.
 */
export function parseIP(text: string): { family: IpFamily; value: bigint } | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIPv6(text);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === V4_MAPPED_PREFIX >> 32n) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}

export function formatIP(family: IpFamily, value: bigint): string {
  if (family === 4) return new IPv4(value).toString();
  return collapseIPv6Number(new IPv6(value).toString()).toLowerCase();
}

/** Canonical text of an address given as text, or undefined when it is not an address of that family. */
export function normalizeIP(family: IpFamily, text: string): string | undefined {
  const parsed = parseIP(text);
  if (parsed === undefined || parsed.family !== family) return undefined;
  return formatIP(family, parsed.value);
}

function hostMask(family: IpFamily, prefixLength: number): bigint {
  return (1n << BigInt(BITS[family] - prefixLength)) - 1n;
}

/**
 * A network: an address and a prefix length. The address is stored as given (flannel keeps `10.1.30.5-24`
 * unmasked); use `masked()` for the network address proper.
 */
export class IpNet {
  readonly family: IpFamily;
  readonly address: bigint;
  readonly prefixLength: number;

  constructor(family: IpFamily, address: bigint, prefixLength: number) {
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > BITS[family]) {
      throw new RangeError(`prefix length ${prefixLength} is out of range for IPv${family}`);
    }
    this.family = family;
    this.address = address;
    this.prefixLength = prefixLength;
  }

  /** Parses `a.b.c.d/len` or `ipv6/len`. Returns undefined when the text is not a CIDR of that family. */
  static parse(text: string, family?: IpFamily): IpNet | undefined {
    const slash = text.indexOf('/');
    if (slash < 0) return undefined;
    const lengthText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lengthText)) return undefined;
    const ip = parseIP(text.slice(0, slash));
    if (ip === undefined || (family !== undefined && ip.family !== family)) return undefined;
    const prefixLength = Number(lengthText);
    if (prefixLength > BITS[ip.family]) return undefined;
    return new IpNet(ip.family, ip.value, prefixLength);
  }

  /** The first address of the network (host bits cleared). */
  get first(): bigint {
    return this.address & ~hostMask(this.family, this.prefixLength);
  }

  /** The last address of the network (host bits set). */
  get last(): bigint {
    return this.first | hostMask(this.family, this.prefixLength);
  }

  /** Number of addresses in the network. */
  get size(): bigint {
    return 1n << BigInt(BITS[this.family] - this.prefixLength);
  }

  masked(): IpNet {
    return this.isMasked() ? this : new IpNet(this.family, this.first, this.prefixLength);
  }

  isMasked(): boolean {
    return this.address === this.first;
  }

  containsAddress(value: bigint): boolean {
    return value >= this.first && value <= this.last;
  }

  /** True when `other` lies entirely inside this network. */
  contains(other: IpNet): boolean {
    return other.family === this.family && other.prefixLength >= this.prefixLength && this.containsAddress(other.first);
  }

  /** flannel's prefix-overlap test: one network contains the other's first address. */
  overlaps(other: IpNet): boolean {
    return other.family === this.family && this.first <= other.last && other.first <= this.last;
  }

  equals(other: IpNet): boolean {
    return other.family === this.family && other.address === this.address && other.prefixLength === this.prefixLength;
  }

  /** The network that follows this one with the same prefix length. */
  next(): IpNet {
    return new IpNet(this.family, this.first + this.size, this.prefixLength);
  }

  /** Address text of `first + offset` (e.g. offset 1 is the gateway written to subnet.env). */
  addressText(offset = 0n): string {
    return formatIP(this.family, this.first + offset);
  }

  /** The address as stored, e.g. `10.1.30.0`. */
  ipText(): string {
    return formatIP(this.family, this.address);
  }

  toString(): string {
    return `${this.ipText()}/${this.prefixLength}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** What kind of address a value is, for deciding whether a peer may be sent to (or be a network's range). */
export type AddressClass = 'unicast' | 'unspecified' | 'loopback' | 'multicast' | 'broadcast' | 'reserved';

interface SpecialRange {
  readonly net: IpNet;
  readonly kind: Exclude<AddressClass, 'unicast'>;
}

/**
 * Ranges that are never a host's address on a network (RFC 6890): "this network" 0.0.0.0/8, loopback, multicast,
 * the reserved class E block and the limited broadcast address; for IPv6 the unspecified and loopback addresses,
 * multicast, and IPv4-mapped addresses (an IPv4 host published as IPv6). Built by value, not parsed: this table is
 * made when the module loads, and parsing IPv6 text at start-up cost flanneld ~10 ms before `main` ran.
 */
const SPECIAL_RANGES: Record<IpFamily, readonly SpecialRange[]> = {
  4: [
    { net: new IpNet(4, 0x00000000n, 8), kind: 'unspecified' }, // 0.0.0.0/8
    { net: new IpNet(4, 0x7f000000n, 8), kind: 'loopback' }, // 127.0.0.0/8
    { net: new IpNet(4, 0xe0000000n, 4), kind: 'multicast' }, // 224.0.0.0/4
    { net: new IpNet(4, 0xffffffffn, 32), kind: 'broadcast' }, // 255.255.255.255/32
    { net: new IpNet(4, 0xf0000000n, 4), kind: 'reserved' }, // 240.0.0.0/4
  ],
  6: [
    { net: new IpNet(6, 0n, 128), kind: 'unspecified' }, // ::/128
    { net: new IpNet(6, 1n, 128), kind: 'loopback' }, // ::1/128
    { net: new IpNet(6, 0xffn << 120n, 8), kind: 'multicast' }, // ff00::/8
    { net: new IpNet(6, V4_MAPPED_PREFIX, 96), kind: 'reserved' }, // ::ffff:0:0/96
  ],
};

/** The class of an address; the first matching range wins (255.255.255.255 is broadcast, not class E). */
export function classifyAddress(family: IpFamily, value: bigint): AddressClass {
  for (const range of SPECIAL_RANGES[family]) if (range.net.containsAddress(value)) return range.kind;
  return 'unicast';
}

/** The special ranges a network overlaps (a Network of 0.0.0.0/1 overlaps "this network" and loopback). */
export function specialRangesOverlapping(net: IpNet): { readonly range: string; readonly kind: Exclude<AddressClass, 'unicast'> }[] {
  return SPECIAL_RANGES[net.family].filter((r) => r.net.overlaps(net)).map((r) => ({ range: r.net.toString(), kind: r.kind }));
}
