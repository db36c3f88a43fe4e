import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Redis } from 'ioredis';

/**
 * `n` hits of a fixed window counter at once (and an optional block) in Redis, atomically:
 * KEYS[1] hit counter, KEYS[2] block marker; ARGV ttl ms, limit, block duration ms, n.
 * Returns { hits after the n, ms until the window resets, ms left of a block set before (0 = none),
 * ms of a block set now (0 = none) }. Which of the n hits are over the limit is the caller's arithmetic.
 */
const INCREMENT = `
local hits = redis.call('INCRBY', KEYS[1], ARGV[4])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
local blockTtl = redis.call('PTTL', KEYS[2])
if blockTtl > 0 then
  return { hits, ttl, blockTtl, 0 }
end
local block = tonumber(ARGV[3])
if hits > tonumber(ARGV[2]) and block > 0 then
  redis.call('SET', KEYS[2], '1', 'PX', block)
  return { hits, ttl, 0, block }
end
return { hits, ttl, 0, 0 }
`;

interface RedisWithIncrement extends Redis {
  mcpThrottleIncrementBy(
    counterKey: string,
    blockKey: string,
    ttlMs: number,
    limit: number,
    blockMs: number,
    n: number,
  ): Promise<[number, number, number, number]>;
}

type ThrottleRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** Hits of one counter (same key, window, limit and block) waiting for the end of this event-loop turn. */
interface Pending {
  key: string;
  ttl: number;
  limit: number;
  blockDuration: number;
  waiters: { resolve(record: ThrottleRecord): void; reject(error: unknown): void }[];
}

/**
 * `@nestjs/throttler` storage in Redis, so that every replica counts against one limit. Hits of one counter that
 * arrive in the same event-loop turn (concurrent calls of one agent) go out as ONE Lua script (atomic; sent once,
 * then run by SHA) that adds them all: one round trip instead of one per call, and each hit still gets its own
 * exact count, as if they had been sent one by one in arrival order. Fixed windows of `ttl`: a window starts with
 * its first hit. Keys: `<prefix><throttler key>` and `<prefix><throttler key>:blocked`, both expiring on their own.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly redis: RedisWithIncrement;
  private pending = new Map<string, Pending>();

  constructor(
    redis: Redis,
    private readonly prefix = 'mcp:ratelimit:',
  ) {
    if (!('mcpThrottleIncrementBy' in redis)) {
      redis.defineCommand('mcpThrottleIncrementBy', { numberOfKeys: 2, lua: INCREMENT });
    }
    this.redis = redis as RedisWithIncrement;
  }

  increment(key: string, ttl: number, limit: number, blockDuration: number, _throttlerName?: string) {
    return new Promise<ThrottleRecord>((resolve, reject) => {
      if (this.pending.size === 0) setImmediate(() => this.flush());
      const id = `${ttl}|${limit}|${blockDuration}|${key}`;
      let group = this.pending.get(id);
      if (!group) this.pending.set(id, (group = { key, ttl, limit, blockDuration, waiters: [] }));
      group.waiters.push({ resolve, reject });
    });
  }

  private flush(): void {
    const groups = this.pending;
    this.pending = new Map();
    for (const group of groups.values()) void this.send(group);
  }

  private async send({ key, ttl, limit, blockDuration, waiters }: Pending): Promise<void> {
    const counter = `${this.prefix}${key}`;
    let reply: [number, number, number, number];
    try {
      reply = await this.redis.mcpThrottleIncrementBy(
        counter,
        `${counter}:blocked`,
        ttl,
        limit,
        blockDuration,
        waiters.length,
      );
    } catch (error) {
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    const [hits, ttlMs, blockedBefore, blockedNow] = reply;
    const first = hits - waiters.length + 1; // the count of the first hit of this group
    waiters.forEach((waiter, i) => {
      const totalHits = first + i;
      const over = totalHits > limit;
      const blockMs = blockedBefore || (over ? blockedNow || ttlMs : 0);
      waiter.resolve({
        totalHits,
        timeToExpire: Math.ceil(ttlMs / 1000),
        isBlocked: blockedBefore > 0 || over,
        timeToBlockExpire: Math.ceil(blockMs / 1000),
      });
    });
  }
}
