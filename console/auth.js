/**
 * Signing in. With an identity provider: OAuth 2.1 authorization code + PKCE (S256) as a public client; the service
 * never sees a password, only the access token. With dev auth: a one-click local admin token from this service.
 * The token lives in sessionStorage (this tab only, gone when it closes), never in a cookie or localStorage.
 */

import { readJson } from './api.js';

const TOKEN = 'mcp-console.token';
const FLOW = 'mcp-console.pkce';
/** Treat a token as expired this long before it is, so that no request races its expiry. */
const EXPIRY_MARGIN_MS = 10_000;

/** @typedef {import('./types.js').SignInConfig} SignInConfig */
/** @typedef {Extract<SignInConfig, { signIn: 'oauth' }>} OAuthConfig */

/** The access token, or null when there is none (or it has expired). */
export function currentToken() {
  const stored = /** @type {{ token: string, expiresAt: number | null } | null} */ (
    parse(sessionStorage.getItem(TOKEN))
  );
  if (!stored || (stored.expiresAt !== null && Date.now() > stored.expiresAt - EXPIRY_MARGIN_MS)) return null;
  return stored.token;
}

/**
 * @param {string} token
 * @param {number | undefined} expiresIn seconds
 */
function keepToken(token, expiresIn) {
  const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : null;
  sessionStorage.setItem(TOKEN, JSON.stringify({ token, expiresAt }));
}

/**
 * @param {string | null} text
 * @returns {unknown}
 */
function parse(text) {
  return text === null ? null : /** @type {unknown} */ (JSON.parse(text));
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN);
}

/** Dev auth: an `mcp:admin` token from this service (it answers loopback clients only). */
export async function devSignIn() {
  const response = await fetch('/dev-auth/console-token', { method: 'POST', credentials: 'omit' });
  const body = /** @type {{ access_token?: string, expires_in?: number, message?: string }} */ (
    await readJson(response)
  );
  if (!response.ok || !body.access_token) {
    throw new Error(`No local admin token: ${body.message ?? response.statusText}`);
  }
  keepToken(body.access_token, body.expires_in);
}

/**
 * The IdP's metadata: OpenID discovery (issuer + /.well-known/openid-configuration), else RFC 8414.
 * @param {string} issuer
 */
async function discover(issuer) {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  const candidates = [
    `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`,
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ];
  for (const candidate of candidates) {
    const response = await fetch(candidate, { credentials: 'omit' }).catch(() => null);
    if (!response?.ok) continue;
    const metadata =
      /** @type {{ issuer?: string, authorization_endpoint?: string, token_endpoint?: string }} */ (
        await readJson(response)
      );
    // A document for another issuer is not this one's (RFC 8414 §3.3).
    if (metadata.issuer === issuer && metadata.authorization_endpoint && metadata.token_endpoint) {
      return {
        authorizationEndpoint: metadata.authorization_endpoint,
        tokenEndpoint: metadata.token_endpoint,
      };
    }
  }
  throw new Error(`Cannot read the identity provider's metadata at ${issuer}`);
}

/** @param {Uint8Array} bytes */
function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/**
 * Sends the browser to the IdP's authorization endpoint (code + PKCE S256, state, RFC 8707 resource).
 * @param {OAuthConfig} config
 */
export async function beginSignIn(config) {
  if (!crypto.subtle) throw new Error('Signing in needs a secure context: open the console over HTTPS.');
  const { authorizationEndpoint, tokenEndpoint } = await discover(config.issuer);
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))),
  );
  sessionStorage.setItem(FLOW, JSON.stringify({ verifier, state, tokenEndpoint }));
  const url = new URL(authorizationEndpoint);
  for (const [name, value] of Object.entries({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    scope: config.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource: config.resource,
  }))
    url.searchParams.set(name, value);
  location.assign(url.href);
}

/**
 * Back from the IdP (`?code=…&state=…`, or `?error=…`): removes them from the URL at once, whatever happens next,
 * then redeems the code with the PKCE verifier. Answers false when this page load is no such return.
 * @param {OAuthConfig} config
 */
export async function completeSignIn(config) {
  const params = new URLSearchParams(location.search);
  if (!params.has('code') && !params.has('error')) return false;
  history.replaceState(null, '', location.pathname + location.hash);
  const flow = /** @type {{ verifier: string, state: string, tokenEndpoint: string } | null} */ (
    parse(sessionStorage.getItem(FLOW))
  );
  sessionStorage.removeItem(FLOW);
  const error = params.get('error');
  if (error) {
    const description = params.get('error_description');
    throw new Error(`The identity provider refused: ${error}${description ? ` (${description})` : ''}`);
  }
  if (!flow || params.get('state') !== flow.state) {
    throw new Error('This sign-in answer does not belong to a sign-in started here: sign in again.');
  }
  // RFC 9207: an IdP that names itself must be the one we sent the browser to (mix-up defence).
  const iss = params.get('iss');
  if (iss !== null && iss !== config.issuer) throw new Error('The sign-in answer came from another issuer.');
  const response = await fetch(flow.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    credentials: 'omit',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code') ?? '',
      redirect_uri: config.redirectUri,
      client_id: config.clientId,
      code_verifier: flow.verifier,
      resource: config.resource,
    }),
  });
  const body =
    /** @type {{ access_token?: string, expires_in?: number, error?: string, error_description?: string }} */ (
      await readJson(response)
    );
  if (!response.ok || !body.access_token) {
    const reason = body.error_description ?? body.error ?? `HTTP ${response.status}`;
    throw new Error(`The identity provider did not issue a token: ${reason}`);
  }
  keepToken(body.access_token, body.expires_in);
  return true;
}
