/**
 * /metrics in Prometheus text format (prom-client), read from the daemon's state when scraped: nothing is
 * counted twice, and the data path is never touched by the metrics code.
 *
 * prom-client (and its default collectors: an event-loop delay monitor, GC observers) is loaded at the first
 * scrape, so a flanneld that is never scraped neither loads nor runs it. Counts kept before then (programming
 * errors) are plain numbers the registry reads when it collects.
 */
import type { Backend } from '@flannel-ts/core';
import type { EtcdConnectivity } from '@flannel-ts/lease-manager';
import type { Registry } from 'prom-client';

export interface MetricsSources {
  leaseExpiresAt(): number | null | undefined;
  peersKnown(): number;
  peersProgrammed(): number;
  readonly etcd: EtcdConnectivity;
  readonly backend: Backend;
}

export interface DaemonMetrics {
  readonly programmingErrors: { inc(): void };
  /** The exposition of every metric, as served on /metrics. */
  render(): Promise<{ contentType: string; body: string }>;
}

export function createMetrics(sources: () => MetricsSources | undefined): DaemonMetrics {
  let programmingErrors = 0;
  let registry: Promise<Registry> | undefined;
  return {
    programmingErrors: { inc: () => void programmingErrors++ },
    async render() {
      registry ??= createRegistry(sources, () => programmingErrors);
      const loaded = await registry;
      return { contentType: loaded.contentType, body: await loaded.metrics() };
    },
  };
}

async function createRegistry(sources: () => MetricsSources | undefined, programmingErrors: () => number): Promise<Registry> {
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
  // Still a counter in the exposition, fed from the count kept since start.
  new Counter({
    name: 'flanneld_programming_errors_total',
    help: 'Batches or reconciles the backend failed to apply.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(programmingErrors());
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
