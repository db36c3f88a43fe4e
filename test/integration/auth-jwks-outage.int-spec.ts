import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { jest } from '@jest/globals';
import type { PinoLogger } from 'nestjs-pino';
import { AuthUnavailableError, TokenRejectedError } from '../../src/auth/auth.errors.js';
import type { DevAuthService } from '../../src/auth/dev-auth.service.js';
import { SigningKeyResolver } from '../../src/auth/signing-key.resolver.js';
import { loadConfig } from '../../src/config/app-config.js';
import { TestIdp } from '../utils/idp.js';

/**
 * Issue #15 class 7: an IdP outage must not take the service down. The resolver runs against a real loopback JWKS
 * endpoint that the test can take down (connection refused) or make hang (accepts, never answers), with a fake
 * clock (only `Date` is faked: sockets, fetch timeouts and `performance.now()` stay real).
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2030, 0, 1);
const logger = {
  setContext: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
} as unknown as PinoLogger;

type Mode = 'up' | 'down' | 'hang';

/** The IdP's JWKS endpoint as the network sees it: serving, refusing (socket destroyed) or hanging. */
class JwksFront {
  mode: Mode = 'up';
  requests = 0;
  private readonly sockets = new Set<Socket>();
  private readonly hung = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(idp: TestIdp): Promise<JwksFront> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const front = new JwksFront(
      server,
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
    );
    server.on('connection', (socket) => {
      front.sockets.add(socket);
      socket.on('close', () => front.sockets.delete(socket));
    });
    server.on('request', (req, res) => {
      front.requests++;
      if (front.mode === 'down') return req.socket.destroy();
      if (front.mode === 'hang') return void front.hung.add(res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(idp.jwks()));
    });
    return front;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('JWKS outage policy (SigningKeyResolver, fake clock, real loopback IdP)', () => {
  let idp: TestIdp;
  let front: JwksFront;

  beforeEach(async () => {
    jest.useFakeTimers({
      doNotFake: [
        'hrtime',
        'nextTick',
        'performance',
        'queueMicrotask',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
      ],
      now: T0,
    });
    idp = await TestIdp.start();
    front = await JwksFront.start(idp);
  });
  afterEach(async () => {
    jest.useRealTimers();
    await front.close();
    await idp.close();
  });

  function resolver(env: Record<string, string> = {}): SigningKeyResolver {
    const config = loadConfig({
      AUTH_ISSUER: idp.issuer,
      AUTH_JWKS_URI: front.url,
      AUTH_JWKS_COOLDOWN_SEC: '30',
      AUTH_JWKS_TIMEOUT_MS: '400',
      ...env,
    });
    return new SigningKeyResolver(config, {} as DevAuthService, logger);
  }
  const at = (ms: number) => jest.setSystemTime(T0 + ms);
  const token = (kid?: string) => idp.mint({ sub: 'agent' }, kid ? { kid } : {});

  /** The outcome of resolving a token's key, and how long it took (real time). */
  async function timed(r: SigningKeyResolver, jwt: string): Promise<{ outcome: string; ms: number }> {
    const started = performance.now();
    const outcome = await r.keyFor(jwt).then(
      () => 'key',
      (error: unknown) =>
        error instanceof AuthUnavailableError
          ? 'unavailable'
          : error instanceof TokenRejectedError
            ? 'rejected'
            : `other: ${String(error)}`,
    );
    return { outcome, ms: performance.now() - started };
  }

  /** Lets a background refresh finish (it runs on real sockets). */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

  it('keeps verifying with the last good keys while the IdP is down, past 10 minutes and for hours', async () => {
    const r = resolver();
    const jwt = await token();
    expect((await timed(r, jwt)).outcome).toBe('key');
    front.mode = 'down';
    for (const elapsed of [11 * MINUTE, 2 * HOUR, 23 * HOUR]) {
      at(elapsed);
      expect({ elapsed, ...(await timed(r, jwt)) }).toMatchObject({ elapsed, outcome: 'key' });
    }
  });

  it('stops using them after AUTH_JWKS_STALE_MAX_SEC: 503, and works again once the IdP is back', async () => {
    const r = resolver({ AUTH_JWKS_STALE_MAX_SEC: String(6 * 3600) });
    const jwt = await token();
    expect((await timed(r, jwt)).outcome).toBe('key');
    front.mode = 'down';
    at(5 * HOUR);
    expect((await timed(r, jwt)).outcome).toBe('key');
    at(6 * HOUR + MINUTE);
    expect((await timed(r, jwt)).outcome).toBe('unavailable');
    front.mode = 'up';
    at(6 * HOUR + 2 * MINUTE); // past the cooldown since the last failed fetch
    expect((await timed(r, jwt)).outcome).toBe('key');
  });

  it('defaults: a stale limit of at least 24 h and a fetch timeout of at most 2 s', () => {
    const { auth } = loadConfig({ AUTH_ISSUER: 'https://idp.example' });
    expect(auth.jwksStaleMaxSec).toBeGreaterThanOrEqual(24 * 3600);
    expect(auth.jwksTimeoutMs).toBeLessThanOrEqual(2000);
  });

  it('never makes a request with a known kid wait for a hung IdP; an unknown kid waits at most the timeout', async () => {
    const r = resolver();
    const jwt = await token();
    expect((await timed(r, jwt)).outcome).toBe('key');
    front.mode = 'hang';
    at(11 * MINUTE);
    const known = await timed(r, jwt);
    expect(known.outcome).toBe('key');
    expect(known.ms).toBeLessThan(150);
    // A kid the cached JWKS does not hold: the server must ask the IdP, which hangs → 503 after the fetch timeout.
    at(12 * MINUTE);
    const unknown = await timed(r, await idp.mint({ sub: 'agent' }, { unpublishedKey: true }));
    expect(unknown.outcome).toBe('unavailable');
    expect(unknown.ms).toBeLessThan(400 + 600);
    // And the known kid still answers at once while all that goes on.
    const again = await timed(r, jwt);
    expect(again).toMatchObject({ outcome: 'key' });
    expect(again.ms).toBeLessThan(150);
  });

  it('answers an unknown kid 503 at once during an outage, fetching at most once per cooldown', async () => {
    const r = resolver();
    expect((await timed(r, await token())).outcome).toBe('key');
    front.mode = 'down';
    at(MINUTE);
    const before = front.requests;
    for (let i = 0; i < 5; i++) {
      const res = await timed(r, await idp.mint({ sub: 'agent' }, { unpublishedKey: true }));
      expect(res.outcome).toBe('unavailable');
      expect(res.ms).toBeLessThan(400 + 600);
    }
    expect(front.requests - before).toBeLessThanOrEqual(1);
  });

  it('with no keys yet and a hung IdP, answers 503 within the fetch timeout', async () => {
    front.mode = 'hang';
    const res = await timed(resolver(), await token());
    expect(res.outcome).toBe('unavailable');
    expect(res.ms).toBeLessThan(400 + 600);
  });

  it('refreshes in the background: a new key is picked up and a removed key stops working', async () => {
    const r = resolver({ AUTH_JWKS_COOLDOWN_SEC: '3600' }); // no unknown-kid refetch: only the refresh can help
    const old = await token();
    expect((await timed(r, old)).outcome).toBe('key');
    const kid = await idp.rotate({ retire: true });
    const fresh = await token(kid);
    at(5 * MINUTE);
    expect((await timed(r, fresh)).outcome).toBe('rejected'); // unknown, and refetching is on cooldown
    at(11 * MINUTE);
    // Still the cached JWKS for this request (no wait), which starts the refresh.
    const first = await timed(r, old);
    expect(first.outcome).toBe('key');
    expect(first.ms).toBeLessThan(150);
    await settle();
    expect((await timed(r, fresh)).outcome).toBe('key');
    expect((await timed(r, old)).outcome).toBe('rejected');
  });
});
