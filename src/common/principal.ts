import type { FastifyRequest } from 'fastify';

/** The identity a request is made under (set by the auth guard). */
export interface Principal {
  agentId: string;
  clientId?: string;
  scopes: ReadonlySet<string>;
  /** The access token's `jti` (its revocation handle), when authenticated by a token. */
  tokenId?: string;
  /** When the access token expires (ms since epoch). */
  expiresAt?: number;
}

const PRINCIPAL = Symbol('principal');

/** Until the auth guard sets one, a request is anonymous. */
export const ANONYMOUS: Principal = { agentId: 'anonymous', scopes: new Set() };

export function setPrincipal(req: FastifyRequest, principal: Principal): void {
  (req as unknown as Record<symbol, Principal>)[PRINCIPAL] = principal;
}

export function principalOf(req: FastifyRequest): Principal {
  return (req as unknown as Record<symbol, Principal | undefined>)[PRINCIPAL] ?? ANONYMOUS;
}
