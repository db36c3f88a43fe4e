import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config.js';

/**
 * The Redis client of the rate limiter when `REDIS_URL` is set (otherwise `client` is undefined and limits
 * live in memory). Commands never queue while Redis is down: they fail at once, so the limiter applies its
 * `RATE_LIMIT_REDIS_FAILURE` policy without making callers wait; the client reconnects in the background.
 */
@Injectable()
export class RedisConnection implements OnApplicationShutdown {
  readonly client: Redis | undefined;
  private lastError = 0;

  constructor(config: AppConfig, logger: PinoLogger) {
    logger.setContext('redis');
    if (!config.redisUrl) return;
    this.client = new Redis(config.redisUrl, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      commandTimeout: 1000,
      // Back off, but never more than 0.5 s between attempts: after an outage, limits work again within ~0.5 s.
      retryStrategy: (times) => Math.min(times * 100, 500),
    });
    this.client.on('error', (err: Error) => {
      // One line per 10 s at most: a Redis outage must not flood the log.
      if (Date.now() - this.lastError < 10_000) return;
      this.lastError = Date.now();
      logger.warn({ err }, 'redis unavailable');
    });
    this.client.connect().catch(() => undefined); // failures are reported by the 'error' handler above
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.client) return;
    if (this.client.status === 'ready') await this.client.quit().catch(() => this.client!.disconnect());
    else this.client.disconnect(); // also stops reconnecting
  }
}
