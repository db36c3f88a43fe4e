import type { ThrottlerStorage } from '@nestjs/throttler';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

interface Window {
  hits: number;
  resetAt: number;
  blockedUntil: number;
}

/**
 * In-process rate-limit counters (no REDIS_URL): the same fixed-window semantics as `RedisThrottlerStorage`,
 * behind the same `@nestjs/throttler` storage contract. Each replica counts on its own.
 */
export class MemoryThrottlerStorage implements ThrottlerStorage {
  private readonly windows = new Map<string, Window>();
  private readonly sweeper = setInterval(() => this.sweep(), 60_000).unref();

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
  ): Promise<ThrottlerStorageRecord> {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { hits: 0, resetAt: now + ttl, blockedUntil: window?.blockedUntil ?? 0 };
      this.windows.set(key, window);
    }
    window.hits++;
    const timeToExpire = Math.ceil((window.resetAt - now) / 1000);
    if (window.blockedUntil > now) {
      return {
        totalHits: window.hits,
        timeToExpire,
        isBlocked: true,
        timeToBlockExpire: Math.ceil((window.blockedUntil - now) / 1000),
      };
    }
    if (window.hits > limit) {
      if (blockDuration > 0) window.blockedUntil = now + blockDuration;
      const until = blockDuration > 0 ? window.blockedUntil : window.resetAt;
      return {
        totalHits: window.hits,
        timeToExpire,
        isBlocked: true,
        timeToBlockExpire: Math.ceil((until - now) / 1000),
      };
    }
    return { totalHits: window.hits, timeToExpire, isBlocked: false, timeToBlockExpire: 0 };
  }

  /** Forgets windows that ended (and blocks that ran out). */
  sweep(now = Date.now()): void {
    for (const [key, window] of this.windows) {
      if (window.resetAt <= now && window.blockedUntil <= now) this.windows.delete(key);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
