/**
 * /metrics in Prometheus text format (prom-client), read from the daemon's state when scraped: nothing is
 * counted twice, and the data path is never touched by the metrics code.
 *
 * prom-client (and its default collectors: an event-loop delay monitor, GC observers) is loaded at the first
 * scrape, so a flanneld that is never scraped neither loads nor runs it. Counts kept before then (programming
 * errors) are plain numbers the registry reads when it collects.
 */
import { REJECTION_REASONS, type Backend, type RejectedLease } from '@flannel-ts/core';
import type { EtcdConnectivity } from '@flannel-ts/lease-manager';
import type { Registry } from 'prom-client';

export interface MetricsSources {
  leaseExpiresAt(): number | null | undefined;
  peersKnown(): number;
  /** Peer leases admission refused (never programmed). */
  peersRejected(): readonly RejectedLease[];
  peersProgrammed(): number;
  readonly etcd: EtcdConnectivity;
  readonly backend: Backend;
}

export interface DaemonMetrics {
  readonly programmingErrors: { inc(): void };
  /** Counts each lease admission rejected, by reason, when it is rejected (not per resync). */
  readonly rejections: { inc(labels: { reason: string }): void };
  /** The exposition of every metric, as served on /metrics. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** What is counted before prom-client is loaded (at the first scrape). */
interface Counts {
  programmingErrors: number;
  readonly rejections: Map<string, number>;
}

export function createMetrics(sources: () => MetricsSources | undefined): DaemonMetrics {
  const counts: Counts = { programmingErrors: 0, rejections: new Map() };
  let registry: Promise<Registry> | undefined;
  return {
    programmingErrors: { inc: () => void counts.programmingErrors++ },
    rejections: { inc: ({ reason }) => void counts.rejections.set(reason, (counts.rejections.get(reason) ?? 0) + 1) },
    async render() {
      registry ??= createRegistry(sources, counts);
      const loaded = await registry;
      return { contentType: loaded.contentType, body: await loaded.metrics() };
    },
  };
}

async function createRegistry(sources: () => MetricsSources | undefined, counts: Counts): Promise<Registry> {
  const { Counter, Gauge, Registry, collectDefaultMetrics } = await import('prom-client');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'flanneld_' });
  const gauge = (name: string, help: string, read: (s: MetricsSources) => number | undefined) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const s = sources();
        const value = s ? read(s) : undefined;
        if (value !== undefined) this.set(value);
      },
    });
  gauge('flanneld_lease_expiry_timestamp_seconds', 'When the subnet lease expires (0 for a reservation, which never does).', (s) => {
    const at = s.leaseExpiresAt();
    return at === null ? 0 : at === undefined ? undefined : at / 1000;
  });
  gauge('flanneld_peers_known', 'Peer leases known from etcd.', (s) => s.peersKnown());
  gauge('flanneld_peers_programmed', 'Peer leases the backend has programmed (after the last successful batch or reconcile).', (s) => s.peersProgrammed());
  gauge('flanneld_etcd_reachable', '1 while etcd answers, 0 during an outage.', (s) => (s.etcd.reachable ? 1 : 0));
  gauge('flanneld_etcd_outages', 'Times etcd became unreachable since start.', (s) => s.etcd.outages);
  gauge('flanneld_etcd_watch_restarts', 'Times a lease watch was re-established since start.', (s) => s.etcd.watchRestarts);
  new Gauge({
    name: 'flanneld_peer_leases_rejected',
    help: 'Peer leases in etcd that admission refuses to program, by reason (see flannelctl status).',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const s = sources();
      if (!s) return;
      const now = new Map<string, number>(REJECTION_REASONS.map((reason) => [reason, 0]));
      for (const { rejection } of s.peersRejected()) now.set(rejection.reason, (now.get(rejection.reason) ?? 0) + 1);
      for (const [reason, value] of now) this.set({ reason }, value);
    },
  });
  // Counters in the exposition, fed from the counts kept since start.
  new Counter({
    name: 'flanneld_peer_lease_rejections_total',
    help: 'Peer leases rejected by admission since start, by reason.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, value] of counts.rejections) this.inc({ reason }, value);
    },
  });
  new Counter({
    name: 'flanneld_programming_errors_total',
    help: 'Batches or reconciles the backend failed to apply.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(counts.programmingErrors);
    },
  });
  new Gauge({
    name: 'flanneld_datapath',
    help: 'Data-path counters of backends that move packets themselves (udp): packets, bytes, drops by reason.',
    labelNames: ['counter'],
    registers: [registry],
    collect() {
      const counters = sources()?.backend.metrics?.();
      if (!counters) return;
      for (const [counter, value] of Object.entries(counters)) this.set({ counter }, value);
    },
  });
  return registry;
}
