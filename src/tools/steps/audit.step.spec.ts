import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { EntityManager } from 'typeorm';
import { z } from 'zod';
import { AuditRecorder, type AuditEventInput } from '../../audit/audit-recorder.js';
import { DomainError } from '../../common/domain-error.js';
import { loadConfig } from '../../config/app-config.js';
import { toolErrorResult } from '../tool-errors.js';
import type { ToolInvocation } from '../tool-pipeline.js';
import type { ToolContext, ToolDefinition, ToolResult } from '../tool.types.js';
import { AuditStep } from './audit.step.js';

/** A strict in-memory recorder: keeps what it is given, or fails like an unavailable store. */
class MemoryRecorder extends AuditRecorder {
  readonly events: AuditEventInput[] = [];
  failure?: Error;
  async record(event: AuditEventInput): Promise<void> {
    if (this.failure) throw this.failure;
    this.events.push(event);
  }
  recordInTransaction(_manager: EntityManager, _event: AuditEventInput): Promise<void> {
    throw new Error('not used by the tool pipeline');
  }
  insertPerRow(): undefined {
    throw new Error('not used by the tool pipeline');
  }
}

const tool = { name: 'echo', version: '2.1.0', input: z.object({}) } as unknown as ToolDefinition;
const ctx = {
  principal: { agentId: 'alice', clientId: 'cli', scopes: new Set<string>() },
  requestId: 'req-1',
  sessionId: 'sess-1',
  logger: {} as Logger,
  signal: new AbortController().signal,
} as unknown as ToolContext;

function invocation(args: Record<string, unknown> = { text: 'secret-value' }): ToolInvocation {
  return { kind: 'tool', call: { name: 'echo', arguments: args }, ctx, tool };
}

const ok: ToolResult = { content: [{ type: 'text', text: '{"text":"secret-value"}' }] };

describe('AuditStep', () => {
  let recorder: MemoryRecorder;
  const step = (env: Record<string, string> = {}) => new AuditStep(recorder, loadConfig(env));
  beforeEach(() => {
    recorder = new MemoryRecorder();
  });

  it('records a success with sizes and a SHA-256 of the arguments, never the arguments themselves', async () => {
    const result = await step().run(invocation(), async () => ok);
    expect(result).toBe(ok);
    const json = JSON.stringify({ text: 'secret-value' });
    expect(recorder.events).toEqual([
      expect.objectContaining({
        kind: 'tool_call',
        agentId: 'alice',
        clientId: 'cli',
        requestId: 'req-1',
        sessionId: 'sess-1',
        toolName: 'echo',
        toolVersion: '2.1.0',
        outcome: 'success',
        paramBytes: Buffer.byteLength(json),
        paramsSha256: createHash('sha256').update(json).digest('hex'),
        resultBytes: Buffer.byteLength(JSON.stringify(ok)),
        detail: undefined,
      }),
    ]);
    expect(recorder.events[0].errorCode).toBeUndefined();
    expect(recorder.events[0].durationMs).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(recorder.events)).not.toContain('secret-value');
  });

  it('keeps raw arguments only when AUDIT_RAW_ARGUMENTS=true', async () => {
    await step({ AUDIT_RAW_ARGUMENTS: 'true' }).run(invocation(), async () => ok);
    expect(recorder.events[0].detail).toEqual({ arguments: { text: 'secret-value' } });
  });

  it('records a tool error result with the code from its _meta', async () => {
    const failed = toolErrorResult(new DomainError('TOOL_FAILED', 'boom'));
    await step().run(invocation(), async () => failed);
    expect(recorder.events[0]).toMatchObject({ outcome: 'tool_error', errorCode: 'TOOL_FAILED' });
  });

  it.each([
    ['GRANT_DENIED', 'denied_grant'],
    ['INSUFFICIENT_SCOPE', 'denied_scope'],
    ['UNKNOWN_TOOL', 'unknown_tool'],
    ['INVALID_ARGUMENTS', 'invalid_arguments'],
    ['RATE_LIMITED', 'rate_limited'],
    ['CIRCUIT_OPEN', 'tool_error'],
    ['REQUEST_STATE_INVALID', 'invalid_arguments'],
    ['REQUEST_STATE_EXPIRED', 'invalid_arguments'],
  ])('records a thrown %s as %s and rethrows it unchanged', async (code, outcome) => {
    const error = new DomainError(code as DomainError['code'], 'no');
    await expect(
      step().run(invocation(), async () => {
        throw error;
      }),
    ).rejects.toBe(error);
    expect(recorder.events[0]).toMatchObject({ outcome, errorCode: code, resultBytes: undefined });
  });

  it('records an unexpected crash as error / TOOL_FAILED', async () => {
    await expect(
      step().run(invocation(), async () => {
        throw new TypeError('bug');
      }),
    ).rejects.toThrow('bug');
    expect(recorder.events[0]).toMatchObject({ outcome: 'error', errorCode: 'TOOL_FAILED' });
  });

  it('records the name as sent when the tool does not resolve', async () => {
    const unresolved = { ...invocation(), tool: undefined, call: { name: 'no.such', arguments: undefined } };
    await expect(
      step().run(unresolved, async () => {
        throw new DomainError('UNKNOWN_TOOL', 'Unknown tool');
      }),
    ).rejects.toThrow(DomainError);
    expect(recorder.events[0]).toMatchObject({ toolName: 'no.such', toolVersion: undefined, paramBytes: 2 });
  });

  it('records each round of an input-required call: its protocol version, its flow, input_required but the last', async () => {
    const flowId = '0b7e4a52-6a3c-4b8e-9d55-2f1f0c2d9a10';
    const round = (): ToolInvocation => ({
      ...invocation(),
      ctx: { ...ctx, protocolVersion: '2026-07-28' },
    });
    const asking = {
      resultType: 'input_required',
      inputRequests: { name: { method: 'elicitation/create', params: {} } },
      requestState: 'opaque',
    } as unknown as ToolResult;
    // The input step (inside this one) sets the flow id on the way in.
    for (const result of [asking, ok]) {
      const current = round();
      await step().run(current, async () => {
        current.flowId = flowId;
        return result;
      });
    }
    expect(recorder.events).toEqual([
      expect.objectContaining({ outcome: 'input_required', protocolVersion: '2026-07-28', flowId }),
      expect.objectContaining({ outcome: 'success', protocolVersion: '2026-07-28', flowId }),
    ]);
    expect(recorder.events[0].errorCode).toBeUndefined();
  });

  it('records no protocol version or flow for a call that carries none', async () => {
    await step().run(invocation(), async () => ok);
    expect(recorder.events[0]).toMatchObject({ protocolVersion: undefined, flowId: undefined });
  });

  it('fails closed: when the row cannot be written, the caller gets that error instead of the result', async () => {
    recorder.failure = new DomainError('AUDIT_UNAVAILABLE', 'down');
    await expect(step().run(invocation(), async () => ok)).rejects.toBe(recorder.failure);
  });
});
