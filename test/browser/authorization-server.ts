import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';

/** The admin scopes, and which accounts hold which: `reader-…` accounts are read-only operators. */
const ADMIN_SCOPES = ['mcp:admin', 'mcp:admin:read'];
const scopesOf = (account: string) => (account.startsWith('reader') ? ['mcp:admin:read'] : ADMIN_SCOPES);

/** The part of oidc-provider's API used here (it ships no typings). */
interface OidcModule {
  default: new (
    issuer: string,
    config: object,
  ) => { callback(): (req: IncomingMessage, res: ServerResponse) => void };
  errors: { InvalidTarget: new () => Error };
}
interface GrantContext {
  oidc: {
    session?: { accountId?: string };
    client: { clientId: string };
    provider: {
      Grant: new (init: { clientId: string; accountId: string }) => {
        addResourceScope(resource: string, scope: string): void;
        rejectResourceScope(resource: string, scope: string): void;
        save(): Promise<string>;
      };
    };
  };
}

/**
 * panva/oidc-provider on a loopback port, as an operator's IdP would be set up for the admin console (README
 * "Operate"): the console registered as a public client (no secret, PKCE S256 required, redirect URI
 * `$PUBLIC_URL/admin/console/`, CORS for its origin on the token endpoint), RFC 8707 resource indicators with JWT
 * access tokens for the MCP resource, and its development login form (any login, any password). Each account gets
 * its admin scopes without a consent screen. Agents' tokens are signed with the same key (`agentToken`).
 */
export class ConsoleAuthorizationServer {
  private constructor(
    private readonly server: Server,
    readonly issuer: string,
    private readonly privateJwk: JWK,
    private readonly resource: string,
  ) {}

  static async start(options: { clientId: string; redirectUri: string; resource: string }) {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = { ...(await exportJWK(privateKey)), kid: 'k1', use: 'sig', alg: 'ES256' };
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const moduleName: string = 'oidc-provider';
    const oidc = (await import(moduleName)) as OidcModule;
    const consoleOrigin = new URL(options.redirectUri).origin;
    const provider = new oidc.default(issuer, {
      jwks: { keys: [privateJwk] },
      clientDefaults: { id_token_signed_response_alg: 'ES256' },
      clients: [
        {
          client_id: options.clientId,
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code'],
          response_types: ['code'],
          redirect_uris: [options.redirectUri],
        },
      ],
      pkce: { required: () => true },
      ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 900, AuthorizationCode: 60 },
      // The console's token request is a cross-origin fetch: allowed for the console's origin only.
      clientBasedCORS: (_ctx: unknown, origin: string) => origin === consoleOrigin,
      findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
      // The operator's admin scopes (granted or refused) without a consent screen.
      loadExistingGrant: async (ctx: GrantContext) => {
        const accountId = ctx.oidc.session?.accountId;
        if (!accountId) return undefined;
        const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId });
        for (const scope of ADMIN_SCOPES) {
          if (scopesOf(accountId).includes(scope)) grant.addResourceScope(options.resource, scope);
          else grant.rejectResourceScope(options.resource, scope);
        }
        await grant.save();
        return grant;
      },
      features: {
        devInteractions: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => options.resource,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, resource: string) => {
            if (resource !== options.resource) throw new oidc.errors.InvalidTarget();
            return {
              scope: ADMIN_SCOPES.join(' '),
              accessTokenFormat: 'jwt',
              accessTokenTTL: 900,
              jwt: { sign: { alg: 'ES256' } },
            };
          },
        },
      },
    });
    server.on('request', provider.callback());
    return new ConsoleAuthorizationServer(server, issuer, privateJwk, options.resource);
  }

  /** An agent's access token, signed with this IdP's key as its own tokens are. */
  async agentToken(agent: string, scope: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ client_id: agent, scope, jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(this.issuer)
      .setAudience(this.resource)
      .setSubject(agent)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(await importJWK(this.privateJwk, 'ES256'));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
