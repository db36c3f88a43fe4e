/**
 * One task at a time per key, in arrival order (an async mutex per key; keys are forgotten when idle). A waiter
 * whose signal aborts leaves the queue without running its task; the order of the others is kept.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** Keys with a running or waiting task (for tests and diagnostics). */
  get size(): number {
    return this.tails.size;
  }

  async run<T>(key: string, signal: AbortSignal, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    // Whoever comes next waits for both: the task before this one and this one.
    const tail = previous.then(() => done);
    this.tails.set(key, tail);
    try {
      await untilAborted(previous, signal);
      return await task();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/** Resolves with `promise`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      // `previous` only ever resolves (it chains `done` promises), but never leave a waiter hanging.
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
    );
  });
}
