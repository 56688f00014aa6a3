/**
 * The async stream a registry watch delivers: change batches in store order, connection changes, and one final
 * message when the watch ends on its own (compaction or failure). A consumer reads it with `for await` and closes
 * it to stop; messages are buffered until read, so none is lost while the consumer works.
 */
import type { RegistryWatch, WatchMessage } from './registry.js';

export class WatchStream implements RegistryWatch {
  readonly #buffer: WatchMessage[] = [];
  #waiter: ((result: IteratorResult<WatchMessage>) => void) | undefined;
  #ended = false;
  readonly #onClose: () => Promise<void>;
  #closing: Promise<void> | undefined;

  constructor(onClose: () => Promise<void> = async () => undefined) {
    this.#onClose = onClose;
  }

  /** True once the stream ended (a final message, or close()). */
  get ended(): boolean {
    return this.#ended;
  }

  push(message: WatchMessage): void {
    if (this.#ended) return;
    if (message.type === 'compacted' || message.type === 'failed') this.#ended = true;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter({ value: message, done: false });
    } else this.#buffer.push(message);
  }

  /** Idempotent: a second call waits for the first. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const wasEnded = this.#ended;
    this.#ended = true;
    this.#buffer.length = 0;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
    // A watch that ended by itself is already gone at the source: cancelling it again could wait forever.
    if (!wasEnded) await this.#onClose();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchMessage> {
    return {
      next: () => {
        const message = this.#buffer.shift();
        if (message) return Promise.resolve({ value: message, done: false });
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.#waiter = resolve));
      },
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }
}
