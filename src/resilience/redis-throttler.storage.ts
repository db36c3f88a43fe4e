import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Redis } from 'ioredis';

/**
 * Hits of several fixed-window counters at once (each with an optional block) in Redis, atomically, in one
 * round trip: for counter i, KEYS[2i-1] its hit counter and KEYS[2i] its block marker; ARGV[4i-3..4i] its ttl ms,
 * limit, block duration ms and the n hits to add. Returns, per counter, { hits after its n, ms until its window
 * resets, ms left of a block set before (0 = none), ms of a block set now (0 = none) }, flattened. Which of the
 * n hits are over the limit is the caller's arithmetic.
 */
const INCREMENT_MANY = `
local out = {}
for i = 1, #KEYS, 2 do
  local a = (i - 1) * 2
  local counter, blockKey = KEYS[i], KEYS[i + 1]
  local hits = redis.call('INCRBY', counter, ARGV[a + 4])
  local ttl = redis.call('PTTL', counter)
  if ttl < 0 then
    redis.call('PEXPIRE', counter, ARGV[a + 1])
    ttl = tonumber(ARGV[a + 1])
  end
  local blockTtl = redis.call('PTTL', blockKey)
  local block = tonumber(ARGV[a + 3])
  local blockedBefore, blockedNow = 0, 0
  if blockTtl > 0 then
    blockedBefore = blockTtl
  elseif hits > tonumber(ARGV[a + 2]) and block > 0 then
    redis.call('SET', blockKey, '1', 'PX', block)
    blockedNow = block
  end
  table.insert(out, hits)
  table.insert(out, ttl)
  table.insert(out, blockedBefore)
  table.insert(out, blockedNow)
end
return out
`;

interface RedisWithIncrement extends Redis {
  /** `numberOfKeys`, then the keys, then the arguments (see INCREMENT_MANY). */
  mcpThrottleIncrementMany(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<number[]>;
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
 * `@nestjs/throttler` storage in Redis, so that every replica counts against one limit. The hits that arrive in
 * the same event-loop turn (a call's per-agent and per-tool counters, concurrent calls of one agent) go out as ONE
 * Lua script (atomic; sent once, then run by SHA) that adds each counter's hits: one round trip per turn instead
 * of one per counter or per call, and each hit still gets its own exact count, as if they had been sent one by
 * one in arrival order. Fixed windows of `ttl`: a window starts with its first hit. Keys: `<prefix><throttler key>`
 * and `<prefix><throttler key>:blocked`, both expiring on their own.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly redis: RedisWithIncrement;
  private pending = new Map<string, Pending>();

  constructor(
    redis: Redis,
    private readonly prefix = 'mcp:ratelimit:',
  ) {
    if (!('mcpThrottleIncrementMany' in redis)) {
      redis.defineCommand('mcpThrottleIncrementMany', { lua: INCREMENT_MANY });
    }
    this.redis = redis as RedisWithIncrement;
  }

  increment(key: string, ttl: number, limit: number, blockDuration: number, _throttlerName?: string) {
    return new Promise<ThrottleRecord>((resolve, reject) => {
      if (this.pending.size === 0) setImmediate(() => void this.flush());
      const id = `${ttl}|${limit}|${blockDuration}|${key}`;
      let group = this.pending.get(id);
      if (!group) this.pending.set(id, (group = { key, ttl, limit, blockDuration, waiters: [] }));
      group.waiters.push({ resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const groups = [...this.pending.values()];
    this.pending = new Map();
    const keysThenArgs: (string | number)[] = [];
    for (const { key } of groups) keysThenArgs.push(`${this.prefix}${key}`, `${this.prefix}${key}:blocked`);
    for (const { ttl, limit, blockDuration, waiters } of groups)
      keysThenArgs.push(ttl, limit, blockDuration, waiters.length);
    let reply: number[];
    try {
      reply = await this.redis.mcpThrottleIncrementMany(groups.length * 2, ...keysThenArgs);
    } catch (error) {
      for (const { waiters } of groups) for (const waiter of waiters) waiter.reject(error);
      return;
    }
    groups.forEach(({ limit, waiters }, g) => {
      const [hits, ttlMs, blockedBefore, blockedNow] = reply.slice(g * 4, g * 4 + 4);
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
    });
  }
}
