import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { outageCause, outageLog } from './logging/outage-log.js';
import { DomainError, type ErrorCode } from './domain-error.js';
import { isMcpRoute } from './mcp-route.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_REQUEST: HttpStatus.BAD_REQUEST,
  PARSE_ERROR: HttpStatus.BAD_REQUEST,
  HEADER_MISMATCH: HttpStatus.BAD_REQUEST,
  INVALID_ENVELOPE: HttpStatus.BAD_REQUEST,
  UNSUPPORTED_PROTOCOL_VERSION: HttpStatus.BAD_REQUEST,
  INVALID_ARGUMENTS: HttpStatus.BAD_REQUEST,
  FORBIDDEN_ORIGIN: HttpStatus.FORBIDDEN,
  FORBIDDEN_HOST: HttpStatus.FORBIDDEN,
  SESSION_NOT_FOUND: HttpStatus.NOT_FOUND,
  AUDIT_UNAVAILABLE: HttpStatus.SERVICE_UNAVAILABLE,
  NOT_FOUND: HttpStatus.NOT_FOUND,
  GRANT_DENIED: HttpStatus.FORBIDDEN,
  RATE_LIMITED: HttpStatus.TOO_MANY_REQUESTS,
  RATE_LIMIT_UNAVAILABLE: HttpStatus.SERVICE_UNAVAILABLE,
  UNAUTHENTICATED: HttpStatus.UNAUTHORIZED,
  INVALID_TOKEN: HttpStatus.UNAUTHORIZED,
  INSUFFICIENT_SCOPE: HttpStatus.FORBIDDEN,
  AUTH_UNAVAILABLE: HttpStatus.SERVICE_UNAVAILABLE,
  SHUTTING_DOWN: HttpStatus.SERVICE_UNAVAILABLE,
  DEPENDENCY_UNAVAILABLE: HttpStatus.SERVICE_UNAVAILABLE,
};

/** `Retry-After` of a 503 that names none itself: the outage may be short, and another replica may answer now. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

/** Errors raised while serving HTTP may add response headers (e.g. `WWW-Authenticate`, `Retry-After`). */
export interface WithHeaders {
  headers?: Record<string, string>;
}

/** An error that knows the JSON-RPC id of the request it refuses answers with it (else `id: null`). */
export interface WithJsonRpcId {
  jsonRpcId?: string | number | null;
}

/**
 * The HTTP transport's one error mapper. The MCP route answers with a JSON-RPC error envelope (clients parse it),
 * every other route with `{ statusCode, code, message }`. Every 503 carries `Retry-After`. Unknown errors are
 * logged in full and answered generically.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const { status, code, message } = describe(error);
    // 503s of an outage (and their causes) once per cause per interval; anything else in full (OutageLog).
    if (status >= 500) outageLog.report(this.logger, error, 'request failed');
    if (reply.sent || reply.raw.headersSent) return;

    for (const [name, value] of Object.entries((error as WithHeaders).headers ?? {}))
      reply.header(name, value);
    if (status === 503 && !reply.hasHeader('retry-after'))
      reply.header('retry-after', String(DEFAULT_RETRY_AFTER_SECONDS));
    const details = error instanceof DomainError ? error.details : undefined;
    if (!isMcpRoute(request) && error instanceof HttpException && typeof error.getResponse() === 'object') {
      reply.status(status).send(error.getResponse()); // e.g. terminus health reports keep their own body
    } else {
      const id = (error as WithJsonRpcId).jsonRpcId;
      reply.status(status).send(errorBody(request, status, code, message, details, id));
    }
  }
}

/**
 * The error body of a request: a JSON-RPC error envelope on the MCP route, `{ statusCode, code, message }`
 * elsewhere. Also used by answers sent outside Nest's exception layer (the shutdown answer in app.factory.ts).
 */
export function errorBody(
  request: Pick<FastifyRequest, 'routeOptions'>,
  status: number,
  code: string,
  message: string,
  details?: Record<string, unknown>,
  id: string | number | null = null,
): Record<string, unknown> {
  if (!isMcpRoute(request)) return { statusCode: status, code, message, ...(details && { details }) };
  return {
    jsonrpc: '2.0',
    // DomainError details (e.g. `retryAfterSeconds` of RATE_LIMITED) travel in `data` next to the code.
    error: { code: jsonRpcCode(status, code), message, data: { ...details, code } },
    id,
  };
}

function describe(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof DomainError) {
    return {
      status: STATUS[error.code] ?? HttpStatus.INTERNAL_SERVER_ERROR,
      code: error.code,
      message: error.message,
    };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const body = error.getResponse();
    const message =
      typeof body === 'object' && body && 'message' in body
        ? [body.message].flat().join('; ')
        : error.message;
    return { status, code: HttpStatus[status] ?? 'HTTP_ERROR', message };
  }
  // Fastify's own errors (body too large, bad JSON, bad content type) carry a statusCode and a safe message.
  const fastify = error as { statusCode?: number; code?: string; message?: string };
  if (
    typeof fastify.statusCode === 'number' &&
    fastify.statusCode < 500 &&
    fastify.code?.startsWith('FST_')
  ) {
    return { status: fastify.statusCode, code: fastify.code, message: fastify.message ?? 'Bad request' };
  }
  // A database (or other dependency) that is down or did not answer within its bound is an outage, not a bug:
  // 503 + Retry-After, so clients and load balancers try again (e.g. an /admin read during a lock or a freeze).
  if (outageCause(error) !== undefined) {
    return {
      status: HttpStatus.SERVICE_UNAVAILABLE,
      code: 'DEPENDENCY_UNAVAILABLE',
      message: 'A dependency of the service is unavailable; retry later',
    };
  }
  return {
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    code: 'INTERNAL_ERROR',
    message: 'Internal server error',
  };
}

/** The MCP-defined JSON-RPC codes of some errors (2026-07-28: HeaderMismatch, UnsupportedProtocolVersion). */
const JSON_RPC_CODES: Record<string, number> = {
  PARSE_ERROR: -32700,
  INVALID_ENVELOPE: -32602,
  HEADER_MISMATCH: -32020,
  UNSUPPORTED_PROTOCOL_VERSION: -32022,
};

/** JSON-RPC has no HTTP statuses; the codes above, -32600 for other invalid requests, -32000 otherwise. */
function jsonRpcCode(status: number, code: string): number {
  if (Object.hasOwn(JSON_RPC_CODES, code)) return JSON_RPC_CODES[code];
  if (status === 400) return -32600;
  return -32000;
}
