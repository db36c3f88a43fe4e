import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { dataSourceOptions, type PersistenceParts } from './data-source-options.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { HotSql, namesStatements } from './hot-sql.js';

/** Resolves the database URL: `DATABASE_URL`, or an embedded PGlite started for this process. */
@Injectable()
export class DatabaseUrl implements OnApplicationShutdown {
  private embedded?: EmbeddedPostgres;

  constructor(
    @Inject(AppConfig) private readonly config: AppConfig,
    private readonly moduleRef: ModuleRef,
  ) {}

  async resolve(): Promise<string> {
    if (this.config.database.url) return this.config.database.url;
    this.embedded ??= await EmbeddedPostgres.start(
      this.config.database.dataDir,
      this.config.database.poolSize + 5,
    );
    return this.embedded.url;
  }

  get isEmbedded(): boolean {
    return this.embedded !== undefined;
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.embedded) return;
    // The pool must close before the embedded server it talks to (hook order between modules is not ours).
    const dataSource = this.moduleRef.get(DataSource, { strict: false });
    if (dataSource.isInitialized) await dataSource.destroy();
    await this.embedded.stop();
  }
}

@Global()
@Module({ providers: [DatabaseUrl], exports: [DatabaseUrl] })
class DatabaseUrlModule {}

/**
 * Applies pending migrations on a connection of their own, without the pool's statement timeout: building an index
 * on a large table may take longer than any per-call statement may.
 */
async function migrate(parts: PersistenceParts, url: string): Promise<void> {
  const migrator = new DataSource(dataSourceOptions(parts, url, 1, true));
  try {
    await migrator.initialize(); // runs the migrations (`migrationsRun`)
  } finally {
    if (migrator.isInitialized) await migrator.destroy();
  }
}

/**
 * The DataSource (TypeORM) and HotSql (the per-call statements), for every module. The entities and migrations
 * come from the composition root (src/persistence.ts): this module knows no feature.
 */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(parts: PersistenceParts): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [HotSql],
      exports: [HotSql],
      imports: [
        TypeOrmModule.forRootAsync({
          imports: [DatabaseUrlModule],
          inject: [AppConfig, DatabaseUrl],
          useFactory: async (config: AppConfig, url: DatabaseUrl) => {
            const database = await url.resolve();
            if (config.database.migrationsRun) await migrate(parts, database);
            return dataSourceOptions(parts, database, config.database.poolSize, false, {
              ...config.database,
              genericPlans: namesStatements(config.database),
            });
          },
        }),
      ],
    };
  }
}
