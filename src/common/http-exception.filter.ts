import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type ErrorCode } from './domain-error.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_REQUEST: HttpStatus.BAD_REQUEST,
  PARSE_ERROR: HttpStatus.BAD_REQUEST,
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
};

/** Errors raised while serving HTTP may add response headers (e.g. `WWW-Authenticate`, `Retry-After`). */
export interface WithHeaders {
  headers?: Record<string, string>;
}

/**
 * The HTTP transport's one error mapper. `/mcp` answers with a JSON-RPC error envelope (clients parse it), every
 * other route with `{ statusCode, code, message }`. Unknown errors are logged in full and answered generically.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const { status, code, message } = describe(error);
    if (status >= 500) this.logger.error(error);
    if (reply.sent || reply.raw.headersSent) return;

    for (const [name, value] of Object.entries((error as WithHeaders).headers ?? {}))
      reply.header(name, value);
    const isMcp = request.url.split('?')[0].startsWith('/mcp');
    if (isMcp) {
      reply.status(status).send({
        jsonrpc: '2.0',
        // DomainError details (e.g. `retryAfterSeconds` of RATE_LIMITED) travel in `data` next to the code.
        error: {
          code: jsonRpcCode(status, code),
          message,
          data: { ...(error instanceof DomainError && error.details), code },
        },
        id: null,
      });
    } else if (error instanceof HttpException && typeof error.getResponse() === 'object') {
      reply.status(status).send(error.getResponse()); // e.g. terminus health reports keep their own body
    } else {
      const details = error instanceof DomainError ? error.details : undefined;
      reply.status(status).send({ statusCode: status, code, message, ...(details && { details }) });
    }
  }
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
  return {
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    code: 'INTERNAL_ERROR',
    message: 'Internal server error',
  };
}

/** JSON-RPC has no HTTP statuses; -32700 for unparseable bodies, -32600 for invalid requests, -32000 otherwise. */
function jsonRpcCode(status: number, code: string): number {
  if (code === 'PARSE_ERROR') return -32700;
  if (status === 400) return -32600;
  return -32000;
}
