import { DomainError } from '../../common/domain-error.js';
import { loadConfig } from '../../config/app-config.js';
import type { AgentState } from '../../state/agent-state.js';
import type { CallBinding, StateService } from '../../state/state.service.js';
import type { ToolInvocation } from '../tool-pipeline.js';
import type { ToolDefinition, ToolResult } from '../tool.types.js';
import { AUDIT_MARGIN_MS, auditDeadline, auditFailure, TimeoutStep } from './timeout.step.js';

const silent = { warn: () => undefined } as unknown as ToolInvocation['ctx']['logger'];
const handle = {} as AgentState;

/** A strict fake of the one StateService method the step uses: it records the binding it was given. */
function fakeState() {
  const bindings: CallBinding[] = [];
  const bound = {} as AgentState;
  const state = {
    forCall: (given: AgentState, call: CallBinding) => {
      expect(given).toBe(handle);
      bindings.push(call);
      return bound;
    },
  } as unknown as StateService;
  return { state, bindings, bound };
}

function invocation(): ToolInvocation {
  return {
    kind: 'tool',
    call: { name: 'demo.run', arguments: {} },
    ctx: { signal: new AbortController().signal, logger: silent, state: handle } as ToolInvocation['ctx'],
    tool: { name: 'demo.run', version: '1.0.0', timeoutMs: 30 } as ToolDefinition,
  };
}

const never = () => new Promise<ToolResult>(() => undefined);

describe('TimeoutStep', () => {
  const config = loadConfig({});

  it('answers TOOL_TIMEOUT when the budget runs out with no write under way, and aborts the handler', async () => {
    const { state, bindings, bound } = fakeState();
    const call = invocation();
    const started = Date.now();
    await expect(new TimeoutStep(config, state).run(call, never)).rejects.toMatchObject({
      code: 'TOOL_TIMEOUT',
      details: { timeoutMs: 30 },
    });
    expect(call.deadline).toBeGreaterThanOrEqual(started + 30);
    // The handler's state handle is bound to the call: its signal (now aborted) and its writes.
    expect(call.ctx.state).toBe(bound);
    expect(bindings).toHaveLength(1);
    expect(bindings[0].signal).toBe(call.ctx.signal);
    expect(bindings[0].writes).toBe(call.writes);
    expect(call.ctx.signal.aborted).toBe(true);
    expect((call.ctx.signal.reason as DomainError).code).toBe('TOOL_TIMEOUT');
  });

  it('answers OUTCOME_UNKNOWN when a write was sent and its answer has not come (issue #15 §5)', async () => {
    const { state } = fakeState();
    const call = invocation();
    const next = () => {
      call.writes!.sent(); // in flight when the budget runs out
      return never();
    };
    await expect(new TimeoutStep(config, state).run(call, next)).rejects.toMatchObject({
      code: 'OUTCOME_UNKNOWN',
    });
  });

  it('still guarantees nothing changed when every write it sent is known to have changed nothing', async () => {
    const { state } = fakeState();
    const call = invocation();
    const next = () => {
      call.writes!.sent()(false); // e.g. a lost compare-and-set
      return never();
    };
    await expect(new TimeoutStep(config, state).run(call, next)).rejects.toMatchObject({
      code: 'TOOL_TIMEOUT',
    });
  });

  it('returns the result of a handler that finishes in time', async () => {
    const { state } = fakeState();
    const result = { content: [] };
    expect(await new TimeoutStep(config, state).run(invocation(), async () => result)).toBe(result);
  });
});

describe('the audit row of a call', () => {
  it(`must commit ${AUDIT_MARGIN_MS} ms after the call's deadline, or after now when that is later`, () => {
    const call = invocation();
    const now = Date.now();
    call.deadline = now + 10_000;
    expect(auditDeadline(call)).toBe(now + 10_000 + AUDIT_MARGIN_MS);
    call.deadline = undefined; // refused before its budget started
    expect(auditDeadline(call)).toBeGreaterThanOrEqual(now + AUDIT_MARGIN_MS);
    expect(auditDeadline(call)).toBeLessThan(now + AUDIT_MARGIN_MS + 1000);
  });

  it('that failed turns the answer into OUTCOME_UNKNOWN only when the call may have changed state', async () => {
    const { state } = fakeState();
    const call = invocation();
    await new TimeoutStep(loadConfig({}), state).run(call, async () => {
      call.writes!.sent()(true); // committed
      return { content: [] };
    });
    const unavailable = new DomainError('AUDIT_UNAVAILABLE', 'down');
    expect(auditFailure(call, unavailable)).toMatchObject({ code: 'OUTCOME_UNKNOWN' });
    expect(auditFailure(invocation(), unavailable)).toBe(unavailable);
  });
});
