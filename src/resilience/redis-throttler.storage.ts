import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Redis } from 'ioredis';

/**
 * One atomic step of a fixed window counter (and an optional block) in Redis:
 * KEYS[1] hit counter, KEYS[2] block marker; ARGV ttl ms, limit, block duration ms.
 * Returns { hits, ms until the window resets, blocked (0|1), ms until the block ends }.
 */
const INCREMENT = `
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
local blockTtl = redis.call('PTTL', KEYS[2])
if blockTtl > 0 then
  return { hits, ttl, 1, blockTtl }
end
if hits > tonumber(ARGV[2]) then
  local block = tonumber(ARGV[3])
  if block > 0 then
    redis.call('SET', KEYS[2], '1', 'PX', block)
    return { hits, ttl, 1, block }
  end
  return { hits, ttl, 1, ttl }
end
return { hits, ttl, 0, 0 }
`;

interface RedisWithIncrement extends Redis {
  mcpThrottleIncrement(
    counterKey: string,
    blockKey: string,
    ttlMs: number,
    limit: number,
    blockMs: number,
  ): Promise<[number, number, number, number]>;
}

/**
 * `@nestjs/throttler` storage in Redis, so that every replica counts against one limit. Each increment is one
 * Lua script (atomic; sent once, then run by SHA). Fixed windows of `ttl`: a window starts with its first hit.
 * Keys: `<prefix><throttler key>` and `<prefix><throttler key>:blocked`, both expiring on their own.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly redis: RedisWithIncrement;

  constructor(
    redis: Redis,
    private readonly prefix = 'mcp:ratelimit:',
  ) {
    if (!('mcpThrottleIncrement' in redis)) {
      redis.defineCommand('mcpThrottleIncrement', { numberOfKeys: 2, lua: INCREMENT });
    }
    this.redis = redis as RedisWithIncrement;
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, _throttlerName?: string) {
    const counter = `${this.prefix}${key}`;
    const [totalHits, ttlMs, blocked, blockMs] = await this.redis.mcpThrottleIncrement(
      counter,
      `${counter}:blocked`,
      ttl,
      limit,
      blockDuration,
    );
    return {
      totalHits,
      timeToExpire: Math.ceil(ttlMs / 1000),
      isBlocked: blocked === 1,
      timeToBlockExpire: Math.ceil(blockMs / 1000),
    };
  }
}
