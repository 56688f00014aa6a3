import { createRecordingLogger, startEtcd, type EtcdServer, type RecordingLogger } from '@flannel-ts/testkit';
import type { Etcd3 } from 'etcd3';
import type { LeaseAttrs, LeaseBatch } from '@flannel-ts/core';
import { parseNetworkConfig } from '@flannel-ts/core';
import { connectEtcd, EtcdRegistry, LeaseManager, type LeaseManagerOptions } from '../src/index.js';

export interface Harness extends AsyncDisposable {
  readonly etcd: EtcdServer;
  readonly log: RecordingLogger;
  /** A raw etcd client, for reading and writing keys as another tool would (the registry keeps its own private). */
  readonly client: Etcd3;
  manager(options?: Partial<LeaseManagerOptions> & { prefix?: string }): LeaseManager;
}

/** A real etcd plus a factory of managers, each with its own client; everything is closed on dispose. */
export async function createHarness(): Promise<Harness> {
  const etcd = await startEtcd();
  const log = createRecordingLogger();
  const client = connectEtcd({ endpoints: [etcd.endpoint], callTimeoutMs: 3000 });
  const clients: Array<{ close(): void }> = [client];
  return {
    etcd,
    log,
    client,
    manager(options = {}) {
      const client = connectEtcd({ endpoints: [etcd.endpoint], callTimeoutMs: 3000 });
      clients.push(client);
      return new LeaseManager({ registry: new EtcdRegistry(client, options.prefix), log, ...options });
    },
    async [Symbol.asyncDispose]() {
      for (const client of clients) client.close();
      await etcd[Symbol.asyncDispose]();
    },
  };
}

export const attrs = (publicIP: string, extra: Partial<LeaseAttrs> = {}): LeaseAttrs => ({ publicIP, ...extra });

export const config = (json: object) => parseNetworkConfig(JSON.stringify(json));

/** Collects batches delivered by a peer watch. */
export function batchCollector() {
  const batches: LeaseBatch[] = [];
  return {
    batches,
    onBatch: (batch: LeaseBatch) => {
      batches.push(batch);
    },
    events: () => batches.flat().map((e) => `${e.type} ${e.lease.key} ${e.lease.attrs.publicIP}`),
  };
}
