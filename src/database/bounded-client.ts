import pg from 'pg';

/**
 * The database did not answer a statement within the client-side bound, so its connection was destroyed: the
 * statement may or may not have run. `code` ETIMEDOUT: a dependency failure, transient for reads.
 */
export class DatabaseTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';

  constructor(readonly timeoutMs: number) {
    super(`The database did not answer within ${timeoutMs} ms`);
    this.name = 'DatabaseTimeoutError';
  }
}

export interface BoundedClientConfig extends pg.ClientConfig {
  /** Longest wait for the answer to any statement (0 = unbounded). */
  answerTimeoutMs?: number;
}

/**
 * A `pg` client (the pool's `Client`, for TypeORM and HotSql alike) that never waits forever for an answer.
 * Server-side `statement_timeout` ends a statement that runs or waits for a lock too long, but a server that does not
 * answer at all (frozen, partitioned without a reset) needs a bound on the client too. `pg`'s own `query_timeout`
 * reports the timeout but leaves the connection busy with the unanswered statement, and TypeORM hands it back to
 * the pool like that. Here the connection is destroyed instead: every statement on it fails with
 * `DatabaseTimeoutError`, the pool drops it (`_queryable` is false), and the server ends the session, rolling back
 * any open transaction, when it notices.
 */
export class BoundedClient extends pg.Client {
  private readonly answerTimeoutMs: number;

  constructor(config: BoundedClientConfig) {
    super(config);
    this.answerTimeoutMs = config.answerTimeoutMs ?? 0;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wraps every overload of pg's query()
  override query(...args: any[]): any {
    const submittable = typeof (args[0] as { submit?: unknown } | undefined)?.submit === 'function';
    if (this.answerTimeoutMs <= 0 || submittable) return super.query(...(args as [string]));
    const timer = setTimeout(() => this.abandon(), this.answerTimeoutMs);
    const last = args.length - 1;
    const callback = args[last] as unknown;
    try {
      if (typeof callback === 'function') {
        args[last] = (error: unknown, result: unknown) => {
          clearTimeout(timer);
          (callback as (e: unknown, r: unknown) => void)(error, result);
        };
        return super.query(...(args as [string]));
      }
      const result = super.query(...(args as [string])) as Promise<unknown>;
      result.then(
        () => clearTimeout(timer),
        () => clearTimeout(timer),
      );
      return result;
    } catch (error) {
      clearTimeout(timer);
      throw error;
    }
  }

  private abandon(): void {
    const stream = (this as unknown as { connection?: { stream?: { destroy(e: Error): void } } }).connection
      ?.stream;
    stream?.destroy(new DatabaseTimeoutError(this.answerTimeoutMs));
  }
}
