import type { FastifyRequest } from 'fastify';
import { setPrincipal } from '../common/principal.js';
import { auditCallerOf, auditEvent } from './audit-event.builder.js';

describe('auditEvent: the one builder of an operation audit row', () => {
  const caller = {
    agentId: 'alice',
    clientId: 'app',
    requestId: 'r-1',
    sessionId: 's-1',
    remoteAddr: '10.0.0.1',
    userAgent: 'ua',
    protocolVersion: '2026-07-28',
  };

  it('fills every column of the caller and of the operation', () => {
    const occurredAt = new Date();
    expect(
      auditEvent('tool_call', caller, {
        name: 'resource:docs',
        version: '1.0.0',
        outcome: 'success',
        occurredAt,
        durationMs: 1.5,
        params: { bytes: 12, sha256: 'ab' },
        resultBytes: 40,
        flowId: 'f',
      }),
    ).toEqual({
      kind: 'tool_call',
      occurredAt,
      agentId: 'alice',
      clientId: 'app',
      requestId: 'r-1',
      sessionId: 's-1',
      remoteAddr: '10.0.0.1',
      userAgent: 'ua',
      protocolVersion: '2026-07-28',
      toolName: 'resource:docs',
      toolVersion: '1.0.0',
      outcome: 'success',
      errorCode: undefined,
      durationMs: 1.5,
      paramBytes: 12,
      paramsSha256: 'ab',
      resultBytes: 40,
      flowId: 'f',
      detail: undefined,
    });
  });

  it("reads a guard's caller from the request: principal, request id, client, request view", () => {
    const req = { id: 7, ip: '10.0.0.2', headers: { 'user-agent': 'curl' } } as unknown as FastifyRequest;
    setPrincipal(req, { agentId: 'bob', clientId: 'cli', scopes: new Set<string>() });
    expect(auditCallerOf(req)).toMatchObject({
      agentId: 'bob',
      clientId: 'cli',
      requestId: '7',
      remoteAddr: '10.0.0.2',
      userAgent: 'curl',
    });
  });
});
