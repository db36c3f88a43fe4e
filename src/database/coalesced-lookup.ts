import { tooSlow } from './write-outcome.js';

interface Waiter<V> {
  resolve: (value: V) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces concurrent lookups of a per-request read into one statement. A key asked for while `maxInFlight`
 * lookups are running waits, and goes out with every other waiting key as soon as one of them returns. Each
 * answer therefore comes from a statement sent AFTER its key was asked for, never from an earlier or cached one:
 * as fresh as one lookup per request, but under load one round trip serves many requests. With no concurrency
 * (one client) every lookup goes out at once, alone. When a lookup fails because the database did not answer in
 * time, the keys waiting behind it fail with it instead of waiting a second time.
 */
export class CoalescedLookup<K, V> {
  private waiting = new Map<K, Waiter<V>[]>();
  private inFlight = 0;
  /** Statements sent and keys answered: for tests and diagnostics. */
  readonly stats = { statements: 0, keys: 0 };

  constructor(
    /** Answers every key (a missing key is answered with `fallback`). */
    private readonly fetch: (keys: K[]) => Promise<Map<K, V>>,
    private readonly fallback: V,
    private readonly maxInFlight = 2,
  ) {}

  get(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const waiters = this.waiting.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      if (this.inFlight < this.maxInFlight) this.send();
    });
  }

  private send(): void {
    const batch = this.waiting;
    this.waiting = new Map();
    this.inFlight++;
    this.stats.statements++;
    this.stats.keys += batch.size;
    this.fetch([...batch.keys()])
      .then(
        (answers) => {
          for (const [key, waiters] of batch)
            for (const w of waiters) w.resolve(answers.get(key) ?? this.fallback);
        },
        (error: unknown) => {
          for (const waiters of batch.values()) for (const w of waiters) w.reject(error);
          // The database did not answer in time: the keys asked for meanwhile would only wait as long again
          // behind it, so they get the same answer now (each waits at most one bound, from its own arrival).
          if (!tooSlow(error)) return;
          const waiting = this.waiting;
          this.waiting = new Map();
          for (const waiters of waiting.values()) for (const w of waiters) w.reject(error);
        },
      )
      .finally(() => {
        this.inFlight--;
        if (this.waiting.size > 0) this.send();
      });
  }
}
