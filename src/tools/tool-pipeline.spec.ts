import { ProtocolError } from '@modelcontextprotocol/server';
import { DomainError } from '../common/domain-error.js';
import { chainsOf } from './tool-invoker.service.js';
import { callOutcome, mcpErrorAnswer } from './tool-errors.js';
import { STEPS_OF_KIND, type StepName, type ToolStep } from './tool-pipeline.js';

/** A fake step per name: the chains are then read back as names. */
const named = Object.fromEntries(
  Object.values(STEPS_OF_KIND)
    .flat()
    .map((name) => [name, { name } as unknown as ToolStep]),
) as Record<StepName, ToolStep>;
const namesOf = (chain: ToolStep[]) => chain.map((step) => (step as unknown as { name: string }).name);

describe('the operation pipeline, per kind', () => {
  it('runs every policy step for a tool call, in policy order', () => {
    expect(namesOf(chainsOf(named).tool)).toEqual([
      'logging',
      'audit',
      'resolve',
      'authorization',
      'input',
      'validation',
      'idempotency',
      'breaker',
      'timeout',
      'retry',
    ]);
  });

  it('logs, audits and admits resources, prompts and completions; rounds for reads and gets only', () => {
    const chains = chainsOf(named);
    expect(namesOf(chains.resource)).toEqual(['logging', 'audit', 'resolveFeature', 'input']);
    expect(namesOf(chains.prompt)).toEqual(['logging', 'audit', 'resolveFeature', 'input']);
    expect(namesOf(chains.completion)).toEqual(['logging', 'audit', 'resolveFeature']);
  });
});

describe('mcpErrorAnswer: the one MCP error mapping', () => {
  const thrown = (kind: 'tool' | 'resource', error: unknown) => {
    try {
      return { result: mcpErrorAnswer(kind, error) };
    } catch (e) {
      return { error: e as ProtocolError };
    }
  };

  it('answers a tool error as the tool result, the same error of a resource as a JSON-RPC error', () => {
    const error = new DomainError('NOT_FOUND', 'No such row', { id: 7 });
    expect(thrown('tool', error).result).toMatchObject({
      isError: true,
      _meta: { 'mcp-production/error-code': 'NOT_FOUND' },
    });
    expect(thrown('resource', error).error).toMatchObject({
      code: -32602,
      message: 'No such row',
      data: { code: 'NOT_FOUND', id: 7 },
    });
  });

  it('answers a protocol error the same for every kind', () => {
    const denied = new DomainError('GRANT_DENIED', 'no grant', { tool: 'x' });
    for (const kind of ['tool', 'resource'] as const) {
      expect(thrown(kind, denied).error).toBeInstanceOf(ProtocolError);
      expect(thrown(kind, denied).error).toMatchObject({
        code: -32003,
        data: { code: 'GRANT_DENIED', tool: 'x' },
      });
    }
  });

  it('says nothing of a crash, and audits it with the code the caller got', () => {
    const crash = new Error('secret');
    expect(JSON.stringify(thrown('tool', crash).result)).not.toContain('secret');
    expect(thrown('resource', crash).error).toMatchObject({ code: -32603, message: 'Internal error' });
    expect(callOutcome({ error: crash }, 'tool')).toEqual({ outcome: 'error', errorCode: 'TOOL_FAILED' });
    expect(callOutcome({ error: crash }, 'resource')).toEqual({
      outcome: 'error',
      errorCode: 'INTERNAL_ERROR',
    });
  });
});
