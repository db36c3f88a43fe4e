import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config.js';
import { dataSourceOptions } from './data-source-options.js';
import { EmbeddedPostgres } from './embedded-postgres.js';

/** Resolves the database URL: `DATABASE_URL`, or an embedded PGlite started for this process. */
@Injectable()
export class DatabaseUrl implements OnApplicationShutdown {
  private embedded?: EmbeddedPostgres;

  constructor(@Inject(AppConfig) private readonly config: AppConfig) {}

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
    await this.embedded?.stop();
  }
}

@Global()
@Module({ providers: [DatabaseUrl], exports: [DatabaseUrl] })
class DatabaseUrlModule {}

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      imports: [DatabaseUrlModule],
      inject: [AppConfig, DatabaseUrl],
      useFactory: async (config: AppConfig, url: DatabaseUrl) =>
        dataSourceOptions(await url.resolve(), config.database.poolSize, config.database.migrationsRun),
    }),
  ],
})
export class DatabaseModule {}
