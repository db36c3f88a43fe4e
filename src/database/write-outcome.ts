import pg from 'pg';
import { DomainError } from '../common/domain-error.js';
import { DatabaseTimeoutError } from './bounded-client.js';

/**
 * `OUTCOME_UNKNOWN`: a write was sent but its answer never came back (the call's budget ran out while it was in
 * flight, the connection was lost or timed out). It may or may not have committed; nothing retries it on its own,
 * and the caller reconciles by reading.
 */
export class OutcomeUnknownError extends DomainError {
  constructor(reason: string, cause?: unknown) {
    super(
      'OUTCOME_UNKNOWN',
      `The write may or may not have happened (${reason}); read the current state before retrying`,
    );
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}

/** The server answered the statement with an error (SQLSTATE): its transaction did not commit. */
export function refusedByServer(error: unknown): boolean {
  return error instanceof pg.DatabaseError;
}

/** No pooled connection in time (a free slot or a new connection): the statement was never sent. */
export function notSent(error: unknown): boolean {
  const message = (error as { message?: unknown } | undefined)?.message;
  return (
    typeof message === 'string' &&
    /^(timeout exceeded when trying to connect|Connection terminated due to connection timeout)$/.test(
      message,
    )
  );
}

/**
 * The database did not answer in time: no connection in time, the server cancelled the statement at its
 * `statement_timeout` (SQLSTATE 57014), or no answer at all within the client-side bound. Also inside TypeORM's
 * `QueryFailedError` (`driverError`).
 */
export function tooSlow(error: unknown): boolean {
  const driverError = (error as { driverError?: unknown } | undefined)?.driverError;
  return [error, driverError].some(
    (e) =>
      e instanceof DatabaseTimeoutError ||
      notSent(e) ||
      (refusedByServer(e) && (e as pg.DatabaseError).code === '57014'),
  );
}
