/**
 * PostgreSQL text and jsonb cannot hold U+0000 (NUL), and jsonb refuses an unpaired UTF-16 surrogate (JSON text
 * escapes it as `\udXXX`; text would get a replacement character from the driver). Such strings are never valid
 * input to store; in what the service writes for itself (the audit trail) they become U+FFFD.
 */

/** In `u` mode a surrogate pair is one code point, so this matches unpaired surrogates only. */
const LONE_SURROGATE = /\p{Cs}/u;
const LONE_SURROGATES = /\p{Cs}/gu;

export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

/** `text` with every NUL and unpaired surrogate replaced by U+FFFD (the same string when there is none). */
export function toStorableText(text: string): string {
  return isStorableText(text) ? text : text.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATES, '\uFFFD');
}

/**
 * Where the first string (or object key) PostgreSQL could not store is in a parsed JSON body or query, as a path
 * such as `agentId` or `items.0.name`; undefined when there is none. Iterative, so any nesting is fine.
 */
export function findUnstorableText(value: unknown): string | undefined {
  const pending: [unknown, string][] = [[value, '']];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, path] = next;
    if (typeof item === 'string') {
      if (!isStorableText(item)) return toStorableText(path) || '(value)';
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        const childPath = path ? `${path}.${key}` : key;
        if (!isStorableText(key)) return toStorableText(childPath);
        pending.push([child, childPath]);
      }
    }
  }
  return undefined;
}
