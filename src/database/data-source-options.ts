import type { DataSourceOptions, EntitySchema, MigrationInterface } from 'typeorm';
import { BoundedClient } from './bounded-client.js';
import { TypeOrmLogger } from './typeorm-logger.js';

/**
 * What the features bring to the database: their TypeORM entities and migrations. This folder knows no feature;
 * the composition root (src/persistence.ts) lists them and hands them to the app and the migration CLI.
 */
export interface PersistenceParts {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type for entity classes
  entities: (Function | EntitySchema)[];
  /** Classes, so that the same list works compiled (dist/) and under ts-jest; TypeORM orders them by timestamp. */
  migrations: (new () => MigrationInterface)[];
}

/** How long the pool may wait on PostgreSQL (AppConfig `database`); none for migrations (an index build may be long). */
export interface DatabaseBounds {
  statementTimeoutMs: number;
  answerTimeoutMs: number;
  acquireTimeoutMs: number;
  /** HotSql names its statements (see `namesStatements`): plan each once per connection. */
  genericPlans?: boolean;
}

/**
 * `plan_cache_mode` for the pool's sessions when HotSql prepares its statements: PostgreSQL's default (`auto`)
 * re-plans a named statement on every execution while a plan for the actual parameters looks cheaper, which it
 * always does for the per-call gate read (array parameters of known length): measured with pg_stat_statements
 * (`npm run bench:profile`), ≈ 90 µs of planning per call against ≈ 15 µs of execution, and the generic plan
 * executes as fast. TypeORM's unnamed statements are planned per execution whatever this says.
 */
const GENERIC_PLANS = '-c plan_cache_mode=force_generic_plan';

/** One definition of the connection, shared by the app, the migration CLI and the tests. */
export function dataSourceOptions(
  { entities, migrations }: PersistenceParts,
  url: string,
  poolSize: number,
  migrationsRun: boolean,
  bounds?: DatabaseBounds,
): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations,
    migrationsRun,
    migrationsTransactionMode: 'each',
    synchronize: false,
    // PGlite has no uuid-ossp; gen_random_uuid() is core PostgreSQL >= 13.
    uuidExtension: 'pgcrypto',
    installExtensions: false, // migrations need none (gen_random_uuid is core), and PGlite cannot install them
    poolSize,
    extra: {
      idleTimeoutMillis: 30000,
      // Every wait is bounded (README "Failure modes"): for a pooled connection (a free slot or a new connection),
      // for a statement on the server (`statement_timeout`, sent at connect; PGlite ignores it), and for any answer
      // at all (BoundedClient: a server that never answers).
      connectionTimeoutMillis: bounds?.acquireTimeoutMs ?? 5000,
      ...(bounds && {
        Client: BoundedClient,
        statement_timeout: bounds.statementTimeoutMs,
        answerTimeoutMs: bounds.answerTimeoutMs,
        ...(bounds.genericPlans && { options: GENERIC_PLANS }),
      }),
    },
    logger: new TypeOrmLogger(),
    maxQueryExecutionTime: 1000,
  };
}
