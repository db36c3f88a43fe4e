import { parseArgs } from 'node:util';
import { ConfigError } from '../config/app-config.js';
import { AdminApiError, AdminClient, CliUsageError } from '../cli/admin-client.js';

export const ADMIN_USAGE = `usage: npm run admin -- <command> [options] [--table]
  grants create --agent <id> --tool <name> [--version <v>] [--expires <ISO time>]
  grants list [--agent <id>] [--tool <name>] [--all]          (active grants; --all: also expired and revoked)
  grants revoke <grantId>
  revocations add --jti <jti> [--reason <text>] [--expires <ISO time>]
  revocations list
  audit [--agent <id>] [--tool <name>] [--outcome <o>] [--kind <k>] [--since 1h|<ISO time>] [--limit <n>]
  tools list
  tools disable <name> --reason <text> [--version <v>]
  tools enable <name> [--version <v>]
Talks to MCP_ADMIN_URL (default http://127.0.0.1:$PORT, PORT default 3000) with the bearer token MCP_ADMIN_TOKEN
(mcp:admin; mcp:admin:read for reads). Under dev auth without MCP_ADMIN_TOKEN it signs a 5-minute mcp:admin token
with the dev key in $DATA_DIR/dev-auth: run it with the service's DATA_DIR, PORT and PUBLIC_URL.
Prints JSON (--table: a compact table); every change carries the id of its audit row (auditId).
Exit status: 0 done, 1 refused or failed (HTTP status and error code on stderr), 2 usage.`;

type Values = Record<string, string | boolean | undefined>;
type Options = Record<string, { type: 'string' | 'boolean' }>;

interface Command {
  options: Options;
  required?: string[];
  /** Names of the positional arguments (all required). */
  args?: string[];
  /** Columns of `--table` for a list answer. */
  columns?: string[];
  run(client: AdminClient, values: Values, args: string[]): Promise<unknown>;
}

const text = { type: 'string' } as const;
const flag = { type: 'boolean' } as const;
const GRANT_COLUMNS = ['id', 'agentId', 'toolName', 'toolVersion', 'expiresAt', 'revokedAt', 'grantedBy'];

const COMMANDS: Record<string, Command> = {
  'grants create': {
    options: { agent: text, tool: text, version: text, expires: text },
    required: ['agent', 'tool'],
    run: async (client, v) =>
      (
        await client.request('POST', '/admin/grants', {
          agentId: v.agent,
          toolName: v.tool,
          toolVersion: v.version,
          expiresAt: isoTime('--expires', v.expires as string | undefined),
        })
      ).body,
  },
  'grants list': {
    options: { agent: text, tool: text, all: flag },
    columns: GRANT_COLUMNS,
    run: async (client, v) =>
      (
        await client.request(
          'GET',
          `/admin/grants?${query({ agentId: v.agent, toolName: v.tool, active: v.all ? undefined : 'true' })}`,
        )
      ).body,
  },
  'grants revoke': {
    options: {},
    args: ['grantId'],
    run: async (client, _v, [id]) => {
      const { auditId } = await client.request('DELETE', `/admin/grants/${encodeURIComponent(id)}`);
      return { grantId: id, revoked: true, auditId };
    },
  },
  'revocations add': {
    options: { jti: text, reason: text, expires: text },
    required: ['jti'],
    run: async (client, v) =>
      (
        await client.request('POST', '/admin/token-revocations', {
          jti: v.jti,
          reason: v.reason,
          expiresAt: isoTime('--expires', v.expires as string | undefined),
        })
      ).body,
  },
  'revocations list': {
    options: {},
    columns: ['jti', 'revokedAt', 'expiresAt', 'reason'],
    run: async (client) => (await client.request('GET', '/admin/token-revocations')).body,
  },
  audit: {
    options: {
      agent: text,
      tool: text,
      outcome: text,
      kind: text,
      since: text,
      limit: text,
      'page-size': text,
    },
    columns: ['id', 'occurredAt', 'kind', 'agentId', 'toolName', 'outcome', 'errorCode', 'durationMs'],
    run: (client, v) => auditRows(client, v),
  },
  'tools list': {
    options: {},
    columns: ['name', 'version', 'latest', 'disabled', 'breaker', 'deprecated'],
    run: async (client) => (await client.request('GET', '/admin/tools')).body,
  },
  'tools disable': {
    options: { reason: text, version: text },
    required: ['reason'],
    args: ['name'],
    run: async (client, v, [name]) =>
      (
        await client.request('POST', `/admin/tools/${encodeURIComponent(name)}/disable`, {
          reason: v.reason,
          version: v.version,
        })
      ).body,
  },
  'tools enable': {
    options: { version: text },
    args: ['name'],
    run: async (client, v, [name]) =>
      (
        await client.request('POST', `/admin/tools/${encodeURIComponent(name)}/enable`, {
          version: v.version,
        })
      ).body,
  },
};

