import type { Logger } from 'pino';
import { z } from 'zod';
import { DomainError } from '../../common/domain-error.js';
import type { AppConfig } from '../../config/app-config.js';
import type {
  IdempotencyClaim,
  IdempotencyScope,
  IdempotencyService,
} from '../../state/idempotency.service.js';
import { ask, inputRequiredAnswer } from '../input.js';
import type { ToolInvocation } from '../tool-pipeline.js';
import type { ToolContext, ToolDefinition, ToolResult } from '../tool.types.js';
import {
  IDEMPOTENCY_KEY_META,
  IDEMPOTENT_REPLAY_META,
  IdempotencyStep,
  requestHash,
} from './idempotency.step.js';

/** A strict in-memory store: answers `begin` with what the test scripts, and records every call. */
class ScriptedStore {
  readonly calls: unknown[][] = [];
  constructor(private readonly claim: IdempotencyClaim | Error) {}
  async begin(scope: IdempotencyScope, hash: string): Promise<IdempotencyClaim> {
    this.calls.push(['begin', scope, hash]);
    if (this.claim instanceof Error) throw this.claim;
    return this.claim;
  }
  async complete(claimId: string, result: ToolResult): Promise<boolean> {
    this.calls.push(['complete', claimId, result]);
    return true;
  }
  async release(claimId: string): Promise<void> {
    this.calls.push(['release', claimId]);
  }
}

const logged: unknown[] = [];
const logger = {
  warn: (...args: unknown[]) => logged.push(['warn', ...args]),
  error: (...args: unknown[]) => logged.push(['error', ...args]),
} as unknown as Logger;
const tool = {
  name: 'counter.increment',
  version: '1.0.0',
  input: z.object({}),
} as unknown as ToolDefinition;

function invocation(
  meta: Record<string, unknown> | undefined,
  input: unknown = { name: 'a', by: 1 },
): ToolInvocation {
  const ctx = {
    principal: { agentId: 'alice', scopes: new Set<string>() },
    logger,
  } as unknown as ToolContext;
  return { kind: 'tool', call: { name: tool.name, arguments: {}, meta }, ctx, tool, input };
}

const ok: ToolResult = { content: [{ type: 'text', text: '{"value":1}' }], structuredContent: { value: 1 } };
const withKey = { [IDEMPOTENCY_KEY_META]: 'op-1' };

describe('IdempotencyStep', () => {
  const config = { resilience: { toolTimeoutMs: 30_000 } } as AppConfig;
  const step = (store: ScriptedStore) => new IdempotencyStep(store as unknown as IdempotencyService, config);

  it('does nothing without a key', async () => {
    const store = new ScriptedStore(new Error('must not be asked'));
    await expect(step(store).run(invocation(undefined), async () => ok)).resolves.toBe(ok);
    await expect(step(store).run(invocation({ other: 1 }), async () => ok)).resolves.toBe(ok);
    expect(store.calls).toEqual([]);
  });

  it('never stores a round that asks the client for input: it releases the key for the answering round', async () => {
    const store = new ScriptedStore({ kind: 'claimed', claimId: 'c1' });
    const asking = inputRequiredAnswer({ requests: { confirm: ask.listRoots() } });
    const result = await step(store).run(invocation(withKey), async () => asking as unknown as ToolResult);
    expect(result).toBe(asking);
    expect(store.calls.map(([op]) => op)).toEqual(['begin', 'release']);
  });

  it('claims by agent, tool and key with the hash of the validated input, then stores the success', async () => {
    const store = new ScriptedStore({ kind: 'claimed', claimId: 'c1' });
    let ran = 0;
    const result = await step(store).run(invocation(withKey), async () => {
      ran++;
      return ok;
    });
    expect(result).toBe(ok);
    expect(ran).toBe(1);
    expect(store.calls).toEqual([
      [
        'begin',
        { agentId: 'alice', toolName: 'counter.increment', toolVersion: '1.0.0', key: 'op-1' },
        requestHash({ name: 'a', by: 1 }),
      ],
      ['complete', 'c1', ok],
    ]);
  });

  it('replays a stored result without running the call, flagged in _meta', async () => {
    const stored: ToolResult = { ...ok, _meta: { other: 'kept' } };
    const store = new ScriptedStore({ kind: 'completed', result: stored });
    const result = await step(store).run(invocation(withKey), () => {
      throw new Error('must not run');
    });
    expect(result).toEqual({ ...ok, _meta: { other: 'kept', [IDEMPOTENT_REPLAY_META]: true } });
    expect(store.calls).toHaveLength(1);
  });

  it('releases the claim when the call returns a tool error or throws', async () => {
    const failed: ToolResult = { isError: true, content: [{ type: 'text', text: '{}' }] };
    const store = new ScriptedStore({ kind: 'claimed', claimId: 'c2' });
    await expect(step(store).run(invocation(withKey), async () => failed)).resolves.toBe(failed);
    const boom = new DomainError('TOOL_FAILED', 'boom');
    await expect(
      step(store).run(invocation(withKey), () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(store.calls.filter(([op]) => op !== 'begin')).toEqual([
      ['release', 'c2'],
      ['release', 'c2'],
    ]);
  });

  it('passes the store’s refusal through (reused key, still in progress)', async () => {
    const reused = new DomainError('IDEMPOTENCY_KEY_REUSED', 'reused');
    const store = new ScriptedStore(reused);
    await expect(step(store).run(invocation(withKey), async () => ok)).rejects.toBe(reused);
  });

  it.each([[''], [' spaced '], ['é'], ['x'.repeat(256)], [7], [null]])('rejects the key %j', async (key) => {
    const store = new ScriptedStore(new Error('must not be asked'));
    await expect(
      step(store).run(invocation({ [IDEMPOTENCY_KEY_META]: key }), async () => ok),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    expect(store.calls).toEqual([]);
  });

  it('reports the result even when storing it fails', async () => {
    const store = new ScriptedStore({ kind: 'claimed', claimId: 'c3' });
    store.complete = () => Promise.reject(new Error('database gone'));
    await expect(step(store).run(invocation(withKey), async () => ok)).resolves.toBe(ok);
    expect(logged).toContainEqual([
      'error',
      expect.objectContaining({ idempotencyKey: 'op-1' }),
      expect.any(String),
    ]);
  });
});
