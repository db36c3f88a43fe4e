import { randomBytes } from 'node:crypto';
import { DomainError } from '../common/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { ask, inputRequiredAnswer } from './input.js';
import { InputRounds } from './input-rounds.js';
import { RequestStateCodec, type StateBinding } from './request-state.js';

const codec = new RequestStateCodec({
  mcp: { requestState: { keys: [randomBytes(32)], ttlSec: 600 } },
} as unknown as AppConfig);
const rounds = new InputRounds(codec);
const binding: StateBinding = {
  agentId: 'alice',
  method: 'tools/call',
  name: 'deploy.release',
  version: '1.0.0',
  argumentsDigest: 'd',
};
const modern = { protocolVersion: '2026-07-28' };
const confirm = ask.elicit({
  message: 'Deploy?',
  requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
});

describe('InputRounds', () => {
  it('carries the round, the flow and the tool state from one round to the next through the signed state', () => {
    const first = rounds.begin(binding, {});
    expect(first.input.round).toBe(1);
    expect(first.flowId).toBeUndefined();
    const asked = rounds.ask(
      binding,
      first,
      inputRequiredAnswer({ requests: { confirm }, state: { step: 2 } }),
      modern,
    );
    expect(asked).toMatchObject({ resultType: 'input_required', inputRequests: { confirm } });
    expect(first.flowId).toMatch(/^[0-9a-f-]{36}$/);

    const answers = { confirm: { action: 'accept', content: { ok: true } } };
    const second = rounds.begin(binding, { inputResponses: answers, requestState: asked.requestState });
    expect(second).toMatchObject({ flowId: first.flowId, input: { round: 2 } });
    expect(second.input.state()).toEqual({ step: 2 });
    expect(second.input.accepted('confirm')).toEqual({ ok: true });
    // Answers without the state of the round that asked carry no state and start a new flow.
    expect(rounds.begin(binding, { inputResponses: answers })).toMatchObject({ input: { round: 1 } });
  });

  it('refuses a state minted for another call before anything runs', () => {
    const round = rounds.begin(binding, {});
    const { requestState } = rounds.ask(
      binding,
      round,
      inputRequiredAnswer({ requests: { confirm } }),
      modern,
    );
    expect(() => rounds.begin({ ...binding, agentId: 'mallory' }, { requestState })).toThrow(
      expect.objectContaining({ code: 'REQUEST_STATE_INVALID' }) as DomainError,
    );
    expect(() => rounds.begin({ ...binding, argumentsDigest: 'other' }, { requestState })).toThrow(
      expect.objectContaining({ code: 'REQUEST_STATE_INVALID' }) as DomainError,
    );
  });

  it('asks a 2025 client only through a session whose client declared the capability', () => {
    const answer = inputRequiredAnswer({ requests: { confirm } });
    const ask2025 = (client: object) => () => rounds.ask(binding, rounds.begin(binding, {}), answer, client);
    const unsupported = (message: string) =>
      expect.objectContaining({
        code: 'CLIENT_UNSUPPORTED',
        message: expect.stringContaining(message) as string,
      }) as DomainError;
    expect(ask2025({ protocolVersion: '2025-11-25' })).toThrow(unsupported('initialize first'));
    expect(ask2025({ protocolVersion: '2025-11-25', sessionId: 's' })).toThrow(unsupported('replica'));
    expect(ask2025({ sessionId: 's', clientCapabilities: { sampling: {} } })).toThrow(
      unsupported('did not declare the elicitation capability'),
    );
    expect(ask2025({ sessionId: 's', clientCapabilities: { elicitation: {} } })()).toMatchObject({
      resultType: 'input_required',
    });
    // A 2026-07-28 client's declared capabilities are the SDK's to check (-32021).
    expect(rounds.ask(binding, rounds.begin(binding, {}), answer, modern).resultType).toBe('input_required');
  });
});
