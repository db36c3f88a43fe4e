import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig } from '../config/app-config.js';
import { ConfigModule } from '../config/config.module.js';
import { DatabaseModule } from '../database/database.module.js';
import { PermissionsModule } from './permissions.module.js';
import { PermissionsService } from './permissions.service.js';

const USAGE = `usage: npm run grant -- --agent <agentId> --tool <toolName> [--version <v>] [--expires <ISO time>]
       npm run grant -- --list [--agent <agentId>]
       npm run grant -- --revoke <grantId>
Writes to DATABASE_URL, or to the embedded database in DATA_DIR (stop the service first, or use the admin API).`;

/** Bootstrap/ops CLI for grants: the same PermissionsService the admin API uses, without HTTP. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      agent: { type: 'string' },
      tool: { type: 'string' },
      version: { type: 'string' },
      expires: { type: 'string' },
      list: { type: 'boolean' },
      revoke: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const granting = values.agent && values.tool;
  if (values.help || (!granting && !values.list && !values.revoke)) return void console.log(USAGE);
  const expiresAt = values.expires ? new Date(values.expires) : undefined;
  if (expiresAt && Number.isNaN(expiresAt.getTime()))
    throw new UsageError(`--expires: not a date: ${values.expires}`);

  const config = loadConfig();
  @Module({ imports: [ConfigModule.forRoot(config), DatabaseModule, PermissionsModule] })
  class GrantCliModule {}
  const app = await NestFactory.createApplicationContext(GrantCliModule, {
    logger: ['error'],
    abortOnError: false,
  });
  app.enableShutdownHooks();
  try {
    const permissions = app.get(PermissionsService);
    if (values.revoke) {
      const revoked = await permissions.revoke(values.revoke, 'cli');
      console.log(revoked ? `Revoked ${values.revoke}` : `No active grant ${values.revoke}`);
      process.exitCode = revoked ? 0 : 1;
    } else if (values.list) {
      console.log(JSON.stringify(await permissions.list({ agentId: values.agent, active: true }), null, 2));
    } else {
      const grant = await permissions.grant({
        agentId: values.agent!,
        toolName: values.tool!,
        toolVersion: values.version,
        expiresAt,
        grantedBy: 'cli',
      });
      console.log(JSON.stringify(grant, null, 2));
    }
  } finally {
    await app.close();
  }
}

class UsageError extends Error {}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError || error instanceof UsageError ? error.message : error);
  process.exit(1);
});
