import { notSent, OutcomeUnknownError, refusedByServer } from './write-outcome.js';

interface Pending<W, R> {
  write: W;
  key?: string;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
  onSent?: () => void;
  /** In a statement already: from now on it may commit. */
  sent: boolean;
  /** Its caller stopped waiting after it was sent (told OUTCOME_UNKNOWN): it is never sent again. */
  gone: boolean;
}

/** How one write waits for its group's statement. */
export interface SubmitOptions {
  /**
   * The caller's cancellation, and its deadline (epoch ms). While the write waits for a statement it is withdrawn
   * (rejected with the signal's reason, or a deadline error: it changed nothing); once sent, the caller stops
   * waiting with OUTCOME_UNKNOWN.
   */
  signal?: AbortSignal;
  deadline?: number;
  /** Called (synchronously) when the write goes out in a statement. */
  onSent?: () => void;
}

/** One group: its writes, how long its statements took, and whether its first statement committed. */
export interface GroupReport {
  writes: number;
  seconds: number;
  ok: boolean;
}

export interface GroupCommitOptions<W> {
  /**
   * Two writes of one key never share a statement (they would have no defined order), and a statement takes its
   * writes in key order, so that two replicas' groups lock their rows in the same order. Without it, writes are
   * independent and go in arrival order. Keyed writes need `maxInFlight` 1 (else two statements may race).
   */
  keyOf?: (write: W) => string;
  /** Statements running at once: beyond the first, only for a full group (or `drain`). Default 1. */
  maxInFlight?: number;
  /** Writes per statement. Default 500. */
  maxBatch?: number;
  /**
   * Waits for the end of the event loop's turn before a statement (unless a full group waits), so that writes
   * submitted together (concurrent requests whose I/O completed together) share it. Default: a write goes out at
   * once when it can.
   */
  coalesce?: boolean;
  /** The error a caller gets when its write fails (default: the error as it came). */
  failure?: (error: unknown) => unknown;
  /** Called once per group of writes failed together, with their error (before `failure`). */
  onFailure?: (writes: number, error: unknown) => void;
  /** Called after every group (its statement and any to isolate a refused write); must not throw. */
  onGroup?: (report: GroupReport) => void;
}

/**
 * Group commit for independent writes: writes submitted while a statement is running wait, and go out together in
 * ONE statement (one round trip, one commit) as soon as none is running, or at once when a full group waits and
 * fewer than `maxInFlight` run. With no concurrency (one client) every write goes out at once, alone.
 *
 * If the database refuses a statement for its data or a race (SQLSTATE class 22, 23 or 40: a bad row, a deadlock
 * all the same), the statement changed nothing, and bisection sends its writes again in fewer statements than
 * one per write (see `isolate`): a write then fails only for its own reason. A statement the server answered with
 * another error changed nothing either, and fails its writes with that error. Without an answer (a lost
 * connection, no answer in time: the statement may have committed) every write of the group fails with
 * OUTCOME_UNKNOWN, and is never sent again.
 */
export class GroupCommit<W, R> {
  private waiting: Pending<W, R>[] = [];
  private readonly running = new Set<Promise<void>>();
  private scheduled = false;
  private readonly maxInFlight: number;
  private readonly maxBatch: number;
  /** Groups, statements (a group is one, unless a refused write is isolated) and writes: for tests, diagnostics. */
  readonly stats = { groups: 0, statements: 0, writes: 0, largestGroup: 0, failures: 0 };

  constructor(
    /** Runs the writes in one statement; answers one result per write, in order. */
    private readonly run: (writes: W[]) => Promise<R[]>,
    private readonly options: GroupCommitOptions<W> = {},
  ) {
    this.maxInFlight = options.maxInFlight ?? 1;
    this.maxBatch = options.maxBatch ?? 500;
  }

  /** Writes accepted and not yet sent. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Statements running now. */
  get inFlight(): number {
    return this.running.size;
  }

