import { Logger } from '@nestjs/common';
import type { Logger as TypeOrmLoggerInterface } from 'typeorm';
import { outageLog } from '../common/logging/outage-log.js';

/** TypeORM's warning when a pooled connection fails while idle (the database went away). */
const POOL_ERROR = 'Postgres pool raised an error.';

/**
 * Routes TypeORM's messages into the app's pino logger (never the console); queries are not logged, nor their
 * parameters (the `err` serializer strips them). Failures caused by a database outage go through the outage log:
 * one line per cause per interval, not one per failed query.
 */
export class TypeOrmLogger implements TypeOrmLoggerInterface {
  private readonly logger = new Logger('typeorm');

  logQuery(): void {}
  logQueryError(error: string | Error, query: string): void {
    outageLog.report(this.logger, error, 'query failed', { query });
  }
  logQuerySlow(time: number, query: string): void {
    this.logger.warn({ durationMs: time, query }, 'slow query');
  }
  logSchemaBuild(message: string): void {
    this.logger.debug(message);
  }
  logMigration(message: string): void {
    this.logger.log(message);
  }
  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (typeof message === 'string' && message.startsWith(POOL_ERROR))
      outageLog.warnOnce(this.logger, 'idle database connection failed', 'database connection lost', {
        error: message.slice(POOL_ERROR.length).trim(),
      });
    else if (level === 'warn') this.logger.warn(message);
    else this.logger.log(message);
  }
}
