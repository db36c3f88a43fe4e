import type { ExecutionContext } from '@nestjs/common';
import { loadConfig } from '../config/app-config.js';
import { DomainError } from './domain-error.js';
import { OriginGuard } from './origin.guard.js';

function contextWith(headers: Record<string, string>): ExecutionContext {
  return {
    switchToHttp: () => ({ getRequest: () => ({ headers, url: '/mcp' }) }),
  } as unknown as ExecutionContext;
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
    expect(guard.canActivate(contextWith(headers))).toBe(true);
  });

  it.each([
    [{ host: 'evil.example' }, 'FORBIDDEN_HOST'],
    [{}, 'FORBIDDEN_HOST'],
    [{ host: 'mcp.example.com', origin: 'https://evil.example' }, 'FORBIDDEN_ORIGIN'],
    [{ host: 'mcp.example.com', origin: 'null' }, 'FORBIDDEN_ORIGIN'],
  ])('rejects %j with %s', (headers, code) => {
    expect(() => guard.canActivate(contextWith(headers))).toThrow(DomainError);
    expect(() => guard.canActivate(contextWith(headers))).toThrow(expect.objectContaining({ code }) as Error);
  });
});
