import { Module, OnApplicationShutdown, Inject } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { MemoryThrottlerStorage } from '../resilience/memory-throttler.storage.js';
import { RedisConnection } from '../resilience/redis-connection.js';
import { RedisThrottlerStorage } from '../resilience/redis-throttler.storage.js';
import { RATE_LIMIT_STORAGE } from '../resilience/resilience.constants.js';
import { ToolsModule } from '../tools/tools.module.js';
import { RateLimitGuard } from './rate-limit.guard.js';

/**
 * Rate limits. The guard is exported for the composition root, which registers it as a global guard after
 * authentication and scopes. Storage: Redis when REDIS_URL is set, else memory.
 *
 * `@nestjs/throttler` is used for its storage contract only (types): its runtime is CommonJS and `require()`s
 * `@nestjs/common`, which is ESM-only in Nest 12. Node ≥ 20.19 loads that, but Jest's module runtime cannot
 * (before Node 24.9), so the whole test suite could not boot the app. The guard is therefore ours (~100 lines).
 */
@Module({
  imports: [ToolsModule],
  providers: [
    RedisConnection,
    {
      provide: RATE_LIMIT_STORAGE,
      inject: [RedisConnection],
      useFactory: (redis: RedisConnection): ThrottlerStorage =>
        redis.client ? new RedisThrottlerStorage(redis.client) : new MemoryThrottlerStorage(),
    },
    RateLimitGuard,
  ],
  exports: [RateLimitGuard],
})
export class RateLimitModule implements OnApplicationShutdown {
  constructor(@Inject(RATE_LIMIT_STORAGE) private readonly storage: ThrottlerStorage) {}

  onApplicationShutdown(): void {
    if (this.storage instanceof MemoryThrottlerStorage) this.storage.close();
  }
}
