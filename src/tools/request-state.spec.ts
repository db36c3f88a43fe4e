import { createHmac, randomBytes } from 'node:crypto';
import { DomainError } from '../common/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import {
  MAX_REQUEST_STATE_LENGTH,
  RequestStateCodec,
  type FlowState,
  type StateBinding,
} from './request-state.js';
import { isProtocolError, jsonRpcCodeOf } from './tool-errors.js';

const CURRENT = randomBytes(32);
const PREVIOUS = randomBytes(32);
const T0 = Date.UTC(2026, 6, 28, 12, 0, 0);

const codec = (keys: Buffer[] = [CURRENT], ttlSec = 600) =>
  new RequestStateCodec({ mcp: { requestState: { keys, ttlSec } } } as unknown as AppConfig);

const binding: StateBinding = {
  agentId: 'alice',
  method: 'tools/call',
  name: 'conformance.elicit',
  version: '1.0.0',
  argumentsDigest: 'a'.repeat(64),
};
const SECRET_MARK = 'tool-state-marker';
const state: FlowState = {
  flowId: '6f1c2d3e-0000-4000-8000-000000000001',
  round: 2,
  toolState: { step: SECRET_MARK },
};

/** How `verify` refused: its code, reason and message (and that nothing of the token leaked into them). */
function refusal(token: string, bound: StateBinding = binding, now = T0, c = codec()) {
  try {
    c.verify(token, bound, now);
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    const { code, message, details } = error as DomainError;
    expect(JSON.stringify({ message, details })).not.toContain(SECRET_MARK);
    if (typeof token === 'string') expect(message).not.toContain(token.slice(0, 16));
    return { code, reason: details?.reason, message };
  }
  throw new Error('verify accepted the token');
}

