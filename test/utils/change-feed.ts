import { jest } from '@jest/globals';
import type { PinoLogger } from 'nestjs-pino';
import type pg from 'pg';
import type { Principal } from '../../src/common/principal.js';
import type { AppConfig } from '../../src/config/app-config.js';
import type { HotSql } from '../../src/database/hot-sql.js';
import { AccessPolicy } from '../../src/permissions/access-policy.service.js';
import type { PermissionsService } from '../../src/permissions/permissions.service.js';
import { ChangeFeed } from '../../src/tools/change-feed.service.js';
import { ResourceRegistry } from '../../src/tools/resource-registry.service.js';

/** The one resource of these tests: `docs://readme`, named `docs.readme` (scope and grant `resource:docs.readme`). */
export const README_URI = 'docs://readme';

export const principal = (agentId: string, scopes: string[], expiresAt?: number): Principal => ({
  agentId,
  scopes: new Set(scopes),
  expiresAt,
});

/**
 * A ChangeFeed built directly (no app): on `url`'s database (none = the embedded case), with a real AccessPolicy
 * over the grants in `grants` (`<agent> <key>`), counting its lookups, and `sql` for its NOTIFYs (default: `pool`).
 */
export function changeFeed(options: {
  url?: string;
  pool?: pg.Pool;
  sql?: HotSql['rows'];
  grants?: Set<string>;
}) {
  const lookups: string[] = [];
  const permissions = {
    isGranted: async (agentId: string, key: string) => {
      lookups.push(`${agentId} ${key}`);
      return options.grants?.has(`${agentId} ${key}`) ?? false;
    },
  } as unknown as PermissionsService;
  const resources = new ResourceRegistry(null as never, null as never, null as never);
  resources.register({ name: 'docs.readme', uri: README_URI, description: 'the readme' }, () => 'hi', 'test');
  const rows: HotSql['rows'] =
    options.sql ??
    (async (statement, values) =>
      (await options.pool!.query({ text: statement.text, values })).rows as never);
  const logger = { setContext: () => undefined, warn: jest.fn(), error: jest.fn() };
  const feed = new ChangeFeed(
    { rows } as HotSql,
    { database: { url: options.url } } as AppConfig,
    new AccessPolicy(permissions),
    resources,
    logger as unknown as PinoLogger,
  );
  return { feed, lookups, logger };
}

/** Waits (bounded) until `done()` holds. */
export async function until(done: () => boolean, ms = 5000): Promise<void> {
  for (let waited = 0; !done() && waited < ms; waited += 50) await new Promise((r) => setTimeout(r, 50));
}
