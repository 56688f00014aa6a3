/**
 * A watch that survives etcd: it resumes from the revision after the last one it delivered, re-lists after
 * compaction (the resumed revision no longer exists), and retries with back-off when etcd is unreachable
 * (flannel-compat.md §1.8 step 4). Responses are handed on strictly in order, one at a time.
 */
import type { IWatchResponse, Watcher } from 'etcd3';
import { errorMessage, type Logger } from '@flannel-ts/core';
import { Backoff, sleep } from './backoff.js';
import type { EtcdConnectivity } from './connectivity.js';

export interface WatchLoopOptions {
  /** Opens a watch starting at `fromRevision`. */
  readonly open: (fromRevision: bigint) => Promise<Watcher>;
  /** Re-reads the full state after compaction; returns the revision of that read. */
  readonly resync: () => Promise<bigint>;
  readonly onResponse: (response: IWatchResponse) => Promise<void> | void;
  /**
   * Whether `revision` was compacted away. etcd 3.4 cancels a watch on a compacted revision without a reason, so
   * after an unexplained cancel the loop asks (a read at that revision fails with "compacted").
   */
  readonly isRevisionCompacted: (revision: bigint) => Promise<boolean>;
  readonly fromRevision: bigint;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly connectivity: EtcdConnectivity;
  readonly what: string;
}

function isCompacted(err: unknown): boolean {
  return /compacted/i.test(errorMessage(err));
}

export async function runWatchLoop(options: WatchLoopOptions): Promise<void> {
  const { signal, log, connectivity } = options;
  const backoff = new Backoff(100, 5000);
  let since = options.fromRevision;
  let needResync = false;
  // Log a failing watch once per streak, not once per retry.
  let failing = false;
  while (!signal.aborted) {
    if (needResync) {
      try {
        since = (await options.resync()) + 1n;
        needResync = false;
        connectivity.succeeded();
      } catch (err) {
        connectivity.failed(err, `re-listing ${options.what}`);
        await sleep(backoff.next(), signal);
        continue;
      }
    }
    let watcher: Watcher;
    try {
      watcher = await options.open(since);
      connectivity.succeeded();
    } catch (err) {
      if (isCompacted(err)) {
        log.info('watch revision compacted, re-listing', { what: options.what, revision: since.toString() });
        needResync = true;
      } else {
        connectivity.failed(err, `watching ${options.what}`);
        await sleep(backoff.next(), signal);
      }
      continue;
    }

    let chain: Promise<void> = Promise.resolve();
    const outcome = await new Promise<'compacted' | 'error' | 'aborted'>((resolve) => {
      const onAbort = () => resolve('aborted');
      // The signal may have fired while the watch was being opened: 'abort' will not fire again.
      if (signal.aborted) return resolve('aborted');
      signal.addEventListener('abort', onAbort, { once: true });
      watcher.on('data', (response: IWatchResponse) => {
        since = BigInt(response.header.revision) + 1n;
        backoff.reset();
        failing = false;
        chain = chain.then(() => options.onResponse(response)).catch((err: unknown) => log.error('handling watch event failed', { what: options.what, reason: errorMessage(err) }));
      });
      watcher.on('disconnected', (err: unknown) => {
        connectivity.failed(err, `watching ${options.what}`);
        connectivity.watchRestarted();
      });
      watcher.on('connected', () => {
        connectivity.succeeded();
        backoff.reset();
      });
      watcher.on('error', (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (isCompacted(err)) {
          log.info('watch revision compacted, re-listing', { what: options.what });
          resolve('compacted');
        } else {
          if (!failing) log.warn('watch failed, restarting', { what: options.what, reason: errorMessage(err) || 'cancelled by etcd' });
          failing = true;
          resolve('error');
        }
      });
    });
    await chain;
    // After an 'error' etcd3 has already dropped the watcher; cancelling it again could wait forever.
    if (outcome === 'aborted') await Promise.race([watcher.cancel().catch(() => undefined), sleep(1000)]);
    if (outcome !== 'aborted') connectivity.watchRestarted();
    if (outcome === 'compacted') needResync = true;
    else if (outcome === 'error') {
      if (await options.isRevisionCompacted(since).catch(() => false)) {
        log.info('watch revision compacted, re-listing', { what: options.what, revision: since.toString() });
        needResync = true;
      } else await sleep(backoff.next(), signal);
    }
  }
}
