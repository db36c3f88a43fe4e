/** The admin API, called with the bearer token (no cookies: nothing a cross-site page could ride on). */

/**
 * A response's JSON as `unknown` (callers state what they expect), `fallback` if it has none.
 * @param {Response} response
 * @param {unknown} [fallback]
 * @returns {Promise<unknown>}
 */
export async function readJson(response, fallback = {}) {
  try {
    /** @type {unknown} */
    const data = await response.json();
    return data;
  } catch {
    return fallback;
  }
}

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * @typedef {{ query?: Record<string, string | undefined>, body?: unknown }} ApiOptions
 * @typedef {{ data: unknown, auditId: string | null }} ApiAnswer
 * @typedef {((method: string, path: string, options?: ApiOptions) => Promise<ApiAnswer>)
 *   & { download: (path: string, query?: Record<string, string | undefined>) => Promise<Blob> }} Api
 */

/**
 * @param {() => string | null} token
 * @param {() => void} onUnauthorized called on a 401 (expired or revoked token): back to sign-in
 * @returns {Api}
 */
export function createApi(token, onUnauthorized) {
  /**
   * @param {string} method
   * @param {string} path
   * @param {ApiOptions} options
   */
  async function send(method, path, { query, body } = {}) {
    const url = new URL(path, location.origin);
    for (const [name, value] of Object.entries(query ?? {})) if (value) url.searchParams.set(name, value);
    /** @type {Record<string, string>} */
    const headers = { authorization: `Bearer ${token() ?? ''}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
    if (response.status === 401) {
      onUnauthorized();
      throw new ApiError(401, 'UNAUTHENTICATED', 'Your session has ended: sign in again.');
    }
    if (!response.ok) {
      const error = /** @type {{ code?: string, message?: string }} */ (await readJson(response));
      throw new ApiError(
        response.status,
        error.code ?? String(response.status),
        error.message ?? response.statusText,
      );
    }
    return response;
  }

  /** @type {Api} */
  const api = async (method, path, options) => {
    const response = await send(method, path, options);
    const json = (response.headers.get('content-type') ?? '').includes('json');
    const data = /** @type {unknown} */ (
      response.status === 204 || !json ? null : await readJson(response, null)
    );
    // Every admin action names its audit row: the Audit-Id header (and `auditId` in JSON answers).
    const auditId =
      response.headers.get('audit-id') ??
      (data && typeof data === 'object' && 'auditId' in data
        ? /** @type {string | null} */ (data.auditId)
        : null);
    return { data, auditId };
  };
  api.download = async (path, query) => (await send('GET', path, { query })).blob();
  return api;
}
