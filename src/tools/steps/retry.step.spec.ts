import { DomainError } from '../../common/domain-error.js';
import { loadConfig } from '../../config/app-config.js';
import { DatabaseTimeoutError } from '../../database/bounded-client.js';
import { OutcomeUnknownError } from '../../database/write-outcome.js';
import { CallWrites } from '../../state/call-writes.js';
import { TransientError } from '../tool-errors.js';
import type { ToolInvocation } from '../tool-pipeline.js';
import type { ToolDefinition, ToolResult } from '../tool.types.js';
import { backoffMs, isTransient, RetryStep } from './retry.step.js';

const silent = { warn: () => undefined } as unknown as ToolInvocation['ctx']['logger'];

function invocation(tool: Partial<ToolDefinition>, meta?: Record<string, unknown>): ToolInvocation {
  return {
    kind: 'tool',
    call: { name: 'demo.run', arguments: {}, meta },
    ctx: { signal: new AbortController().signal, logger: silent } as ToolInvocation['ctx'],
    tool: { name: 'demo.run', version: '1.0.0', ...tool } as ToolDefinition,
  };
}

/** A `next()` that fails with `errors` in turn, then succeeds; `next.calls` counts its calls. */
function failing(...errors: Error[]) {
  const next = Object.assign(
    async (): Promise<ToolResult> => {
      next.calls++;
      const error = errors.shift();
      if (error) throw error;
      return { content: [] };
    },
    { calls: 0 },
  );
  return next;
}

describe('RetryStep', () => {
  const step = new RetryStep(loadConfig({ RETRY_BASE_DELAY_MS: '1', RETRY_MAX_DELAY_MS: '2' }));

  it('retries transient failures of an idempotent tool and reports the attempts', async () => {
    const next = failing(new TransientError(), new TransientError());
    const result = await step.run(invocation({ annotations: { idempotentHint: true } }), next);
    expect(next.calls).toBe(3);
    expect(result._meta).toEqual({ 'mcp-production/attempts': 3 });
  });

  it('stops at RETRY_MAX_ATTEMPTS and rethrows the last failure', async () => {
    const last = new TransientError('third');
    const next = failing(new TransientError(), new TransientError(), last, new TransientError());
    await expect(step.run(invocation({ annotations: { idempotentHint: true } }), next)).rejects.toBe(last);
    expect(next.calls).toBe(3);
  });

  it.each([
    ['no idempotency hint', {}],
    ['idempotentHint false', { annotations: { idempotentHint: false } }],
    ['retry: false on an idempotent tool', { annotations: { idempotentHint: true }, retry: false as const }],
  ])('never retries with %s', async (_why, tool) => {
    const next = failing(new TransientError());
    await expect(step.run(invocation(tool), next)).rejects.toBeInstanceOf(TransientError);
    expect(next.calls).toBe(1);
  });

  it('retries a call with an idempotency key, and honours a tool retry policy', async () => {
    const keyed = failing(new TransientError());
    await step.run(invocation({}, { 'mcp-production/idempotency-key': 'k-1' }), keyed);
    expect(keyed.calls).toBe(2);
    const declared = failing(...Array.from({ length: 5 }, () => new TransientError()));
    await step.run(invocation({ retry: { attempts: 6 } }), declared);
    expect(declared.calls).toBe(6);
  });

  it('does not retry definite answers', async () => {
    const next = failing(new DomainError('STATE_VERSION_CONFLICT', 'lost'));
    await expect(step.run(invocation({ annotations: { idempotentHint: true } }), next)).rejects.toMatchObject(
      {
        code: 'STATE_VERSION_CONFLICT',
      },
    );
    expect(next.calls).toBe(1);
  });

  it('never repeats a write whose outcome is unknown (issue #15 §5)', async () => {
    const next = failing(new OutcomeUnknownError('no answer'));
    await expect(step.run(invocation({ annotations: { idempotentHint: true } }), next)).rejects.toMatchObject(
      {
        code: 'OUTCOME_UNKNOWN',
      },
    );
    expect(next.calls).toBe(1);
  });

  it('never repeats an attempt whose writes may have changed state, whatever failed after them', async () => {
    const call = invocation({ annotations: { idempotentHint: true } });
    call.writes = new CallWrites();
    const next = Object.assign(
      async (): Promise<ToolResult> => {
        next.calls++;
        call.writes!.sent()(true); // a write committed, then something transient failed
        throw new TransientError();
      },
      { calls: 0 },
    );
    await expect(step.run(call, next)).rejects.toBeInstanceOf(TransientError);
    expect(next.calls).toBe(1);
  });
});

describe('isTransient', () => {
  it.each([
    [new TransientError(), true],
    [Object.assign(new Error('x'), { transient: true }), true],
    [Object.assign(new Error('serialization'), { code: '40001' }), true],
    [Object.assign(new Error('wrapped deadlock'), { driverError: { code: '40P01' } }), true],
    [Object.assign(new Error('conn'), { code: '08006' }), true],
    [Object.assign(new Error('reset'), { code: 'ECONNRESET' }), true],
    [new Error('Connection terminated unexpectedly'), true],
    [Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }), true],
    [new DatabaseTimeoutError(1500), true],
    [new Error('timeout exceeded when trying to connect'), true],
    [new OutcomeUnknownError('no answer'), false],
    [Object.assign(new Error('unique'), { code: '23505' }), false],
    [new DomainError('INVALID_ARGUMENTS', 'bad'), false],
    [new Error('bug'), false],
    ['a string', false],
  ])('%p → %p', (error, expected) => {
    expect(isTransient(error)).toBe(expected);
  });
});

describe('backoffMs', () => {
  it('stays within the exponential ceiling and the maximum', () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      for (let i = 0; i < 50; i++) {
        const delay = backoffMs(attempt, { baseDelayMs: 100, maxDelayMs: 1000 });
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(Math.min(1000, 100 * 2 ** (attempt - 1)));
      }
    }
  });
});