/** A token whose payload is changed and whose MAC is recomputed with `key` (what a forger without it cannot do). */
function resigned(token: string, change: (payload: Record<string, unknown>) => void, key = CURRENT): string {
  const payload = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as Record<
    string,
    unknown
  >;
  change(payload);
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

describe('RequestStateCodec', () => {
  it('round-trips the flow state of the call it was minted for', () => {
    const token = codec().mint(binding, state, T0);
    expect(token).toMatch(/^[\w-]+\.[\w-]{43}$/);
    expect(codec().verify(token, binding, T0 + 599_000)).toEqual(state);
    // A replica with the same key accepts it (no memory of the mint is needed).
    expect(codec().verify(token, { ...binding }, T0)).toEqual(state);
  });

  it('leaves toolState out when the round passed none', () => {
    const token = codec().mint(binding, { flowId: state.flowId, round: 1 }, T0);
    expect(codec().verify(token, binding, T0)).toEqual({ flowId: state.flowId, round: 1 });
  });

  it('refuses an altered payload (the MAC no longer matches)', () => {
    const token = codec().mint(binding, state, T0);
    const [body, mac] = token.split('.');
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${Buffer.from(JSON.stringify({ ...payload, r: 3 })).toString('base64url')}.${mac}`;
    expect(refusal(forged)).toMatchObject({ code: 'REQUEST_STATE_INVALID', reason: 'signature' });
  });

  it('refuses an altered MAC, and a MAC in another encoding of the same bytes', () => {
    const token = codec().mint(binding, state, T0);
    const flipped = token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1)!;
    expect(refusal(flipped)).toMatchObject({ code: 'REQUEST_STATE_INVALID', reason: 'signature' });
    // The last of 43 characters carries 4 bits and 2 padding bits: flipping a padding bit keeps the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sameBytes = token.slice(0, -1) + alphabet[alphabet.indexOf(token.at(-1)!) ^ 1];
    expect(Buffer.from(sameBytes.split('.')[1], 'base64url')).toEqual(
      Buffer.from(token.split('.')[1], 'base64url'),
    );
    expect(refusal(sameBytes)).toMatchObject({ code: 'REQUEST_STATE_INVALID', reason: 'signature' });
  });

  it.each([
    ['no dot', 'abc'],
    ['three segments', 'a.b.c'],
    ['an empty payload', `.${'A'.repeat(43)}`],
    ['characters outside base64url', `ab+c.${'A'.repeat(43)}`],
    ['a short MAC', 'abc.AAAA'],
  ])('refuses a malformed token (%s) as REQUEST_STATE_INVALID', (_case, token) => {
    expect(refusal(token).code).toBe('REQUEST_STATE_INVALID');
  });

  it('refuses a non-JSON payload even when correctly signed', () => {
    const body = Buffer.from('not json').toString('base64url');
    const token = `${body}.${createHmac('sha256', CURRENT).update(body).digest('base64url')}`;
    expect(refusal(token)).toMatchObject({ code: 'REQUEST_STATE_INVALID', reason: 'malformed' });
  });

  it("refuses another agent's state, saying so", () => {
    const token = codec().mint(binding, state, T0);
    expect(refusal(token, { ...binding, agentId: 'mallory' })).toEqual({
      code: 'REQUEST_STATE_INVALID',
      reason: 'agent',
      message: 'requestState was issued to another agent; start the call again',
    });
  });

  it.each([
    ['method', { method: 'prompts/get' }],
    ['name', { name: 'conformance.sample' }],
    ['version', { version: '2.0.0' }],
    ['arguments', { argumentsDigest: 'b'.repeat(64) }],
  ] as const)('refuses state re-targeted to another call (%s mismatch)', (reason, change) => {
    const token = codec().mint(binding, state, T0);
    const refused = refusal(token, { ...binding, ...change });
    expect(refused).toMatchObject({ code: 'REQUEST_STATE_INVALID', reason });
    expect(refused.message).toBe(
      `requestState was issued for another call (${reason} mismatch); retry with the same method, name, version and arguments, or start the call again`,
    );
  });

  it('refuses expired state as REQUEST_STATE_EXPIRED, from exp on', () => {
    const token = codec([CURRENT], 60).mint(binding, state, T0);
    expect(codec().verify(token, binding, T0 + 59_999)).toEqual(state);
    expect(refusal(token, binding, T0 + 60_000)).toEqual({
      code: 'REQUEST_STATE_EXPIRED',
      reason: undefined,
      message: 'requestState has expired; start the call again',
    });
  });

  it('checks the MAC before expiry and binding: a forged exp or agent gets nowhere', () => {
    const token = codec([CURRENT], 60).mint(binding, state, T0);
    const attacker = randomBytes(32);
    const later = resigned(token, (p) => (p.exp = Number(p.exp) + 3600), attacker);
    expect(refusal(later, binding, T0 + 120_000)).toMatchObject({ reason: 'signature' });
    const retargeted = resigned(token, (p) => (p.a = 'mallory'), attacker);
    expect(refusal(retargeted, { ...binding, agentId: 'mallory' })).toMatchObject({ reason: 'signature' });
  });

  it('accepts state signed with the previous key during a rotation, and signs with the current one', () => {
    const before = codec([PREVIOUS]).mint(binding, state, T0);
    const rotating = codec([CURRENT, PREVIOUS]);
    expect(rotating.verify(before, binding, T0)).toEqual(state);
    const after = rotating.mint(binding, state, T0);
    expect(codec([CURRENT]).verify(after, binding, T0)).toEqual(state);
    expect(refusal(after, binding, T0, codec([PREVIOUS])).reason).toBe('signature');
  });

  it('refuses state signed with a key it does not hold', () => {
    const foreign = codec([randomBytes(32)]).mint(binding, state, T0);
    expect(refusal(foreign, binding, T0, codec([CURRENT, PREVIOUS]))).toMatchObject({
      code: 'REQUEST_STATE_INVALID',
      reason: 'signature',
    });
  });

  it('refuses an oversized token before decoding it', () => {
    const huge = `${'A'.repeat(MAX_REQUEST_STATE_LENGTH)}.${'A'.repeat(43)}`;
    expect(refusal(huge)).toMatchObject({ code: 'REQUEST_STATE_INVALID', reason: 'too_large' });
  });

  it('refuses a value that is not a string', () => {
    expect(refusal({ state: 1 } as unknown as string)).toMatchObject({ code: 'REQUEST_STATE_INVALID' });
  });

  it('answers refusals as JSON-RPC -32602 protocol errors', () => {
    for (const code of ['REQUEST_STATE_INVALID', 'REQUEST_STATE_EXPIRED'] as const) {
      const error = new DomainError(code, 'x');
      expect(isProtocolError(error)).toBe(true);
      expect(jsonRpcCodeOf(error)).toBe(-32602);
    }
  });
});
