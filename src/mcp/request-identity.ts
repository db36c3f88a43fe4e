import {
  CLIENT_CAPABILITIES_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  type AuthInfo,
  type ClientCapabilities,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { FastifyRequest } from 'fastify';
import { admissionOf, type Admission } from '../common/admission.js';
import { principalOf, type Principal } from '../common/principal.js';

/**
 * Who is calling and what admission decided, as the HTTP layer hands it to the SDK with each request (its
 * `authInfo`, `authInfoOf`) and handlers read it back (`identityOf`): these two are its only carrier.
 */
export interface RequestIdentity {
  principal: Principal;
  /** Set for every request that passed AdmissionGuard (all of /mcp); carries a `tools/call`'s gate reading. */
  admission?: Admission;
  requestId: string;
  remoteAddr?: string;
  userAgent?: string;
}

/** The SDK's `authInfo` for a request the guards let through. */
export function authInfoOf(req: FastifyRequest): AuthInfo {
  const identity: RequestIdentity = {
    principal: principalOf(req),
    admission: admissionOf(req),
    requestId: String(req.id),
    remoteAddr: req.ip,
    userAgent: req.headers['user-agent'],
  };
  // The bearer token itself never travels past the auth guard.
  return {
    token: '',
    clientId: identity.principal.clientId ?? identity.principal.agentId,
    scopes: [...identity.principal.scopes],
    extra: { identity },
  };
}

/**
 * The client as this request presents it: a 2026-07-28 request's envelope, else what its 2025 session's
 * `initialize` declared (nothing for a sessionless 2025 request).
 */
export function clientOf(
  server: Server,
  ctx: ServerContext,
): { protocolVersion?: string; clientCapabilities?: ClientCapabilities } {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  if (envelope)
    return {
      protocolVersion: envelope[PROTOCOL_VERSION_META_KEY] as string | undefined,
      clientCapabilities: envelope[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined,
    };
  return {
    protocolVersion: server.getNegotiatedProtocolVersion(),
    clientCapabilities: server.getClientCapabilities(),
  };
}

export function identityOf(ctx: ServerContext): RequestIdentity {
  const identity = ctx.http?.authInfo?.extra?.identity as RequestIdentity | undefined;
  // The controller always attaches one; reaching here without it is a wiring bug, not a client error.
  if (!identity) throw new ProtocolError(ProtocolErrorCode.InternalError, 'Request identity missing');
  return identity;
}
