import { parseArgs } from 'node:util';
import { loadConfig } from '../config/app-config.js';
import { loadOrCreateDevKey, mintDevToken, parseTtl } from './dev-keys.js';
import { isScopeToken } from './scopes.js';

export const TOKEN_USAGE = `usage: npm run token -- --agent <agentId> [--scope "tool:echo tool:counter.increment"] [--ttl 15m]
Mints an access token signed by the dev auth key in $DATA_DIR/dev-auth (dev auth only: no AUTH_ISSUER set,
NODE_ENV not production). --scope may be repeated; --ttl is 90s, 15m, 1h, 7d… (default 1h, at most 30d).`;

/** A mistake in how the command was called: the CLI prints it with the usage. */
export class TokenUsageError extends Error {}

export interface MintedToken {
  token: string;
  agent: string;
  scopes: string[];
  expiresAt: Date;
}

/** `npm run token`: the whole command except printing, so tests run exactly what the CLI runs. */
export async function mintTokenCommand(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): Promise<MintedToken> {
  const { values } = parseArgs({
    args: argv,
    options: {
      agent: { type: 'string' },
      scope: { type: 'string', multiple: true },
      ttl: { type: 'string', default: '1h' },
    },
  });
  const agent = values.agent?.trim();
  if (!agent) throw new TokenUsageError('--agent is required');
  const scopes = [...new Set((values.scope ?? []).flatMap((s) => s.split(' ')).filter(Boolean))];
  const invalid = scopes.filter((s) => !isScopeToken(s));
  if (invalid.length) throw new TokenUsageError(`--scope: not a scope: ${invalid.join(', ')}`);
  let ttlSeconds: number;
  try {
    ttlSeconds = parseTtl(values.ttl);
  } catch (error) {
    throw new TokenUsageError((error as Error).message);
  }

  const config = loadConfig(env);
  if (config.auth.mode !== 'dev') {
    throw new TokenUsageError(
      `AUTH_ISSUER is set (${config.auth.issuer}): this server only accepts that identity provider's tokens; ` +
        'get one from it. npm run token works with dev auth only.',
    );
  }
  const key = await loadOrCreateDevKey(config.auth.devKeyDir);
  const token = await mintDevToken(config.auth, key, { agent, scopes, ttlSeconds });
  return { token, agent, scopes, expiresAt: new Date(Date.now() + ttlSeconds * 1000) };
}