  submit(write: W, { signal, deadline, onSent }: SubmitOptions = {}): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const { failure } = this.options;
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the driver's error, as it came
      const fail = failure ? (error: unknown) => reject(failure(error)) : reject;
      if (signal?.aborted) return fail(signal.reason);
      const pending: Pending<W, R> = {
        write,
        key: this.options.keyOf?.(write),
        resolve,
        reject: fail,
        onSent,
        sent: false,
        gone: false,
      };
      if (signal || deadline !== undefined) this.bound(pending, signal, deadline);
      this.waiting.push(pending);
      this.schedule();
    });
  }

  /** Sends every waiting write (up to `maxInFlight` statements at once); resolves when none waits or runs. */
  async drain(): Promise<void> {
    while (this.waiting.length > 0 || this.running.size > 0) {
      this.start(true);
      await Promise.allSettled([...this.running]);
    }
  }

  /** Stops waiting for `pending` at its caller's signal or deadline, whichever comes first. */
  private bound(pending: Pending<W, R>, signal?: AbortSignal, deadline?: number): void {
    const { resolve, reject } = pending;
    const giveUp = (reason: unknown) => {
      if (!pending.sent) {
        this.waiting.splice(this.waiting.indexOf(pending), 1);
        return pending.reject(reason);
      }
      pending.gone = true;
      pending.reject(new OutcomeUnknownError('the call ended while its write was in flight'));
    };
    const onAbort = () => giveUp(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer =
      deadline === undefined
        ? undefined
        : setTimeout(() => giveUp(new Error('the write waited past its deadline')), deadline - Date.now());
    const release = () => {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(timer);
    };
    pending.resolve = (result) => {
      release();
      resolve(result);
    };
    pending.reject = (error) => {
      release();
      reject(error);
    };
  }

  private schedule(): void {
    if (!this.options.coalesce || this.waiting.length >= this.maxBatch) return this.start(false);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.start(false);
    });
  }

  private start(draining: boolean): void {
    while (
      this.waiting.length > 0 &&
      (this.running.size === 0 ||
        ((draining || this.waiting.length >= this.maxBatch) && this.running.size < this.maxInFlight))
    ) {
      const group = this.take();
      const statement = this.commit(group).finally(() => {
        this.running.delete(statement);
        this.start(false);
      });
      this.running.add(statement);
    }
  }

  /** The next group: up to `maxBatch` waiting writes, at most one per key, in key order. */
  private take(): Pending<W, R>[] {
    let group: Pending<W, R>[];
    if (this.options.keyOf) {
      const keys = new Set<string>();
      const later: Pending<W, R>[] = [];
      group = [];
      for (const pending of this.waiting) {
        if (group.length < this.maxBatch && !keys.has(pending.key!)) {
          keys.add(pending.key!);
          group.push(pending);
        } else later.push(pending);
      }
      this.waiting = later;
      group.sort((a, b) => (a.key! < b.key! ? -1 : 1));
    } else group = this.waiting.splice(0, this.maxBatch);
    for (const pending of group) {
      pending.sent = true;
      pending.onSent?.();
    }
    return group;
  }

  private async commit(group: Pending<W, R>[]): Promise<void> {
    const started = performance.now();
    this.stats.groups++;
    this.stats.writes += group.length;
    this.stats.largestGroup = Math.max(this.stats.largestGroup, group.length);
    let ok = true;
    try {
      this.settle(group, await this.execute(group));
    } catch (error) {
      ok = false;
      this.stats.failures++;
      if (group.length > 1 && refusedByDatabase(error)) await this.isolate(group, error);
      else this.fail(group, error);
    }
    this.options.onGroup?.({ writes: group.length, seconds: (performance.now() - started) / 1000, ok });
  }

  /**
   * `group` was refused as a whole, so it holds a write the database refuses. Bisection finds one in ⌈log₂ n⌉
   * statements: send the first half of the suspects; if it commits, the refused write is in the second half, else
   * in the first, and the untried second half waits. The last suspect is refused for its own reason if it failed
   * alone, or for its data (class 22, 23) if its half committed; after a race (class 40: no write's fault) it
   * waits too. Then the writes that waited go out in one more statement, isolated the same way if refused too:
   * one refused write among n costs at most ⌈log₂ n⌉ + 1 statements after the refused group, k of them at most
   * k·(⌈log₂ n⌉ + 1), instead of n single-write statements. Any other error fails every write not yet committed,
   * at once. A write whose caller gave up is not sent again: suspects that hold one wait with the rest.
   */
  private async isolate(group: Pending<W, R>[], refusal: unknown): Promise<void> {
    let suspects = group;
    let tried = true; // the suspects, exactly, were refused together
    const waiting: Pending<W, R>[] = [];
    while (suspects.length > 1 && !suspects.some((p) => p.gone)) {
      const half = suspects.slice(0, suspects.length >> 1);
      try {
        this.settle(half, await this.execute(half));
        suspects = suspects.slice(half.length);
        tried = false;
      } catch (error) {
        if (!refusedByDatabase(error)) return this.fail([...suspects, ...waiting], error);
        refusal = error;
        waiting.push(...suspects.slice(half.length));
        suspects = half;
        tried = true;
      }
    }
    if (suspects.length === 1 && !suspects[0].gone && (tried || !sqlState(refusal).startsWith('40')))
      this.fail(suspects, refusal);
    else waiting.push(...suspects);
    const rest = waiting.filter((p) => !p.gone);
    if (rest.length === 0) return;
    try {
      this.settle(rest, await this.execute(rest));
    } catch (error) {
      if (rest.length > 1 && refusedByDatabase(error)) return this.isolate(rest, error);
      this.fail(rest, error);
    }
  }

  private settle(group: Pending<W, R>[], results: R[]): void {
    group.forEach((p, i) => p.resolve(results[i]));
  }

  private fail(group: Pending<W, R>[], error: unknown): void {
    this.options.onFailure?.(group.length, error);
    for (const p of group) p.reject(error);
  }

  private async execute(group: Pending<W, R>[]): Promise<R[]> {
    this.stats.statements++;
    let results: R[];
    try {
      results = await this.run(group.map((p) => p.write));
    } catch (error) {
      if (refusedByServer(error) || notSent(error)) throw error;
      throw new OutcomeUnknownError('the database did not answer', error);
    }
    if (results.length !== group.length)
      throw new Error(`group commit: ${results.length} results for ${group.length} writes`);
    return results;
  }
}

/** Data exception, integrity constraint violation, transaction rollback (deadlock, serialization failure). */
function refusedByDatabase(error: unknown): boolean {
  return /^(22|23|40)[0-9A-Z]{3}$/.test(sqlState(error));
}

function sqlState(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : '';
}
