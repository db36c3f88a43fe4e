import { loadConfig } from '../config/app-config.js';
import { DomainError } from './domain-error.js';
import { OriginGuard } from './origin.guard.js';

/** A request as Fastify's router matched it: `route` is the route pattern (null: nothing matched, a 404). */
function requestWith(headers: Record<string, string>, route: string | null = '/mcp') {
  return { headers, routeOptions: { url: route ?? undefined } } as Parameters<OriginGuard['check']>[0];
}

describe('OriginGuard', () => {
  const guard = new OriginGuard(
    loadConfig({ PUBLIC_URL: 'https://mcp.example.com', ALLOWED_ORIGINS: 'https://app.example.com' }),
  );

  it.each([
    [{ host: 'mcp.example.com' }],
    [{ host: 'localhost:3000' }],
    [{ host: '127.0.0.1:3000', origin: 'https://mcp.example.com' }],
    [{ host: 'mcp.example.com', origin: 'https://app.example.com' }],
  ])('lets %j through', (headers) => {
    expect(() => guard.check(requestWith(headers))).not.toThrow();
  });

  it.each([
    [{ host: 'evil.example' }, 'FORBIDDEN_HOST'],
    [{}, 'FORBIDDEN_HOST'],
    [{ host: 'mcp.example.com', origin: 'https://evil.example' }, 'FORBIDDEN_ORIGIN'],
    [{ host: 'mcp.example.com', origin: 'null' }, 'FORBIDDEN_ORIGIN'],
  ])('rejects %j with %s', (headers, code) => {
    expect(() => guard.check(requestWith(headers))).toThrow(DomainError);
    expect(() => guard.check(requestWith(headers))).toThrow(expect.objectContaining({ code }) as Error);
  });

  it('decides on the matched route, not on a URL: other routes and unmatched requests are not its business', () => {
    const evil = { host: 'evil.example', origin: 'https://evil.example' };
    expect(() => guard.check(requestWith(evil, '/health/ready'))).not.toThrow();
    expect(() => guard.check(requestWith(evil, null))).not.toThrow();
  });
});
