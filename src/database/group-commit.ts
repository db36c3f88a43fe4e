import { notSent, OutcomeUnknownError, refusedByServer } from './write-outcome.js';

interface Pending<W, R> {
  write: W;
  key: string;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
  onSent?: () => void;
  /** In a statement already: from now on it may commit. */
  sent: boolean;
}

/** How one write waits for its group's statement. */
export interface SubmitOptions {
  /**
   * The caller's deadline or cancellation. While the write waits for a statement it is withdrawn (rejected with
   * the signal's reason: it changed nothing); once sent, the caller stops waiting with OUTCOME_UNKNOWN.
   */
  signal?: AbortSignal;
  /** Called (synchronously) when the write goes out in a statement. */
  onSent?: () => void;
}

/**
 * Group commit for independent writes: a write submitted while `maxInFlight` statements are running waits, and
 * goes out with every other waiting write as soon as one of them returns, in ONE statement (one round trip, one
 * commit). With no concurrency (one client) every write goes out at once, alone.
 *
 * A statement holds at most one write per key (two changes of one row in one statement have no defined order);
 * a second write of a key waits for the next statement. Writes go in key order, so that two replicas' groups lock
 * their rows in the same order. If the database refuses a statement for its data or a race (SQLSTATE class 22,
 * 23 or 40: a bad row, a deadlock all the same), the statement changed nothing, so its writes are retried one per
 * statement: a write then fails only for its own reason. A statement the server answered with another error
 * changed nothing either, and fails its writes with that error. Without an answer (a lost connection, no answer in
 * time: the statement may have committed) every write of the group fails with OUTCOME_UNKNOWN, and is never sent
 * again.
 */
export class GroupCommit<W, R> {
  private waiting: Pending<W, R>[] = [];
  private inFlight = 0;
  /** Statements sent and writes carried: for tests and diagnostics. */
  readonly stats = { statements: 0, writes: 0 };

  constructor(
    /** Runs the writes in one statement; answers one result per write, in order. */
    private readonly run: (writes: W[]) => Promise<R[]>,
    private readonly keyOf: (write: W) => string,
    private readonly maxInFlight = 1,
    private readonly maxBatch = 500,
  ) {}

  submit(write: W, { signal, onSent }: SubmitOptions = {}): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const pending: Pending<W, R> = {
        write,
        key: this.keyOf(write),
        resolve,
        reject,
        signal,
        onSent,
        sent: false,
      };
      if (signal) {
        const onAbort = () => {
          if (pending.sent)
            return reject(new OutcomeUnknownError('the call ended while its write was in flight'));
          this.waiting.splice(this.waiting.indexOf(pending), 1);
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        pending.resolve = (result) => {
          signal.removeEventListener('abort', onAbort);
          resolve(result);
        };
        pending.reject = (error) => {
          signal.removeEventListener('abort', onAbort);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the driver's error, as it came
          reject(error);
        };
      }
      this.waiting.push(pending);
      if (this.inFlight < this.maxInFlight) this.send();
    });
  }

  private send(): void {
    const batch: Pending<W, R>[] = [];
    const keys = new Set<string>();
    const later: Pending<W, R>[] = [];
    for (const pending of this.waiting) {
      if (batch.length < this.maxBatch && !keys.has(pending.key)) {
        keys.add(pending.key);
        batch.push(pending);
      } else later.push(pending);
    }
    this.waiting = later;
    batch.sort((a, b) => (a.key < b.key ? -1 : 1));
    for (const pending of batch) {
      pending.sent = true;
      pending.onSent?.();
    }
    this.inFlight++;
    void this.commit(batch).finally(() => {
      this.inFlight--;
      if (this.waiting.length > 0) this.send();
    });
  }

  private async commit(batch: Pending<W, R>[]): Promise<void> {
    try {
      const results = await this.execute(batch.map((p) => p.write));
      batch.forEach((p, i) => p.resolve(results[i]));
    } catch (error) {
      if (batch.length === 1 || !refusedByDatabase(error)) {
        for (const p of batch) p.reject(error);
        return;
      }
      for (const p of batch) {
        // A caller that gave up was told OUTCOME_UNKNOWN: its write, which did not happen, is not sent again.
        if (p.signal?.aborted) continue;
        try {
          p.resolve((await this.execute([p.write]))[0]);
        } catch (alone) {
          p.reject(alone);
        }
      }
    }
  }

  private async execute(writes: W[]): Promise<R[]> {
    this.stats.statements++;
    this.stats.writes += writes.length;
    let results: R[];
    try {
      results = await this.run(writes);
    } catch (error) {
      if (refusedByServer(error) || notSent(error)) throw error;
      throw new OutcomeUnknownError('the database did not answer', error);
    }
    if (results.length !== writes.length)
      throw new Error(`group commit: ${results.length} results for ${writes.length} writes`);
    return results;
  }
}

/** Data exception, integrity constraint violation, transaction rollback (deadlock, serialization failure). */
function refusedByDatabase(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23|40)[0-9A-Z]{3}$/.test(code);
}
