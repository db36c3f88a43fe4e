import { z } from 'zod';
import { loadConfig } from '../config/app-config.js';
import { loadOrCreateDevKey, mintDevToken } from '../auth/dev-keys.js';
import { ADMIN_SCOPE } from '../auth/scopes.js';

/**
 * The admin API as the command-line tools (`npm run admin`, `npm run grant`) see it: a base URL, a bearer token,
 * JSON in and out, and errors that name the HTTP status and the service's error code. The CLIs are clients of a
 * (possibly remote) service, so their two settings are read here rather than in the server's AppConfig.
 */
const cliEnv = z.object({
  /** Base URL of the running service. Default: the service's own default listen address on this machine. */
  MCP_ADMIN_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** A bearer token with `mcp:admin` (or `mcp:admin:read` for reads). Default under dev auth: minted locally. */
  MCP_ADMIN_TOKEN: z.string().trim().min(1).optional(),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
});

/** Agent id of the tokens the CLIs mint for themselves under dev auth (the `grantedBy` of what they change). */
export const CLI_AGENT = 'cli';
const CLI_TOKEN_TTL_SECONDS = 300;

/** Bad command line or settings: exit code 2, with the usage. */
export class CliUsageError extends Error {}

/** The service answered with an error status. */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`HTTP ${status} ${code}: ${message}`);
  }
}

export interface AdminAnswer<T> {
  status: number;
  body: T;
  /** The `Audit-Id` header: the audit row of the action (admin writes and audit reads). */
  auditId: string | null;
}

export class AdminClient {
  private token?: Promise<string>;

  constructor(
    readonly baseUrl: string,
    private readonly getToken: () => Promise<string>,
    /** MCP_ADMIN_TOKEN is set (else the token is minted under dev auth). */
    readonly tokenGiven = false,
  ) {}

  /** From MCP_ADMIN_URL / MCP_ADMIN_TOKEN (or PORT and a dev-auth token minted with DATA_DIR's key). */
  static fromEnv(env: Record<string, string | undefined>): AdminClient {
    const parsed = cliEnv.safeParse(env);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new CliUsageError(`${issue.path.join('.')}: ${issue.message}`);
    }
    const { MCP_ADMIN_URL, MCP_ADMIN_TOKEN, PORT } = parsed.data;
    const baseUrl = (MCP_ADMIN_URL ?? `http://127.0.0.1:${PORT}`).replace(/\/+$/, '');
    return new AdminClient(
      baseUrl,
      async () => MCP_ADMIN_TOKEN ?? (await devAdminToken(env)),
      MCP_ADMIN_TOKEN !== undefined,
    );
  }

  /** Does a service answer `GET /health/live` within `timeoutMs`? (No token needed.) */
  async reachable(timeoutMs = 1000): Promise<boolean> {
    try {
      const res = await fetch(`${this.baseUrl}/health/live`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<AdminAnswer<T>> {
    this.token ??= this.getToken();
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${await this.token}`,
          accept: 'application/json',
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      const { cause } = error as { cause?: { code?: string; message?: string } };
      const why = cause?.code ?? cause?.message ?? (error as Error).name;
      throw new Error(`cannot reach the service at ${this.baseUrl} (${why}); set MCP_ADMIN_URL`, {
        cause: error,
      });
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (e.g. a proxy's error page): reported by status below
    }
    if (!res.ok) {
      const error = (parsed ?? {}) as { code?: unknown; message?: unknown };
      throw new AdminApiError(
        res.status,
        typeof error.code === 'string' ? error.code : res.statusText || 'HTTP_ERROR',
        typeof error.message === 'string' ? error.message : text.slice(0, 200) || 'no message',
      );
    }
    return { status: res.status, body: parsed as T, auditId: res.headers.get('audit-id') };
  }
}

/**
 * Under dev auth the CLI signs its own short-lived `mcp:admin` token with the dev key in `$DATA_DIR/dev-auth` (the
 * key the service trusts), for the issuer and audience the environment names: run it with the service's settings.
 */
async function devAdminToken(env: Record<string, string | undefined>): Promise<string> {
  const config = loadConfig(env);
  if (config.auth.mode !== 'dev') {
    throw new CliUsageError(
      'MCP_ADMIN_TOKEN is required: AUTH_ISSUER is set, so get a token with the mcp:admin (or mcp:admin:read) ' +
        'scope from your identity provider',
    );
  }
  const key = await loadOrCreateDevKey(config.auth.devKeyDir);
  return mintDevToken(config.auth, key, {
    agent: CLI_AGENT,
    scopes: [ADMIN_SCOPE],
    ttlSeconds: CLI_TOKEN_TTL_SECONDS,
  });
}
