/**
 * Properties of a logged error that can hold a call's data: the statement's parameters (TypeORM's
 * QueryFailedError), and what PostgreSQL quotes back from the row or value it refused (`detail` such as "Failing
 * row contains (…)", `where` such as "JSON data, line 1: …").
 */
const DATA_KEYS = ['parameters', 'detail', 'where', 'hint', 'internalQuery'];
const QUOTED = /"[^"\n]*"/g;

interface SerializedError {
  message?: unknown;
  stack?: unknown;
  code?: unknown;
  raw?: unknown;
  [key: string]: unknown;
}

/**
 * pino serializer for `err`, applied after pino's standard one (which copies every enumerable property and
 * appends the causes' messages and stacks): removes the properties that can hold arguments or SQL parameters, and
 * when PostgreSQL refused a value as data (SQLSTATE class 22, whose messages quote it: `invalid input syntax for
 * type integer: "…"`), masks every quoted string of the message and stack. Raw tool arguments never reach logs.
 */
export function scrubError(err: unknown): unknown {
  if (err === null || typeof err !== 'object') return err;
  const serialized = err as SerializedError;
  for (const key of DATA_KEYS) delete serialized[key];
  for (const [key, value] of Object.entries(serialized)) {
    if (value !== null && typeof value === 'object' && typeof (value as SerializedError).message === 'string')
      serialized[key] = scrubError(value); // a nested error (TypeORM's driverError)
  }
  if (Array.isArray(serialized.aggregateErrors)) serialized.aggregateErrors.forEach(scrubError);
  if (quotesData(serialized.raw ?? serialized)) {
    if (typeof serialized.message === 'string')
      serialized.message = serialized.message.replace(QUOTED, '"…"');
    if (typeof serialized.stack === 'string') serialized.stack = serialized.stack.replace(QUOTED, '"…"');
  }
  return serialized;
}

/** Is there a data exception (SQLSTATE class 22) in this error or its causes? */
function quotesData(error: unknown, depth = 0): boolean {
  if (error === null || typeof error !== 'object' || depth > 5) return false;
  const { code, cause, driverError } = error as Record<string, unknown>;
  if (typeof code === 'string' && /^22...$/.test(code)) return true;
  return quotesData(cause, depth + 1) || quotesData(driverError, depth + 1);
}
