import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { Redis } from 'ioredis';
import { MemoryThrottlerStorage } from '../../src/resilience/memory-throttler.storage.js';
import { RedisConnection } from '../../src/resilience/redis-connection.js';
import { RedisThrottlerStorage } from '../../src/resilience/redis-throttler.storage.js';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { TestIdp } from '../utils/idp.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function callEcho(app: TestApp, auth: Record<string, string>) {
  return fetch(app.mcpUrl, {
    method: 'POST',
    headers: { ...HEADERS, ...auth },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'hi' } },
    }),
  });
}

describe('rate-limit storage', () => {
  const redis = new Redis(REDIS_URL);
  const other = new Redis(REDIS_URL);
  const memory = new MemoryThrottlerStorage();
  afterAll(async () => {
    memory.close();
    await redis.quit();
    await other.quit();
  });

  const stores: [string, () => ThrottlerStorage][] = [
    ['redis', () => new RedisThrottlerStorage(redis)],
    ['memory', () => memory],
  ];

  describe.each(stores)('%s', (_kind, store) => {
    it('allows exactly `limit` hits per window, then blocks until the window ends', async () => {
      const key = `test:${randomUUID()}`;
      const s = store();
      for (let i = 1; i <= 3; i++) {
        expect(await s.increment(key, 400, 3, 0, 'agent')).toMatchObject({ totalHits: i, isBlocked: false });
      }
      const blocked = await s.increment(key, 400, 3, 0, 'agent');
      expect(blocked).toMatchObject({ totalHits: 4, isBlocked: true, timeToBlockExpire: 1 });
      await sleep(450);
      expect(await s.increment(key, 400, 3, 0, 'agent')).toMatchObject({ totalHits: 1, isBlocked: false });
    });

    it('keeps a block for blockDuration when one is given', async () => {
      const key = `test:${randomUUID()}`;
      const s = store();
      await s.increment(key, 200, 1, 0, 'agent');
      expect(await s.increment(key, 200, 1, 2000, 'agent')).toMatchObject({
        isBlocked: true,
        timeToBlockExpire: 2,
      });
      await sleep(250); // the window is over, the block is not
      expect(await s.increment(key, 200, 1, 2000, 'agent')).toMatchObject({ isBlocked: true });
    });

    it('counts concurrent hits exactly once each', async () => {
      const key = `test:${randomUUID()}`;
      const s = store();
      const results = await Promise.all(
        Array.from({ length: 50 }, () => s.increment(key, 5000, 20, 0, 'agent')),
      );
      expect(results.map((r) => r.totalHits).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      expect(results.filter((r) => !r.isBlocked)).toHaveLength(20);
    });
  });

  it('sends the hits that arrive together as ONE script, each counter still counted in order', async () => {
    const s = new RedisThrottlerStorage(redis);
    const sent = jest.spyOn(
      redis as unknown as { mcpThrottleIncrementMany: () => unknown },
      'mcpThrottleIncrementMany',
    );
    try {
      const [a, b] = [`test:${randomUUID()}`, `test:${randomUUID()}`];
      const hits = await Promise.all([
        ...Array.from({ length: 10 }, () => s.increment(a, 5000, 4, 0, 'agent')),
        s.increment(b, 5000, 4, 2000, 'tool'),
      ]);
      expect(sent).toHaveBeenCalledTimes(1); // one round trip for both counters, not one per counter or hit
      expect(hits.slice(0, 10).map((h) => [h.totalHits, h.isBlocked])).toEqual(
        Array.from({ length: 10 }, (_, i) => [i + 1, i >= 4]),
      );
      expect(hits[10]).toMatchObject({ totalHits: 1, isBlocked: false, timeToExpire: 5 });
      // The next turn's hits continue each count; b's own block duration applies to b only.
      const [a11, b2, b3, b4, b5, b6] = await Promise.all([
        s.increment(a, 5000, 4, 0, 'agent'),
        ...Array.from({ length: 5 }, () => s.increment(b, 5000, 4, 2000, 'tool')),
      ]);
      expect(a11).toMatchObject({ totalHits: 11, isBlocked: true, timeToBlockExpire: 5 });
      expect([b2, b3, b4].map((h) => h.isBlocked)).toEqual([false, false, false]);
      expect(b5).toMatchObject({ totalHits: 5, isBlocked: true, timeToBlockExpire: 2 });
      expect(b6).toMatchObject({ totalHits: 6, isBlocked: true });
      expect(await redis.pttl(`mcp:ratelimit:${b}:blocked`)).toBeGreaterThan(1000);
      expect(await redis.exists(`mcp:ratelimit:${a}:blocked`)).toBe(0);
    } finally {
      sent.mockRestore();
    }
  });

  it('shares one counter between Redis clients (replicas)', async () => {
    const key = `test:${randomUUID()}`;
    const a = new RedisThrottlerStorage(redis);
    const b = new RedisThrottlerStorage(other);
    expect(await a.increment(key, 5000, 2, 0, 'agent')).toMatchObject({ totalHits: 1, isBlocked: false });
    expect(await b.increment(key, 5000, 2, 0, 'agent')).toMatchObject({ totalHits: 2, isBlocked: false });
    expect(await a.increment(key, 5000, 2, 0, 'agent')).toMatchObject({ totalHits: 3, isBlocked: true });
  });
});

describe(`rate limits across replicas sharing Redis (${databaseKind})`, () => {
  let idp: TestIdp;
  let first: TestApp;
  let second: TestApp;
  beforeAll(async () => {
    idp = await TestIdp.start();
    const env = { REDIS_URL, RATE_LIMIT_AGENT_PER_MINUTE: '4', RATE_LIMIT_TOOL_PER_MINUTE: '100' };
    first = await startApp({ idp, env });
    second = await startApp({ idp, env });
  });
  afterAll(async () => {
    await first.close();
    await second.close();
    await idp.close();
  });

  it('costs a call ONE Redis command for both its limits (per agent and per tool)', async () => {
    const agentId = `agent-${randomUUID()}`;
    await first.grant(agentId, 'echo');
    const auth = await first.bearer(agentId, ['tool:echo']);
    const client = first.app.get(RedisConnection).client!;
    const commands: string[] = [];
    const send = client.sendCommand.bind(client);
    const spy = jest.spyOn(client, 'sendCommand').mockImplementation((command, stream) => {
      commands.push((command as { name: string }).name);
      return send(command, stream);
    });
    try {
      for (let i = 0; i < 2; i++) {
        commands.length = 0;
        const ok = await callEcho(first, auth); // per tool limit on (RATE_LIMIT_TOOL_PER_MINUTE)
        expect(ok.status).toBe(200);
        await ok.body?.cancel();
        expect(commands).toEqual(['evalsha']);
      }
      expect(await client.get(`mcp:ratelimit:agent:${agentId}`)).toBe('2');
      expect(await client.get(`mcp:ratelimit:tool:${agentId}:echo`)).toBe('2');
    } finally {
      spy.mockRestore();
    }
  });

  it('enforces one global limit: N calls over both instances, then 429 on either', async () => {
    const agentId = `agent-${randomUUID()}`;
    await first.grant(agentId, 'echo');
    await second.grant(agentId, 'echo');
    const auth = await first.bearer(agentId, ['tool:echo']);
    for (const app of [first, second, first, second]) {
      const ok = await callEcho(app, auth);
      expect(ok.status).toBe(200);
      await ok.body?.cancel();
    }
    for (const app of [first, second]) {
      const refused = await callEcho(app, auth);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await refused.json()).toMatchObject({ error: { data: { code: 'RATE_LIMITED', perMinute: 4 } } });
    }
  });
});

describe(`Redis outage policy (${databaseKind})`, () => {
  // Nothing listens on port 1: every Redis command fails at once.
  const DEAD_REDIS = 'redis://127.0.0.1:1';

  it.each([
    ['open', 200],
    ['closed', 503],
  ])('RATE_LIMIT_REDIS_FAILURE=%s answers %d while Redis is down', async (policy, status) => {
    const app = await startApp({
      env: { REDIS_URL: DEAD_REDIS, RATE_LIMIT_REDIS_FAILURE: policy, RATE_LIMIT_AGENT_PER_MINUTE: '1' },
    });
    try {
      const agentId = `agent-${randomUUID()}`;
      await app.grant(agentId, 'echo');
      const auth = await app.bearer(agentId, ['tool:echo']);
      for (let i = 0; i < 3; i++) {
        const res = await callEcho(app, auth);
        expect(res.status).toBe(status);
        if (status === 503) {
          expect(res.headers.get('retry-after')).toBe('1');
          expect(await res.json()).toMatchObject({ error: { data: { code: 'RATE_LIMIT_UNAVAILABLE' } } });
        } else {
          await res.body?.cancel();
        }
      }
    } finally {
      await app.close();
    }
  });
});