/** Newest first, following the cursor until `--limit` rows (default 100) or the end of the trail. */
async function auditRows(client: AdminClient, v: Values): Promise<unknown[]> {
  const limit = count('--limit', v.limit as string | undefined, 100, 100_000);
  const pageSize = count('--page-size', v['page-size'] as string | undefined, 500, 500);
  const filter = {
    agent: v.agent,
    tool: v.tool,
    outcome: v.outcome,
    kind: v.kind,
    from: v.since === undefined ? undefined : since(v.since as string),
  };
  const rows: unknown[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.request<{ items: unknown[]; nextCursor: string | null }>(
      'GET',
      `/admin/audit?${query({ ...filter, limit: String(Math.min(pageSize, limit - rows.length)), cursor })}`,
    );
    rows.push(...page.body.items);
    cursor = page.body.nextCursor ?? undefined;
  } while (cursor && rows.length < limit);
  return rows;
}

async function runAdminCli(
  argv: string[],
  env: Record<string, string | undefined>,
  out: (line: string) => void,
): Promise<void> {
  const two = `${argv[0]} ${argv[1]}`;
  const key = Object.hasOwn(COMMANDS, two) ? two : (argv[0] ?? '');
  const command = Object.hasOwn(COMMANDS, key) ? COMMANDS[key] : undefined; // not `constructor` & co.
  if (!command) throw new CliUsageError(argv.length ? `unknown command: ${argv.join(' ')}` : 'no command');
  const options: Options = { ...command.options, table: flag };
  const { values, positionals } = parseArgs({
    args: argv.slice(key.split(' ').length),
    options,
    allowPositionals: true,
    strict: true,
  });
  const names = command.args ?? [];
  if (positionals.length !== names.length) {
    throw new CliUsageError(
      `${key}: expected ${names.map((n) => `<${n}>`).join(' ') || 'no argument'}, got ${positionals.length ? positionals.join(' ') : 'none'}`,
    );
  }
  const missing = (command.required ?? []).filter((name) => values[name] === undefined);
  if (missing.length) throw new CliUsageError(`${key}: ${missing.map((n) => `--${n}`).join(', ')} required`);
  const answer = await command.run(AdminClient.fromEnv(env), values, positionals);
  out(values.table ? table(answer, command.columns) : inert(JSON.stringify(answer, null, 2), C1));
}

function query(params: Record<string, unknown>): string {
  const defined = Object.entries(params).filter((e): e is [string, string] => typeof e[1] === 'string');
  return new URLSearchParams(defined).toString();
}

function isoTime(option: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) throw new CliUsageError(`${option}: not a time: ${value}`);
  return time.toISOString();
}

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `--since 90m` (s, m, h, d ago) or an ISO time. */
function since(value: string): string {
  const match = DURATION.exec(value.trim());
  if (!match) return isoTime('--since', value)!;
  return new Date(Date.now() - Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]).toISOString();
}

function count(option: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) throw new CliUsageError(`${option}: a whole number 1…${max}`);
  return n;
}

/** A compact table: a list in the command's columns, an action's answer as name/value rows. */
function table(answer: unknown, columns?: string[]): string {
  const rows = Array.isArray(answer)
    ? (answer as Record<string, unknown>[])
    : [answer as Record<string, unknown>];
  const cols = Array.isArray(answer) && columns ? columns : undefined;
  const grid = cols
    ? [cols, ...rows.map((row) => cols.map((c) => cell(row[c])))]
    : Object.entries(rows[0] ?? {}).map(([name, value]) => [name, cell(value)]);
  const widths = grid[0]?.map((_, i) => Math.max(...grid.map((r) => r[i].length))) ?? [];
  return grid
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** One cell; control characters escaped, so a hostile agent id or reason cannot drive the terminal. */
function cell(value: unknown): string {
  if (value === null || value === undefined || value === false) return value === false ? 'no' : '';
  if (value === true) return 'yes';
  const state = (value as { state?: unknown }).state; // a breaker snapshot: its state says enough
  return inert(typeof value === 'string' ? value : typeof state === 'string' ? state : JSON.stringify(value));
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
/** DEL and C1 (with the 8-bit CSI): JSON.stringify escapes C0 only. */
const C1 = /[\u007f-\u009f]/g;

function inert(text: string, chars = CONTROL): string {
  return text.replace(chars, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function main(): void {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) return void console.log(ADMIN_USAGE);
  runAdminCli(argv, process.env, (line) => console.log(line)).catch((error: unknown) => {
    process.exitCode = reportError(error);
  });
}

/** stderr line and exit status of a failure; never the token (no message here can hold it). */
function reportError(error: unknown): number {
  const usage =
    error instanceof CliUsageError ||
    error instanceof ConfigError ||
    (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  if (usage) {
    console.error(`error: ${(error as Error).message}\n\n${ADMIN_USAGE}`);
    return 2;
  }
  console.error(`error: ${inert(error instanceof Error ? error.message : String(error))}`);
  if (error instanceof AdminApiError && error.status === 401) {
    console.error(
      'hint: the token was refused; set MCP_ADMIN_TOKEN, or under dev auth run with the service’s DATA_DIR, PORT and PUBLIC_URL',
    );
  }
  return 1;
}

main();
