/**
 * A watch that survives etcd: it resumes from the revision after the last one it delivered, re-lists after
 * compaction (the resumed revision no longer exists), and retries with back-off when etcd is unreachable
 * (flannel-compat.md §1.8 step 4). Responses are handed on strictly in order, one at a time.
 */
import { errorMessage, type Logger } from '@flannel-ts/core';
import { Backoff, sleep } from './backoff.js';
import type { EtcdConnectivity } from './connectivity.js';
import type { RegistryWatch, WatchMessage } from './registry.js';

export type WatchChanges = Extract<WatchMessage, { type: 'changes' }>;

export interface WatchLoopOptions {
  /** Opens a watch starting at `fromRevision`. */
  readonly open: (fromRevision: bigint) => Promise<RegistryWatch>;
  /** Re-reads the full state after compaction; returns the revision of that read. */
  readonly resync: () => Promise<bigint>;
  readonly onResponse: (response: WatchChanges) => Promise<void> | void;
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
    let watcher: RegistryWatch;
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

    const outcome = await consume(watcher, options, {
      delivered: (revision) => {
        since = revision + 1n;
        backoff.reset();
        failing = false;
      },
      connected: () => backoff.reset(),
      failed: (err) => {
        if (!failing) log.warn('watch failed, restarting', { what: options.what, reason: errorMessage(err) || 'cancelled by etcd' });
        failing = true;
      },
    });
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

interface ConsumeHooks {
  readonly delivered: (revision: bigint) => void;
  readonly connected: () => void;
  readonly failed: (err: unknown) => void;
}

/** Reads one watch until it ends or the signal aborts; changes are handled one response at a time, in order. */
async function consume(watch: RegistryWatch, options: WatchLoopOptions, hooks: ConsumeHooks): Promise<'compacted' | 'error' | 'aborted'> {
  const { signal, log, connectivity } = options;
  // The signal may have fired while the watch was being opened: 'abort' will not fire again.
  if (signal.aborted) {
    await watch.close();
    return 'aborted';
  }
  const onAbort = () => void watch.close();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const message of watch) {
      switch (message.type) {
        case 'changes':
          hooks.delivered(message.revision);
          try {
            await options.onResponse(message);
          } catch (err) {
            log.error('handling watch event failed', { what: options.what, reason: errorMessage(err) });
          }
          break;
        case 'disconnected':
          connectivity.failed(message.error, `watching ${options.what}`);
          connectivity.watchRestarted();
          break;
        case 'connected':
          connectivity.succeeded();
          hooks.connected();
          break;
        case 'compacted':
          log.info('watch revision compacted, re-listing', { what: options.what });
          return 'compacted';
        case 'failed':
          hooks.failed(message.error);
          return 'error';
      }
    }
    // Stopped: wait for the close the abort started (bounded by the registry).
    await watch.close();
    return 'aborted';
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
