import { Injectable, Logger } from '@nestjs/common';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';

/** A statement on a per-call path; `name` identifies its prepared form on each pooled connection. */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

/** Whether HotSql prepares named statements: on PostgreSQL (a DATABASE_URL) unless DB_PREPARED_STATEMENTS=false. */
export function namesStatements(
  database: Pick<AppConfig['database'], 'preparedStatements' | 'url'>,
): boolean {
  return database.preparedStatements && database.url !== undefined;
}

/** duplicate_prepared_statement, invalid_sql_statement_name (does not exist): the session is not ours alone. */
const SHARED_SESSION = new Set(['42P05', '26000']);
/** Same threshold as TypeORM's `maxQueryExecutionTime` (data-source-options.ts). */
const SLOW_MS = 1000;

/**
 * Runs the statements every tool call makes (revocation, kill switch + grant, state, audit) as named prepared
 * statements on the pg pool: PostgreSQL parses and plans each once per connection instead of on every call, as
 * it must for TypeORM's `query()` (unnamed statements); the pool's sessions then use generic plans
 * (`plan_cache_mode`, data-source-options.ts), or PostgreSQL would still re-plan some of them on every call. On this machine that tripled the statements per second
 * PostgreSQL could answer (README "Benchmark"). Plain statements instead on the embedded database (PGlite serves
 * every connection from ONE session, where the names of two connections would collide) and with
 * `DB_PREPARED_STATEMENTS=false` (e.g. behind a transaction-pooling PgBouncer without prepared-statement support);
 * a server that turns out to share sessions anyway (a second process on an embedded database's socket) is
 * detected by its first name collision, and from then on gets plain statements too.
 */
@Injectable()
export class HotSql {
  private readonly logger = new Logger('sql');
  private prepared: boolean;

  constructor(
    private readonly dataSource: DataSource,
    config: AppConfig,
  ) {
    this.prepared = namesStatements(config.database);
  }

  /** The rows of one autocommitted statement. Errors are the driver's (`code` = SQLSTATE), as TypeORM's are. */
  async rows<T extends pg.QueryResultRow>(statement: Statement, values: unknown[]): Promise<T[]> {
    const started = performance.now();
    const named = this.prepared;
    let result: pg.QueryResult<T>;
    try {
      result = await this.pool.query<T>(
        named ? { name: statement.name, text: statement.text, values } : { text: statement.text, values },
      );
    } catch (error) {
      if (!(named && SHARED_SESSION.has((error as { code?: string }).code!))) throw error;
      // Our connections share server sessions (a pglite-socket, a transaction-pooling proxy): names collide or
      // vanish. The statement failed before running, so run it plain, and never name one again.
      if (this.prepared)
        this.logger.warn(
          { statement: statement.name },
          'prepared statements unusable here: using plain ones',
        );
      this.prepared = false;
      result = await this.pool.query<T>({ text: statement.text, values });
    }
    const ms = performance.now() - started;
    if (ms > SLOW_MS)
      this.logger.warn({ durationMs: Math.round(ms), statement: statement.name }, 'slow query');
    return result.rows;
  }

  private get pool(): pg.Pool {
    return (this.dataSource.driver as unknown as { master: pg.Pool }).master;
  }
}
