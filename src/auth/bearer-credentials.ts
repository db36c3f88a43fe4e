/**
 * Reads the credentials of a request from its `Authorization` header only (RFC 6750 §2.1). Tokens in the query
 * string or the body are never looked at (OAuth 2.1 §5.1: resource servers MUST ignore them).
 */
export type Credentials =
  /** No `Authorization` header (or an empty one). */
  | { kind: 'none' }
  /** Another scheme (`Basic`, `Digest`, …): not a credential this server understands. */
  | { kind: 'other-scheme' }
  /** More than one `Authorization` header (RFC 6750 §3.1 `invalid_request`). */
  | { kind: 'multiple' }
  /** `Bearer` with an empty token or characters outside b64token. */
  | { kind: 'malformed' }
  | { kind: 'bearer'; token: string };

/** RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * `rawHeaders` is Node's flat `[name, value, name, value, …]` list: unlike `headers`, it keeps a second
 * `Authorization` header, which Node's parsed `headers` silently drops.
 */
export function readCredentials(rawHeaders: readonly string[]): Credentials {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === 'authorization') values.push(rawHeaders[i + 1].trim());
  }
  if (values.length > 1) return { kind: 'multiple' };
  const value = values[0] ?? '';
  if (value === '') return { kind: 'none' };
  const space = value.indexOf(' ');
  const scheme = space === -1 ? value : value.slice(0, space);
  // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are accepted.
  if (scheme.toLowerCase() !== 'bearer') return { kind: 'other-scheme' };
  const token = space === -1 ? '' : value.slice(space + 1).replace(/^ +/, '');
  return B64TOKEN.test(token) ? { kind: 'bearer', token } : { kind: 'malformed' };
}

/** The bearer token, or null: passport-jwt's `jwtFromRequest` (header only, never the query string). */
export function bearerTokenOf(req: { raw: { rawHeaders: string[] } }): string | null {
  const credentials = readCredentials(req.raw.rawHeaders);
  return credentials.kind === 'bearer' ? credentials.token : null;
}
