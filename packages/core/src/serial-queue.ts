/**
 * Runs async tasks one at a time, in the order they were queued; a failed task does not stop the ones after it.
 * Backends queue every call that reads and replaces their applied state (apply, resync, attach, their own repairs)
 * here, so none interleaves with another whoever calls it. Pure: promises only, no timers.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `task` after every task queued before it; resolves or rejects with its result. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task queued so far has finished. */
  async idle(): Promise<void> {
    await this.#tail;
  }
}
