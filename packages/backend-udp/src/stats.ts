/** Data-path counters, kept in shared memory: each is written by one worker and read by anyone. */
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
] as const;

export type StatName = (typeof STAT_NAMES)[number];
export type ForwarderStats = Record<StatName, number>;

export const STAT_INDEX = Object.fromEntries(STAT_NAMES.map((name, i) => [name, i])) as Record<StatName, number>;

export function readStats(counters: Float64Array): ForwarderStats {
  return Object.fromEntries(STAT_NAMES.map((name, i) => [name, counters[i]!])) as ForwarderStats;
}
