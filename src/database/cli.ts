import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ConfigError, loadConfig } from '../config/app-config.js';
import { persistence } from '../persistence.js';
import { dataSourceOptions } from './data-source-options.js';
import { EmbeddedPostgres } from './embedded-postgres.js';

/**
 * `npm run migration:run` / `migration:revert` / `migration:show`: against DATABASE_URL, or the embedded database.
 * The migrations of every pack in the pack list are included, whether `TOOL_PACKS` enables it or not.
 */
async function main(command: string | undefined): Promise<void> {
  const config = loadConfig();
  const embedded = config.database.url ? undefined : await EmbeddedPostgres.start(config.database.dataDir, 2);
  const dataSource = new DataSource(
    dataSourceOptions(persistence, config.database.url ?? embedded!.url, 1, false),
  );
  await dataSource.initialize();
  try {
    if (command === 'run') {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      console.log(
        applied.length ? `Applied: ${applied.map((m) => m.name).join(', ')}` : 'No pending migrations.',
      );
    } else if (command === 'revert') {
      await dataSource.undoLastMigration({ transaction: 'each' });
    } else if (command === 'show') {
      process.exitCode = (await dataSource.showMigrations()) ? 1 : 0;
      console.log(process.exitCode ? 'Pending migrations.' : 'All migrations applied.');
    } else {
      throw new Error('usage: cli.js run|revert|show');
    }
  } finally {
    await dataSource.destroy();
    await embedded?.stop();
  }
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
