/** Field names whose values never reach a log line, at any depth, in any letter case. */
const NAMES =
  'token|access_?token|refresh_?token|id_?token|password|secret|client_?secret|' +
  'authorization|proxy-authorization|cookie|set-cookie|x-api-key';
const SECRET_KEY = new RegExp(`^(?:${NAMES})$`, 'i');
/** A secret-named field anywhere in a serialized line (bindings, serializer output and error properties too). */
const SECRET_FIELD = new RegExp(`"(?:${NAMES})":`, 'i');
/** The same field with a JSON string or scalar value, for a line that is somehow not JSON. */
const SECRET_VALUE = new RegExp(`("(?:${NAMES})":)("(?:[^"\\\\]|\\\\.)*"|[^,}\\]]*)`, 'gi');
export const CENSOR = '[redacted]';

/**
 * pino's `hooks.streamWrite`: the finished line, with the value of every secret-named field replaced by
 * `[redacted]`. A line without one (every line the service writes in normal operation) passes untouched after one
 * regular-expression test; a line with one is parsed, censored at every depth and serialized again.
 *
 * In place of pino's `redact` option: @pinojs/redact 0.4 re-parses every path character by character for every
 * value of every line (one wildcard path such as `*.token` makes every value go through it), ≈ 38 KB of garbage
 * per tool call (`PROFILE_ALLOC=1 npm run bench:profile`), and it covers only the paths listed. Fields of a message
 * string (`%j` interpolation) are not fields of the line: the service logs objects, never interpolates them.
 */
export function redactLine(line: string): string {
  if (!SECRET_FIELD.test(line)) return line;
  try {
    return `${JSON.stringify(censor(JSON.parse(line)))}\n`;
  } catch {
    return line.replace(SECRET_VALUE, `$1"${CENSOR}"`);
  }
}

function censor(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(censor);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [key, SECRET_KEY.test(key) ? CENSOR : censor(v)]),
  );
}
