/**
 * Data-path counters in shared memory. Each worker owns one bank (tx: the first STAT_NAMES.length slots, rx: the
 * next), so every slot has a single writer; readers add the banks up.
 */
export const STAT_NAMES = [
  'tunPackets',
  'tunBytes',
  'udpPacketsSent',
  'udpPacketsReceived',
  'udpBytesReceived',
  'tunWrites',
  'dropRunt',
  'dropNotIPv4',
  'dropNoPeer',
  'dropTtlExpired',
  'dropUnknownSender',
  'dropTunWriteFailed',
  'dropUdpSendFailed',
  'icmpUnreachableSent',
  /** From a peer, but the inner source is not inside a subnet that peer holds. */
  'dropSpoofedSource',
  /** From a peer, but the inner destination is not inside this host's subnet. */
  'dropWrongDestination',
] as const;

export type StatName = (typeof STAT_NAMES)[number];
export type ForwarderStats = Record<StatName, number>;

export const STAT_INDEX = Object.fromEntries(STAT_NAMES.map((name, i) => [name, i])) as Record<StatName, number>;

export const STAT_BANKS = 2;

export function readStats(counters: Float64Array): ForwarderStats {
  return Object.fromEntries(STAT_NAMES.map((name, i) => [name, counters[i]! + counters[i + STAT_NAMES.length]!])) as ForwarderStats;
}
