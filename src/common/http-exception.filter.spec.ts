import { ServiceUnavailableException, type ArgumentsHost } from '@nestjs/common';
import { DomainError } from './domain-error.js';
import { HttpExceptionFilter } from './http-exception.filter.js';
import { ProtocolRequestError } from './request-view.js';

/** What the filter sent: status, headers and body. */
interface Sent {
  status?: number;
  headers: Record<string, string>;
  body?: unknown;
}

/** A request on `route` (the route pattern the router matched; undefined = unmatched) and a recording reply. */
function hostFor(route: string | undefined): { host: ArgumentsHost; sent: Sent } {
  const sent: Sent = { headers: {} };
  const reply = {
    sent: false,
    raw: { headersSent: false },
    header(name: string, value: string) {
      sent.headers[name.toLowerCase()] = value;
      return reply;
    },
    hasHeader: (name: string) => name.toLowerCase() in sent.headers,
    status(code: number) {
      sent.status = code;
      return reply;
    },
    send(body: unknown) {
      sent.body = body;
      return reply;
    },
  };
  const request = { url: '/whatever', routeOptions: { url: route } };
  const host = {
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
  } as unknown as ArgumentsHost;
  return { host, sent };
}

describe('HttpExceptionFilter', () => {
  const filter = new HttpExceptionFilter();
  // 5xx are logged in full; keep the test output clean.
  Object.assign(filter, { logger: { error: () => undefined, warn: () => undefined } });

  it('answers on the MCP route with a JSON-RPC error envelope, whatever the raw URL was', () => {
    const { host, sent } = hostFor('/mcp');
    filter.catch(new DomainError('INVALID_REQUEST', 'bad'), host);
    expect(sent).toEqual({
      status: 400,
      headers: {},
      body: {
        jsonrpc: '2.0',
        error: { code: -32600, message: 'bad', data: { code: 'INVALID_REQUEST' } },
        id: null,
      },
    });
  });

  it.each([
    ['HEADER_MISMATCH', -32020],
    ['INVALID_ENVELOPE', -32602],
    ['UNSUPPORTED_PROTOCOL_VERSION', -32022],
  ] as const)('answers %s with 400, JSON-RPC %i and the id of the request it refuses', (code, rpc) => {
    const { host, sent } = hostFor('/mcp');
    filter.catch(new ProtocolRequestError(code, 'bad', 7, { header: 'Mcp-Name' }), host);
    expect(sent).toEqual({
      status: 400,
      headers: {},
      body: {
        jsonrpc: '2.0',
        error: { code: rpc, message: 'bad', data: { header: 'Mcp-Name', code } },
        id: 7,
      },
    });
  });

  it('answers elsewhere (and on unmatched requests) with { statusCode, code, message }', () => {
    for (const route of ['/admin/grants', undefined]) {
      const { host, sent } = hostFor(route);
      filter.catch(new DomainError('NOT_FOUND', 'no such grant'), host);
      expect(sent.body).toEqual({ statusCode: 404, code: 'NOT_FOUND', message: 'no such grant' });
    }
  });

  it.each([
    ['AUTH_UNAVAILABLE on /mcp', '/mcp', new DomainError('AUTH_UNAVAILABLE', 'IdP down')],
    ['AUDIT_UNAVAILABLE on /admin', '/admin/grants', new DomainError('AUDIT_UNAVAILABLE', 'database down')],
    ['readiness 503 (terminus)', '/health/ready', new ServiceUnavailableException({ status: 'error' })],
  ])('gives every 503 a Retry-After: %s', (_name, route, error) => {
    const { host, sent } = hostFor(route);
    filter.catch(error, host);
    expect(sent.status).toBe(503);
    expect(Number(sent.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it("keeps a 503's own Retry-After", () => {
    const { host, sent } = hostFor('/mcp');
    const error = Object.assign(new DomainError('RATE_LIMIT_UNAVAILABLE', 'Redis down'), {
      headers: { 'retry-after': '7' },
    });
    filter.catch(error, host);
    expect(sent.headers['retry-after']).toBe('7');
  });

  it('adds no Retry-After to other statuses', () => {
    const { host, sent } = hostFor('/mcp');
    filter.catch(new Error('boom'), host);
    expect(sent.status).toBe(500);
    expect(sent.headers['retry-after']).toBeUndefined();
  });
});
