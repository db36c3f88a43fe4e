import { DomainError } from '../common/domain-error.js';

/**
 * Whose fault a failed tool call is, decided here and nowhere else:
 * - `dependency`: the tool or what it depends on failed (a timeout, a dropped connection, a database that is
 *   down, overloaded or broken, an unexpected error in the tool). Counts against the tool's circuit breaker.
 * - `caller`: the caller's input or request was refused (a validation error, a bad cursor, any definite domain
 *   answer such as a version conflict or a denial, a value the database refuses: SQLSTATE classes 22 and 23).
 *   Never counts against a breaker: the tool is healthy, and one agent must not switch it off for everyone.
 */
export type FailureCause = 'dependency' | 'caller';

/** Domain codes that report a dependency failure; every other domain error is a definite answer to the caller. */
const DEPENDENCY_CODES: ReadonlySet<string> = new Set([
  'TOOL_UNAVAILABLE', // TransientError: a dependency was unavailable (after the retries)
  'TOOL_TIMEOUT', // the call's budget ran out waiting for the tool or its dependency
  'OUTCOME_UNKNOWN', // a write timed out or lost its connection mid-flight
  'INTERNAL_ERROR', // the tool broke its own contract (e.g. output outside its schema)
]);

/**
 * SQLSTATE classes caused by the data a statement carried, i.e. by the caller's input: 22 data exception
 * (e.g. 22021 a NUL or invalid UTF-8 in text, 22003 a number out of range, 22P02 invalid text representation),
 * 23 integrity constraint violation, 54 program limit exceeded (input too large or too deeply nested).
 */
const CALLER_SQLSTATE_CLASSES: ReadonlySet<string> = new Set(['22', '23', '54']);

/** The SQLSTATE of a database error (node-postgres' `code`, also inside TypeORM's `QueryFailedError`). */
export function sqlStateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; driverError?: { code?: unknown } };
  for (const code of [e.driverError?.code, e.code]) {
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export function failureCause(error: unknown): FailureCause {
  if (error instanceof DomainError) return DEPENDENCY_CODES.has(error.code) ? 'dependency' : 'caller';
  const sqlState = sqlStateOf(error);
  if (sqlState && CALLER_SQLSTATE_CLASSES.has(sqlState.slice(0, 2))) return 'caller';
  // Anything else is unexpected (a connection error, a timeout, a bug): the tool's side, not the caller's.
  return 'dependency';
}

/**
 * A database error the caller's input caused, as the answer the caller should get (INVALID_ARGUMENTS with the
 * SQLSTATE only: the database's message may quote the input, and raw arguments never go into answers or logs);
 * undefined for anything else.
 */
export function callerDatabaseError(error: unknown): DomainError | undefined {
  if (error instanceof DomainError || failureCause(error) !== 'caller') return undefined;
  const sqlstate = sqlStateOf(error)!;
  return new DomainError(
    'INVALID_ARGUMENTS',
    `Invalid arguments: the tool's database refused a value (SQLSTATE ${sqlstate})`,
    { sqlstate },
  );
}
