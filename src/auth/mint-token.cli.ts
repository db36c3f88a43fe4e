import { ConfigError } from '../config/app-config.js';
import { mintTokenCommand, TOKEN_USAGE, TokenUsageError } from './token-command.js';

/** `npm run token -- --agent alice --scope "tool:echo" [--ttl 15m]`: prints a dev-auth access token on stdout. */
async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) return void console.log(TOKEN_USAGE);
  const minted = await mintTokenCommand(argv);
  console.error(
    `Dev token for agent "${minted.agent}" (scopes: ${minted.scopes.join(' ') || 'none'}), ` +
      `expires ${minted.expiresAt.toISOString()}. Send it as "Authorization: Bearer <token>".`,
  );
  console.log(minted.token);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else if (
    error instanceof TokenUsageError ||
    (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
  )
    console.error(`${(error as Error).message}\n\n${TOKEN_USAGE}`);
  else console.error(error);
  process.exit(1);
});
