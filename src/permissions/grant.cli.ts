import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { AuditModule } from '../audit/audit.module.js';
import { LoggerModule } from '../common/logging/logger.module.js';
import { ConfigError, loadConfig } from '../config/app-config.js';
import { ConfigModule } from '../config/config.module.js';
import { DatabaseModule } from '../database/database.module.js';
import { PermissionsModule } from './permissions.module.js';
import { PermissionsService } from './permissions.service.js';

const USAGE = `usage: npm run grant -- --agent <agentId> --tool <toolName> [--tool …] [--version <v>] [--expires <ISO time>]
       npm run grant -- --list [--agent <agentId>]
       npm run grant -- --revoke <grantId>
Writes to DATABASE_URL, or to the embedded database in DATA_DIR (stop the service first, or use the admin API).`;

/** Bootstrap/ops CLI for grants: the same PermissionsService the admin API uses, without HTTP. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      agent: { type: 'string' },
      tool: { type: 'string', multiple: true },
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

  const config = { ...loadConfig(), logLevel: 'error' as const };
  @Module({
    imports: [ConfigModule.forRoot(config), LoggerModule, DatabaseModule, PermissionsModule, AuditModule],
  })
  class GrantCliModule {}
  const app = await NestFactory.createApplicationContext(GrantCliModule, {
    logger: ['error'],
    abortOnError: false,
  });
  app.enableShutdownHooks();
  try {
    const permissions = app.get(PermissionsService);
    // Like the admin API, every change is audited (agent "cli").
    const audit = (outcome: string, detail: Record<string, unknown>) =>
      app.get(AuditRecorder).record({ kind: 'admin', outcome, agentId: 'cli', detail });
    if (values.revoke) {
      const revoked = await permissions.revoke(values.revoke, 'cli');
      if (revoked) await audit('grant.revoke', { grantId: values.revoke });
      console.log(revoked ? `Revoked ${values.revoke}` : `No active grant ${values.revoke}`);
      process.exitCode = revoked ? 0 : 1;
    } else if (values.list) {
      console.log(JSON.stringify(await permissions.list({ agentId: values.agent, active: true }), null, 2));
    } else {
      // --tool may be repeated (one grant each); `resource:<name>` / `prompt:<name>` grant a resource or prompt.
      for (const toolName of values.tool!) {
        const grant = await permissions.grant({
          agentId: values.agent!,
          toolName,
          toolVersion: values.version,
          expiresAt,
          grantedBy: 'cli',
        });
        await audit('grant.create', { grantId: grant.id, agent: grant.agentId, tool: grant.toolName });
        console.log(JSON.stringify(grant, null, 2));
      }
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
