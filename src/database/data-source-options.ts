import type { DataSourceOptions } from 'typeorm';
import { migrations } from '../../migrations/index.js';
import { entities } from './entities.js';
import { TypeOrmLogger } from './typeorm-logger.js';

/** One definition of the connection, shared by the app, the migration CLI and the tests. */
export function dataSourceOptions(url: string, poolSize: number, migrationsRun: boolean): DataSourceOptions {
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
    extra: { connectionTimeoutMillis: 5000, idleTimeoutMillis: 30000 },
    logger: new TypeOrmLogger(),
    maxQueryExecutionTime: 1000,
  };
}
