import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AdminAudit } from '../audit/admin-action.js';
import { AuditModule } from '../audit/audit.module.js';
import { AdminApiError, AdminClient, CLI_AGENT, CliUsageError } from '../cli/admin-client.js';
import { LoggerModule } from '../common/logging/logger.module.js';
import { AppConfig, ConfigError, loadConfig } from '../config/app-config.js';
import { ConfigModule } from '../config/config.module.js';
import { DatabaseModule } from '../database/database.module.js';
import { persistence } from '../persistence.js';
import { PermissionsModule } from './permissions.module.js';
import { PermissionsService } from './permissions.service.js';

const USAGE = `usage: npm run grant -- --agent <agentId> --tool <toolName> [--tool …] [--version <v>] [--expires <ISO time>]
       npm run grant -- --list [--agent <agentId>]
       npm run grant -- --revoke <grantId>
While the service answers at MCP_ADMIN_URL (default http://127.0.0.1:$PORT), goes through its admin API (token:
MCP_ADMIN_TOKEN, or under dev auth one signed with the dev key in DATA_DIR); otherwise writes to DATABASE_URL or
the embedded database in DATA_DIR directly. Either way every change is audited (agent "cli").`;

type GrantArgs = {
  agent?: string;
  tool?: string[];
  version?: string;
  expiresAt?: Date;
  list?: boolean;
  revoke?: string;
};

/**
 * Bootstrap/ops CLI for grants. The embedded database has one owner, so while the service runs the CLI asks it
 * (its admin API, like `npm run admin`); with the service stopped it opens the database itself and uses the same
 * PermissionsService and audit. Either order of "start the service" and "grant" works.
 */
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
  const args: GrantArgs = { ...values, expiresAt };

  const config = { ...loadConfig(), logLevel: 'error' as const };
  const client = AdminClient.fromEnv(process.env);
  // With an IdP and no MCP_ADMIN_TOKEN the CLI has no credential for the API: only the database is left.
  const canAuthenticate = config.auth.mode === 'dev' || client.tokenGiven;
  if (await client.reachable()) {
    if (canAuthenticate) {
      console.error(`The service at ${client.baseUrl} is running: granting through its admin API.`);
      return viaAdminApi(client, args);
    }
    if (!config.database.url) {
      throw new UsageError(
        `The service at ${client.baseUrl} is running and owns the embedded database: set MCP_ADMIN_TOKEN ` +
          '(a token with mcp:admin from your identity provider) to grant through its admin API.',
      );
    }
  }
  return direct(config, args, client.baseUrl);
}

/** Through the running service: the grant is in force on its next call, and audited there. */
async function viaAdminApi(client: AdminClient, args: GrantArgs): Promise<void> {
  if (args.revoke) {
    const { auditId } = await client.request('DELETE', `/admin/grants/${encodeURIComponent(args.revoke)}`);
    console.log(`Revoked ${args.revoke} (audit row ${auditId})`);
  } else if (args.list) {
    const filter = new URLSearchParams({ active: 'true', ...(args.agent && { agentId: args.agent }) });
    console.log(
      JSON.stringify((await client.request('GET', `/admin/grants?${filter.toString()}`)).body, null, 2),
    );
  } else {
    for (const toolName of args.tool!) {
      const { body } = await client.request('POST', '/admin/grants', {
        agentId: args.agent,
        toolName,
        toolVersion: args.version,
        expiresAt: args.expiresAt?.toISOString(),
      });
      console.log(JSON.stringify(body, null, 2));
    }
  }
}

/** The service is not running: open its database (DATABASE_URL, or the embedded one in DATA_DIR). */
async function direct(config: AppConfig, values: GrantArgs, adminUrl: string): Promise<void> {
  @Module({
    imports: [
      ConfigModule.forRoot(config),
      LoggerModule,
      DatabaseModule.forRoot(persistence),
      PermissionsModule,
      AuditModule,
    ],
  })
  class GrantCliModule {}
  const app = await NestFactory.createApplicationContext(GrantCliModule, {
    logger: ['error'],
    abortOnError: false,
  }).catch((error: unknown) => {
    // The embedded database's owner is a service that does not answer at the admin URL (yet).
    if (/^The embedded database .* is in use/.test((error as Error).message)) {
      throw new UsageError(
        `${(error as Error).message}, but no service answers at ${adminUrl}: wait until it listens, ` +
          'or set MCP_ADMIN_URL (or PORT) to where it does.',
      );
    }
    throw error;
  });
  app.enableShutdownHooks();
  try {
    const permissions = app.get(PermissionsService);
    // Like the admin API, every change commits with its audit row (agent "cli").
    const audit = app.get(AdminAudit);
    const cli = { agentId: CLI_AGENT };
    if (values.revoke) {
      const grantId = values.revoke;
      const { auditId } = await audit.act(
        cli,
        'grant.revoke',
        async (manager) => {
          if (!(await permissions.revoke(grantId, CLI_AGENT, manager)))
            throw new UsageError(`No active grant ${grantId}`); // nothing happened: no audit row
        },
        () => ({ grantId }),
      );
      console.log(`Revoked ${grantId} (audit row ${auditId})`);
    } else if (values.list) {
      console.log(JSON.stringify(await permissions.list({ agentId: values.agent, active: true }), null, 2));
    } else {
      // --tool may be repeated (one grant each); `resource:<name>` / `prompt:<name>` grant a resource or prompt.
      for (const toolName of values.tool!) {
        const { result: grant, auditId } = await audit.act(
          cli,
          'grant.create',
          (manager) =>
            permissions.grant(
              {
                agentId: values.agent!,
                toolName,
                toolVersion: values.version,
                expiresAt: values.expiresAt,
                grantedBy: CLI_AGENT,
              },
              manager,
            ),
          (created) => ({ grantId: created.id, agent: created.agentId, tool: created.toolName }),
        );
        console.log(JSON.stringify({ ...grant, auditId }, null, 2));
      }
    }
  } finally {
    await app.close();
  }
}

class UsageError extends Error {}

main().catch((error: unknown) => {
  const known = [ConfigError, UsageError, CliUsageError, AdminApiError].some((type) => error instanceof type);
  console.error(known ? (error as Error).message : error);
  process.exit(1);
});
