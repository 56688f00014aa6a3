/**
 * When a backend's periodic resync must read the kernel (flannel-compat.md §5: the kernel is reconciled
 * periodically). Reading 1000 routes, neighbours and FDB entries every 10 s is most of what an idle host with many
 * peers would do, so a backend that watches the kernel (HostNetwork.monitor) reads it only when something may have
 * changed: the peers it was given, an event about what it programs, a notification the kernel dropped, the monitor
 * gone, or `fullEvery` resyncs in a row without a read (a last resort). Pure state: the backend starts the monitor
 * with `handlers(...)` and asks `mustRead` in each resync.
 */
import type { KernelEvent, KernelMonitorHandlers } from './host-network.js';

export class KernelReadGate {
  readonly #fullEvery: number;
  /** Until a monitor runs, every resync reads the kernel. */
  #watching = false;
  #changed = true;
  #skipped = 0;

  /** `fullEvery`: resyncs between two that read the kernel even when nothing was seen to change. */
  constructor(fullEvery: number) {
    this.#fullEvery = fullEvery;
  }

  /**
   * Handlers for HostNetwork.monitor, and the watch counted as running. `relevant` says whether an event may touch
   * what the backend programs (it may act on it too: vxlan repairs a deleted device at once); `onLost` is told once
   * per dropped-notification report that finds no change pending.
   */
  watch(relevant: (event: KernelEvent) => boolean, onLost: () => void): KernelMonitorHandlers {
    this.#watching = true;
    return {
      onEvent: (event) => {
        if (relevant(event)) this.#changed = true;
      },
      onStop: () => {
        this.#watching = false;
        this.#changed = true;
      },
      onLost: () => {
        if (!this.#changed) onLost();
        this.#changed = true;
      },
    };
  }

  /** Whether this resync reads the kernel; `samePeers`: the peers are the ones the last resync or batch programmed. */
  mustRead(samePeers: boolean): boolean {
    if (samePeers && !this.#changed && ++this.#skipped < this.#fullEvery) return false;
    return true;
  }

  /** Called as a read starts: from now on only new events (our own changes included) make the next resync read. */
  reading(): void {
    this.#changed = !this.#watching;
    this.#skipped = 0;
  }
}
