import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  SignJWT,
  UnsecuredJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { DataSource } from 'typeorm';
import { RevocationService } from '../../src/admission/revocation.service.js';
import { mintTokenCommand, TokenUsageError } from '../../src/auth/token-command.js';
import { ConfigError } from '../../src/config/app-config.js';
import { startApp, TEST_PUBLIC_URL, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { TestIdp } from '../utils/idp.js';
import { connectClient } from '../utils/mcp-client.js';

/**
 * The resource-server half of SECURITY.md (§A–C, F1, G) against a real authorization server (panva's
 * oidc-provider issuing RFC 9068 JWT access tokens by client credentials) and tokens forged with jose for every
 * negative case. Each failure must be the exact status and challenge, never a 5xx, never echo the token.
 */

const RESOURCE = `${TEST_PUBLIC_URL}/mcp`;
const OTHER_RESOURCE = `${TEST_PUBLIC_URL}/other`;
const PRM = `${TEST_PUBLIC_URL}/.well-known/oauth-protected-resource/mcp`;
const NO_CREDENTIALS = `Bearer resource_metadata="${PRM}"`;
const INVALID = `Bearer error="invalid_token", error_description="The access token is invalid", resource_metadata="${PRM}"`;
const EXPIRED = `Bearer error="invalid_token", error_description="The access token expired", resource_metadata="${PRM}"`;
const insufficient = (scope: string) =>
  `Bearer error="insufficient_scope", scope="${scope}", resource_metadata="${PRM}"`;

const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-11-25',
};
const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'auth-e2e', version: '1' } },
};
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
};
const call = (name: string) => ({
  jsonrpc: '2.0',
  id: 2,
  method: 'tools/call',
  params: { name, arguments: { text: 'hi' } },
});

function post(app: TestApp, body: unknown, headers: Record<string, string> = {}, path = '/mcp') {
  return fetch(`${app.baseUrl}${path}`, {
    method: 'POST',
    headers: { ...HEADERS, ...headers },
    body: JSON.stringify(body),
  });
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Asserts a 401 with exactly this challenge, and that nothing in the answer repeats the token. */
async function expect401(res: Response, challenge: string, token?: string): Promise<void> {
  const body = await res.text();
  expect({ status: res.status, challenge: res.headers.get('www-authenticate') }).toEqual({
    status: 401,
    challenge,
  });
  expect(JSON.parse(body)).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 }, id: null });
  if (token) {
    expect(body).not.toContain(token);
    expect([...res.headers.values()].join('\n')).not.toContain(token);
  }
}

/** An HTTP request written by hand: fetch and node:http cannot send two Authorization headers. */
async function rawPost(
  app: TestApp,
  headerLines: string[],
  body: unknown,
): Promise<{ status: number; text: string }> {
  const { port } = new URL(app.baseUrl);
  const payload = JSON.stringify(body);
  const text = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      // write, not end: a half-closed socket may be torn down before the answer is written.
      socket.write(
        [
          'POST /mcp HTTP/1.1',
          `Host: 127.0.0.1:${port}`,
          'Content-Type: application/json',
          'Accept: application/json, text/event-stream',
          `Content-Length: ${Buffer.byteLength(payload)}`,
          'Connection: close',
          ...headerLines,
          '',
          payload,
        ].join('\r\n'),
      );
    });
    let data = '';
    socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
  return { status: Number(text.split(' ')[1]), text };
}

/** panva/oidc-provider on a loopback port, configured as in SECURITY.md §J. */
class AuthorizationServer {
  private constructor(
    private readonly server: Server,
    readonly issuer: string,
    readonly privateJwk: JWK,
  ) {}

