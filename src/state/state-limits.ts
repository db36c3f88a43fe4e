import { StateKeyInvalidError, StateValueInvalidError, StateValueTooLargeError } from './state.errors.js';

export interface StateLimits {
  /** In characters (Unicode code points). */
  maxKeyLength: number;
  /** In UTF-8 bytes of the value's JSON text. */
  maxValueBytes: number;
  /** Keys per agent, checked when a key is created. */
  maxKeysPerAgent: number;
}

const CONTROL = /\p{Cc}/u;
/** In `u` mode a surrogate pair is one code point, so this matches unpaired surrogates only. */
const LONE_SURROGATE = /\p{Cs}/u;
/**
 * JSON escapes PostgreSQL's jsonb refuses: `\u0000` and unpaired surrogates (JSON.stringify escapes those and
 * writes paired ones as is). The leading group makes sure the backslash is not itself escaped.
 */
const UNSTORABLE_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/**
 * Keys are non-empty strings of at most `maxKeyLength` characters, without control characters or unpaired
 * surrogates. Any other character is allowed and taken literally (`/`, `:`, `%`, `_`, emoji ...).
 */
export function checkKey(key: unknown, limits: StateLimits, what = 'key'): asserts key is string {
  const fail = (reason: string) => {
    throw new StateKeyInvalidError(`${what} ${reason}`, limits.maxKeyLength);
  };
  if (typeof key !== 'string') return fail('must be a string');
  if (key.length === 0) return fail('must not be empty');
  if (key.length > 2 * limits.maxKeyLength || [...key].length > limits.maxKeyLength)
    return fail(`is longer than ${limits.maxKeyLength} characters`);
  if (CONTROL.test(key)) return fail('contains a control character');
  if (LONE_SURROGATE.test(key)) return fail('contains an unpaired surrogate');
}

/** Whether `checkKey` accepts `key`. */
export function isValidKey(key: unknown, limits: StateLimits): key is string {
  try {
    checkKey(key, limits);
    return true;
  } catch {
    return false;
  }
}

/** The value's JSON text, checked against what jsonb can store and the size limit. */
export function serializeValue(value: unknown, limits: StateLimits): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    throw new StateValueInvalidError('it cannot be serialised as JSON (a cycle or a BigInt?)');
  }
  if (json === undefined) throw new StateValueInvalidError('it is not a JSON value');
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > limits.maxValueBytes) throw new StateValueTooLargeError(bytes, limits.maxValueBytes);
  if (UNSTORABLE_ESCAPE.test(json))
    throw new StateValueInvalidError('it contains U+0000 or an unpaired surrogate, which cannot be stored');
  return json;
}