  static async start(): Promise<AuthorizationServer> {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = { ...(await exportJWK(privateKey)), kid: 'k1', use: 'sig', alg: 'ES256' };
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // oidc-provider ships no typings; this is the part of its API the test uses.
    const moduleName: string = 'oidc-provider';
    const oidc = (await import(moduleName)) as {
      default: new (
        issuer: string,
        config: object,
      ) => { callback(): (req: IncomingMessage, res: ServerResponse) => void };
      errors: { InvalidTarget: new () => Error };
    };
    const client = (id: string) => ({
      client_id: id,
      client_secret: `${id}-secret`,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    });
    const provider = new oidc.default(issuer, {
      jwks: { keys: [privateJwk] },
      clientDefaults: { id_token_signed_response_alg: 'ES256' },
      clients: [client('agent-a'), client('agent-b')],
      features: {
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, resource: string) => {
            const jwt = { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } }, accessTokenTTL: 300 };
            if (resource === RESOURCE) return { scope: 'mcp:admin tool:echo', ...jwt };
            if (resource === OTHER_RESOURCE) return { scope: 'tool:echo', ...jwt };
            throw new oidc.errors.InvalidTarget();
          },
        },
      },
    });
    server.on('request', provider.callback());
    return new AuthorizationServer(server, issuer, privateJwk);
  }

  /** A real access token: client credentials with an RFC 8707 resource indicator. */
  async token(client: string, scope: string, resource = RESOURCE): Promise<string> {
    const res = await fetch(`${this.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client}:${client}-secret`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource }),
    });
    const body = (await res.json()) as { access_token?: string };
    if (!body.access_token) throw new Error(`token request failed: ${JSON.stringify(body)}`);
    return body.access_token;
  }

  /** A token signed with the AS's own key, every claim as a real one would have, to break one at a time. */
  async forge(
    claims: Record<string, unknown> = {},
    header: Record<string, unknown> = {},
    key?: Parameters<SignJWT['sign']>[0],
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload = Object.fromEntries(
      Object.entries({
        iss: this.issuer,
        aud: RESOURCE,
        sub: 'agent-a',
        client_id: 'agent-a',
        scope: 'tool:echo',
        jti: randomUUID(),
        iat: now,
        exp: now + 300,
        ...claims,
      }).filter(([, v]) => v !== undefined),
    );
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt', ...header })
      .sign(key ?? (await importJWK(this.privateJwk, 'ES256')));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const decode = (token: string, part: 0 | 1) =>
  JSON.parse(Buffer.from(token.split('.')[part], 'base64url').toString()) as Record<string, unknown>;

describe(`OAuth resource server against oidc-provider (${databaseKind})`, () => {
  let as: AuthorizationServer;
  let app: TestApp;
  beforeAll(async () => {
    as = await AuthorizationServer.start();
    // No AUTH_JWKS_URI: the JWKS location comes from the AS's discovery document.
    app = await startApp({ env: { AUTH_ISSUER: as.issuer, AUTH_JWKS_URI: '' } });
    await app.grant('agent-a', 'echo');
  });
  afterAll(async () => {
    await app.close();
    await as.close();
  });

  describe('protected resource metadata (RFC 9728)', () => {
    it('serves the path-inserted document for the MCP endpoint, publicly and to any origin', async () => {
      // A bad token must not break discovery.
      const res = await fetch(`${app.baseUrl}/.well-known/oauth-protected-resource/mcp`, {
        headers: { authorization: 'Bearer garbage', origin: 'https://elsewhere.example' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const doc = (await res.json()) as Record<string, unknown>;
      expect(doc).toMatchObject({
        resource: RESOURCE,
        authorization_servers: [as.issuer],
        bearer_methods_supported: ['header'],
      });
      expect(doc.scopes_supported).toEqual(expect.arrayContaining(['mcp:admin', 'tool:echo']));
      expect(
        (doc.scopes_supported as string[]).every((s) => s.startsWith('mcp:admin') || s.startsWith('tool:')),
      ).toBe(true);
      expect(JSON.stringify(doc)).not.toContain('[]');
    });

    it('serves the root document with the origin as its resource (RFC 9728 §3.3)', async () => {
      const res = await fetch(`${app.baseUrl}/.well-known/oauth-protected-resource`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        resource: TEST_PUBLIC_URL,
        authorization_servers: [as.issuer],
        bearer_methods_supported: ['header'],
        scopes_supported: expect.arrayContaining(['mcp:admin', 'tool:echo']) as unknown,
      });
    });

    it('answers other methods with 405 and a preflight with 204', async () => {
      const prm = `${app.baseUrl}/.well-known/oauth-protected-resource/mcp`;
      const res = await fetch(prm, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
      expect((await fetch(prm, { method: 'OPTIONS' })).status).toBe(204);
      expect((await fetch(prm, { method: 'HEAD' })).status).toBe(200);
    });
  });

  describe('challenges and request syntax (§B)', () => {
    it('answers no credentials with 401 and a challenge without error (B1)', async () => {
      const res = await post(app, INIT);
      await expect401(res, NO_CREDENTIALS);
    });

    it('accepts a real RFC 9068 token from the authorization server, and serves the SDK client with it', async () => {
      const token = await as.token('agent-a', 'tool:echo mcp:admin');
      expect(decode(token, 0)).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' });
      expect(decode(token, 1)).toMatchObject({
        iss: as.issuer,
        aud: RESOURCE,
        sub: 'agent-a',
        client_id: 'agent-a',
      });
      expect((await post(app, INIT, bearer(token))).status).toBe(200);

      const client = await connectClient(app.mcpUrl, bearer(token));
      const result = await client.callTool({ name: 'echo', arguments: { text: 'authenticated' } });
      expect(result.structuredContent).toEqual({ text: 'authenticated' });
      await client.close();
    });

    it('protects every route by default: GET and DELETE /mcp too (B2), probes stay public', async () => {
      await expect401(await fetch(app.mcpUrl, { headers: { accept: 'text/event-stream' } }), NO_CREDENTIALS);
      await expect401(await fetch(app.mcpUrl, { method: 'DELETE' }), NO_CREDENTIALS);
      expect((await fetch(`${app.baseUrl}/health/live`)).status).toBe(200);
    });

    it('treats another scheme as no credentials (B4)', async () => {
      await expect401(await post(app, INIT, { authorization: 'Basic dTpw' }), NO_CREDENTIALS);
    });

    it('accepts the scheme in lowercase (B4)', async () => {
      const token = await as.token('agent-a', 'tool:echo');
      expect((await post(app, INIT, { authorization: `bearer ${token}` })).status).toBe(200);
    });

    it('answers an empty or malformed bearer token with 401 invalid_token (B4)', async () => {
      await expect401(await post(app, INIT, { authorization: 'Bearer' }), INVALID);
      await expect401(await post(app, INIT, { authorization: 'Bearer a b' }), INVALID);
    });

    it('ignores a token in the query string (B5): 401 as if none was sent, and never echoes it', async () => {
      const token = await as.token('agent-a', 'tool:echo');
      const res = await fetch(`${app.mcpUrl.href}?access_token=${token}`, {
        method: 'POST',
        headers: HEADERS,
        body: JSON.stringify(INIT),
      });
      await expect401(res, NO_CREDENTIALS, token);
    });

    it('answers two Authorization headers with 400 invalid_request (B6)', async () => {
      const [a, b] = [await as.token('agent-a', 'tool:echo'), await as.token('agent-b', 'tool:echo')];
      const res = await rawPost(app, [`Authorization: Bearer ${a}`, `Authorization: Bearer ${b}`], INIT);
      expect(res.status).toBe(400);
      expect(res.text).toMatch(
        new RegExp(
          `\r\nwww-authenticate: Bearer error="invalid_request", error_description="Send exactly one Authorization header", resource_metadata="${PRM}"\r\n`,
          'i',
        ),
      );
      expect(res.text).not.toContain(a);
      // The same request with one header is fine: the 400 is about the duplicate, not the token. (An initialize
      // opens a 2025 session whose event-stream answer says keep-alive: the server still honours Connection: close.)
      expect((await rawPost(app, [`Authorization: Bearer ${a}`], INIT)).status).toBe(200);
    });
  });

  describe('token validation (§C): every bad token is a 401 invalid_token, never a 5xx', () => {
    const forgeries: [string, (as: AuthorizationServer) => Promise<string>][] = [
      ['not yet valid', (s) => s.forge({ nbf: now() + 600 })],
      ['for another audience (forged)', (s) => s.forge({ aud: 'https://other.example/mcp' })],
      ['without an audience', (s) => s.forge({ aud: undefined })],
      ['of another issuer', (s) => s.forge({ iss: 'http://127.0.0.1:1' })],
      ['of the issuer plus a trailing slash', (s) => s.forge({ iss: `${s.issuer}/` })],
      [
        'with alg none',
        async (s) => new UnsecuredJWT({ iss: s.issuer, aud: RESOURCE, sub: 'agent-a' }).encode(),
      ],
      [
        'HS256-signed with the public key (algorithm confusion)',
        async (s) => {
          const { d: _private, ...publicJwk } = s.privateJwk;
          const pem = await exportSPKI(
            (await importJWK(publicJwk, 'ES256', { extractable: true })) as CryptoKey,
          );
          return s.forge({}, { alg: 'HS256' }, new TextEncoder().encode(pem));
        },
      ],
      ['with a bad signature', async (s) => flipSignature(await s.forge())],
      [
        'signed by an unknown key (kid)',
        async (s) => s.forge({}, { kid: 'k2' }, (await generateKeyPair('ES256')).privateKey),
      ],
      ['with typ JWT (RFC 9068 requires at+jwt)', (s) => s.forge({}, { typ: 'JWT' })],
      [
        'shaped like an ID token',
        (s) => s.forge({ aud: 'agent-a', nonce: 'n', scope: undefined }, { typ: 'JWT' }),
      ],
      ['without jti', (s) => s.forge({ jti: undefined })],
      ['without exp', (s) => s.forge({ exp: undefined })],
      ['without sub', (s) => s.forge({ sub: undefined })],
      // PostgreSQL text cannot hold NUL: such ids could never be looked up, so the token is refused outright.
      ['whose sub holds a NUL', (s) => s.forge({ sub: 'agent-a\u0000echo' })],
      ['whose jti holds a NUL', (s) => s.forge({ jti: `${randomUUID()}\u0000` })],
      ['that is not a JWT', async () => 'not.a.jwt'],
      ['that is opaque', async () => randomUUID().replace(/-/g, '')],
    ];

    it.each(forgeries)('rejects a token %s', async (_name, make) => {
      const token = await make(as);
      await expect401(await post(app, INIT, bearer(token)), INVALID, token);
    });

    it('rejects a real token the AS issued for another resource (C3)', async () => {
      const token = await as.token('agent-a', 'tool:echo', OTHER_RESOURCE);
      expect(decode(token, 1).aud).toBe(OTHER_RESOURCE);
      await expect401(await post(app, INIT, bearer(token)), INVALID, token);
    });

    it('rejects a token expired beyond the leeway, saying "expired" and nothing more specific (C5)', async () => {
      const token = await as.forge({ iat: now() - 900, exp: now() - 300 });
      await expect401(await post(app, INIT, bearer(token)), EXPIRED, token);
    });

    it('allows the documented clock leeway of 30 s on exp (C5)', async () => {
      const token = await as.forge({ iat: now() - 300, exp: now() - 10 });
      expect((await post(app, INIT, bearer(token))).status).toBe(200);
    });

    it('accepts an audience array holding the resource, and an uppercase scheme and host (C3)', async () => {
      const list = await as.forge({ aud: ['https://other.example', RESOURCE] });
      expect((await post(app, INIT, bearer(list))).status).toBe(200);
      const upper = await as.forge({ aud: RESOURCE.replace('http://localhost', 'HTTP://LOCALHOST') });
      expect((await post(app, INIT, bearer(upper))).status).toBe(200);
    });

    it('rejects a revoked jti on the very next request, every time (C7)', async () => {
      const token = await as.token('agent-a', 'tool:echo');
      const jti = decode(token, 1).jti as string;
      expect((await post(app, call('echo'), bearer(token))).status).toBe(200);

      const revocations = app.app.get(RevocationService);
      const entry = await revocations.revoke({
        jti,
        reason: 'leaked',
        expiresAt: new Date((decode(token, 1).exp as number) * 1000),
      });
      expect(entry).toMatchObject({ jti, reason: 'leaked' });
      // Idempotent: the second revocation keeps the first one's time and reason.
      expect(await revocations.revoke({ jti, reason: 'again' })).toEqual(entry);
      expect(await revocations.isRevoked(jti)).toBe(true);
      expect((await revocations.list()).filter((r) => r.jti === jti)).toEqual([entry]);

      await expect401(await post(app, call('echo'), bearer(token)), INVALID, token);
      await expect401(await post(app, INIT, bearer(token)), INVALID, token);
      // Before the 2026-07-28 header checks: a revoked token learns nothing about its request (not a 400).
      const modern = { ...call('echo'), params: { ...call('echo').params, _meta: MODERN_META } };
      const mismatched = {
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'other',
      };
      await expect401(await post(app, modern, { ...bearer(token), ...mismatched }), INVALID, token);
      const other = await as.token('agent-a', 'tool:echo');
      expect((await post(app, INIT, bearer(other))).status).toBe(200);
    });

    it('refuses exactly the revoked tokens among concurrent requests, which share lookups (C7)', async () => {
      const tokens = await Promise.all(Array.from({ length: 24 }, () => as.token('agent-a', 'tool:echo')));
      const jtis = tokens.map((token) => decode(token, 1).jti as string);
      const revocations = app.app.get(RevocationService);
      const revoked = new Set([3, 10, 17]);
      for (const i of revoked) await revocations.revoke({ jti: jtis[i] });

      const statuses = await Promise.all(
        tokens.map(async (token) => (await post(app, call('echo'), bearer(token))).status),
      );
      expect(statuses).toEqual(tokens.map((_t, i) => (revoked.has(i) ? 401 : 200)));

      // Asked at once: two lookups go out, the other 22 questions wait and share the third statement.
      const before = revocations.lookups.stats.statements;
      expect(await Promise.all(jtis.map((jti) => revocations.isRevoked(jti)))).toEqual(
        jtis.map((_j, i) => revoked.has(i)),
      );
      expect(revocations.lookups.stats.statements - before).toBe(3);
    });
  });

  describe('scopes (§D) and check order (§G)', () => {
    it('answers a tools/call without tool:<name> with 403 insufficient_scope before any stream, and audits it', async () => {
      const token = await as.token('agent-b', 'mcp:admin');
      const res = await post(app, call('echo'), {
        ...bearer(token),
        'user-agent': 'scope-test/1',
        'x-request-id': 'scope-denial-1',
      });
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toBe(insufficient('tool:echo'));
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toMatchObject({
        jsonrpc: '2.0',
        error: { data: { code: 'INSUFFICIENT_SCOPE' } },
        id: null,
      });

      const rows: Record<string, unknown>[] = await app.app
        .get(DataSource)
        .query(`SELECT * FROM audit_event WHERE request_id = 'scope-denial-1'`);
      expect(rows).toEqual([
        expect.objectContaining({
          kind: 'denied',
          outcome: 'denied_scope',
          agent_id: 'agent-b',
          client_id: 'agent-b',
          tool_name: 'echo',
          error_code: 'INSUFFICIENT_SCOPE',
          remote_addr: '127.0.0.1',
          user_agent: 'scope-test/1',
        }),
      ]);
    });

    it('lets the same token through for requests that need no tool scope', async () => {
      const token = await as.token('agent-b', 'mcp:admin');
      expect((await post(app, INIT, bearer(token))).status).toBe(200);
      expect((await post(app, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, bearer(token))).status).toBe(
        200,
      );
    });

    it('names every tool of a batch that lacks its scope in one challenge', async () => {
      const token = await as.token('agent-a', 'mcp:admin');
      const res = await post(app, [call('echo'), { ...call('state.get'), id: 3 }], bearer(token));
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toBe(insufficient('tool:echo tool:state.get'));
    });

    it('pins the order Origin 403 → 401 → scope 403', async () => {
      const evil = { origin: 'https://evil.example' };
      const noScope = bearer(await as.token('agent-b', 'mcp:admin'));

      // A foreign Origin wins over everything, and its 403 carries no Bearer challenge.
      for (const headers of [evil, { ...evil, ...noScope }, { ...evil, authorization: 'Bearer bad' }]) {
        const res = await post(app, call('echo'), headers);
        expect(res.status).toBe(403);
        expect(res.headers.get('www-authenticate')).toBeNull();
        expect(await res.json()).toMatchObject({ error: { data: { code: 'FORBIDDEN_ORIGIN' } } });
      }
      // Then authentication: a bad token is 401 even where the scope would also be missing.
      await expect401(
        await post(app, call('echo'), { origin: TEST_PUBLIC_URL, authorization: 'Bearer bad' }),
        INVALID,
      );
      await expect401(await post(app, call('echo'), { origin: TEST_PUBLIC_URL }), NO_CREDENTIALS);
      // Then scopes.
      const res = await post(app, call('echo'), { origin: TEST_PUBLIC_URL, ...noScope });
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toBe(insufficient('tool:echo'));
    });
  });
});

describe(`JWKS key rotation and refetch rate limit (${databaseKind})`, () => {
  it('accepts a key the IdP publishes after boot, without a restart', async () => {
    const app = await startApp();
    try {
      await app.grant('rotor', 'echo');
      expect((await post(app, call('echo'), await app.bearer('rotor', ['tool:echo']))).status).toBe(200);
      const kid = await app.idp.rotate({ retire: true });
      const token = await app.idp.mint({ sub: 'rotor', scope: 'tool:echo' });
      expect(decode(token, 0).kid).toBe(kid);
      const res = await post(app, call('echo'), bearer(token));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ result: { structuredContent: { text: 'hi' } } });
    } finally {
      await app.close();
    }
  });

  it('fetches the JWKS at most once per cooldown however many unknown kids arrive', async () => {
    const app = await startApp({ env: { AUTH_JWKS_COOLDOWN_SEC: '30' } });
    try {
      expect((await post(app, INIT, await app.bearer('flood', []))).status).toBe(200);
      const before = app.idp.jwksRequests;
      for (let i = 0; i < 20; i++) {
        const token = await app.idp.mint({ sub: 'flood' }, { unpublishedKey: true });
        await expect401(await post(app, INIT, bearer(token)), INVALID, token);
      }
      expect(app.idp.jwksRequests - before).toBeLessThanOrEqual(1);
    } finally {
      await app.close();
    }
  });

  it('verifies RS256 and PS256 keys of the same JWKS and honours the algorithm allow-list', async () => {
    const app = await startApp({ env: { AUTH_ALGORITHMS: 'ES256,PS256' } });
    try {
      const ps = await app.idp.mint({ sub: 'alg' }, { alg: 'PS256' });
      expect((await post(app, INIT, bearer(ps))).status).toBe(200);
      const rs = await app.idp.mint({ sub: 'alg' }, { alg: 'RS256' });
      await expect401(await post(app, INIT, bearer(rs)), INVALID, rs);
    } finally {
      await app.close();
    }
  });
});

describe(`two apps in one process (${databaseKind})`, () => {
  it('keep their own IdP: passport state is per app, not process-wide', async () => {
    const [first, second] = [await startApp(), await startApp()];
    try {
      const [a, b] = [await first.bearer('one', []), await second.bearer('two', [])];
      expect((await post(first, INIT, a)).status).toBe(200);
      expect((await post(second, INIT, b)).status).toBe(200);
      await expect401(await post(first, INIT, b), INVALID);
      await expect401(await post(second, INIT, a), INVALID);
    } finally {
      await first.close();
      await second.close();
    }
  });
});

describe(`IdP discovery and typ policy (${databaseKind})`, () => {
  it('falls back to RFC 8414 metadata when there is no OpenID discovery document', async () => {
    const idp = await TestIdp.start({ discovery: 'oauth' });
    const app = await startApp({ idp, env: { AUTH_JWKS_URI: '' } });
    try {
      expect((await post(app, INIT, await app.bearer('disco', []))).status).toBe(200);
    } finally {
      await app.close();
      await idp.close();
    }
  });

  it('answers 503 (not 401, never 500) while the IdP keys cannot be found, and 401 for no token', async () => {
    const idp = await TestIdp.start({ discovery: 'none' });
    const app = await startApp({ idp, env: { AUTH_JWKS_URI: '' } });
    try {
      const res = await post(app, INIT, await app.bearer('down', []));
      expect(res.status).toBe(503);
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect(await res.json()).toMatchObject({ error: { data: { code: 'AUTH_UNAVAILABLE' } } });
      await expect401(await post(app, INIT), NO_CREDENTIALS);
    } finally {
      await app.close();
      await idp.close();
    }
  });

  it('with AUTH_REQUIRE_AT_JWT=false accepts typ JWT or none, but still no ID tokens or other types', async () => {
    const app = await startApp({ env: { AUTH_REQUIRE_AT_JWT: 'false', AUTH_AGENT_CLAIM: 'azp' } });
    try {
      await app.grant('kc-client', 'echo');
      for (const typ of ['JWT', null]) {
        const token = await app.idp.mint({ sub: 'user-uuid', azp: 'kc-client', scope: 'tool:echo' }, { typ });
        expect((await post(app, call('echo'), bearer(token))).status).toBe(200);
      }
      const idToken = await app.idp.mint({ sub: 'u', azp: 'kc-client', nonce: 'n' }, { typ: 'JWT' });
      await expect401(await post(app, INIT, bearer(idToken)), INVALID, idToken);
      const logout = await app.idp.mint({ sub: 'u', azp: 'kc-client' }, { typ: 'logout+jwt' });
      await expect401(await post(app, INIT, bearer(logout)), INVALID, logout);
    } finally {
      await app.close();
    }
  });
});

describe(`dev auth (${databaseKind})`, () => {
  it('accepts a token minted by the npm run token code path, verified like any other', async () => {
    const app = await startApp({ env: { AUTH_ISSUER: '', AUTH_JWKS_URI: '' } });
    try {
      await app.grant('alice', 'echo');
      const minted = await mintTokenCommand(
        ['--agent', 'alice', '--scope', 'tool:echo tool:counter.increment', '--ttl', '15m'],
        app.env,
      );
      expect(minted.scopes).toEqual(['tool:echo', 'tool:counter.increment']);
      expect(decode(minted.token, 0)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
      expect(decode(minted.token, 1)).toMatchObject({
        iss: `${TEST_PUBLIC_URL}/dev-auth`,
        aud: RESOURCE,
        sub: 'alice',
        scope: 'tool:echo tool:counter.increment',
      });
      const client = await connectClient(app.mcpUrl, bearer(minted.token));
      expect((await client.callTool({ name: 'echo', arguments: { text: 'dev' } })).structuredContent).toEqual(
        {
          text: 'dev',
        },
      );
      await client.close();

      // Its public key is published; the metadata names the dev issuer; an outside IdP's token is refused.
      const jwks = (await (await fetch(`${app.baseUrl}/dev-auth/jwks.json`)).json()) as { keys: JWK[] };
      expect(jwks.keys).toEqual([
        expect.objectContaining({ kty: 'EC', crv: 'P-256', kid: decode(minted.token, 0).kid }),
      ]);
      expect(jwks.keys[0]).not.toHaveProperty('d');
      const prm = (await (await fetch(`${app.baseUrl}/.well-known/oauth-protected-resource/mcp`)).json()) as {
        authorization_servers: string[];
      };
      expect(prm.authorization_servers).toEqual([`${TEST_PUBLIC_URL}/dev-auth`]);
      const foreign = await app.idp.mint({ sub: 'alice', scope: 'tool:echo' }, { audience: RESOURCE });
      await expect401(await post(app, INIT, bearer(foreign)), INVALID, foreign);
    } finally {
      await app.close();
    }
  });

  it('has no dev key endpoint and no token command when an IdP is configured', async () => {
    const app = await startApp();
    try {
      expect((await fetch(`${app.baseUrl}/dev-auth/jwks.json`)).status).toBe(404);
      await expect(mintTokenCommand(['--agent', 'alice'], app.env)).rejects.toBeInstanceOf(TokenUsageError);
    } finally {
      await app.close();
    }
  });

  it('refuses to boot in production without AUTH_ISSUER, naming the variable', async () => {
    const boot = startApp({ env: { NODE_ENV: 'production', AUTH_ISSUER: '', AUTH_JWKS_URI: '' } });
    await expect(boot).rejects.toBeInstanceOf(ConfigError);
    await expect(boot).rejects.toThrow(/AUTH_ISSUER: required when NODE_ENV=production/);
  });
});

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function flipSignature(token: string): string {
  const [header, payload, signature] = token.split('.');
  const bytes = Buffer.from(signature, 'base64url');
  bytes[0] ^= 0x01;
  return `${header}.${payload}.${bytes.toString('base64url')}`;
}
