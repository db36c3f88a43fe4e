import { createHmac, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { DomainError } from '../common/domain-error.js';
import { AppConfig } from '../config/app-config.js';

/** What a `requestState` is bound to: the call it continues. A retry of anything else is refused. */
export interface StateBinding {
  agentId: string;
  method: 'tools/call' | 'prompts/get' | 'resources/read';
  name: string;
  version: string;
  argumentsDigest: string;
}

/** What travels from one round of a call to the next. */
export interface FlowState {
  /** Links the rounds of one logical call (audit `flow_id`). */
  flowId: string;
  round: number;
  /** The tool's own `state` (JSON). Signed, not encrypted: the client can read it, so it must hold no secrets. */
  toolState?: unknown;
}

/** Longest token looked at: anything longer is refused before it is decoded (a round's state is small). */
export const MAX_REQUEST_STATE_LENGTH = 16 * 1024;

const SEGMENT = /^[A-Za-z0-9_-]+$/;
/** An HMAC-SHA256 in base64url: 32 bytes, 43 characters. */
const MAC_LENGTH = 43;

/** The signed payload; short keys keep the token (sent back on every retry) small. */
const payloadSchema = z.strictObject({
  a: z.string(), // agentId
  m: z.string(), // method
  n: z.string(), // name
  v: z.string(), // version
  d: z.string(), // argumentsDigest
  f: z.string(), // flowId
  r: z.number().int().min(1),
  s: z.unknown().optional(), // toolState
  exp: z.number().int(), // expiry, seconds since the epoch
});
type Payload = z.infer<typeof payloadSchema>;

/** The call's binding fields, in the order a mismatch is reported: payload field, binding field, reason. */
const BOUND: readonly [keyof Payload, keyof StateBinding, string][] = [
  ['m', 'method', 'method'],
  ['n', 'name', 'name'],
  ['v', 'version', 'version'],
  ['d', 'argumentsDigest', 'arguments'],
];

/**
 * The integrity-protected `requestState` of input-required round trips (2026-07-28): what a round hands the next
 * one goes to the client and comes back, possibly to another replica, so it is signed (HMAC-SHA256 with
 * `MCP_REQUEST_STATE_KEY`, shared by replicas) and bound to the agent, the call and an expiry. A token is
 * `base64url(JSON payload) "." base64url(MAC)`. During a key rotation, tokens signed with
 * `MCP_REQUEST_STATE_KEY_PREVIOUS` are still accepted; new ones are always signed with the current key.
 * Errors never echo the token or its state.
 */
@Injectable()
export class RequestStateCodec {
  private readonly keys: readonly Buffer[];
  private readonly ttlSec: number;

  constructor(config: AppConfig) {
    this.keys = config.mcp.requestState.keys;
    this.ttlSec = config.mcp.requestState.ttlSec;
    if (this.keys.length === 0) throw new Error('RequestStateCodec: no key configured');
  }

  /** A token for the next round of `binding`'s call, valid for MCP_REQUEST_STATE_TTL_SEC from `now` (epoch ms). */
  mint(binding: StateBinding, state: FlowState, now = Date.now()): string {
    const payload: Payload = {
      a: binding.agentId,
      m: binding.method,
      n: binding.name,
      v: binding.version,
      d: binding.argumentsDigest,
      f: state.flowId,
      r: state.round,
      ...(state.toolState !== undefined && { s: state.toolState }),
      exp: Math.floor(now / 1000) + this.ttlSec,
    };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${mac(this.keys[0], body).toString()}`;
  }

  /**
   * The state `token` carries, if this service signed it (with any accepted key), it has not expired at `now`
   * (epoch ms), and it was issued for `binding`'s agent and call. Checked in that order: nothing in an unsigned
   * token is trusted or reported. Throws REQUEST_STATE_INVALID or REQUEST_STATE_EXPIRED (JSON-RPC -32602).
   */
  verify(token: string, binding: StateBinding, now = Date.now()): FlowState {
    if (typeof token !== 'string') throw invalid('malformed', 'requestState must be a string');
    if (token.length > MAX_REQUEST_STATE_LENGTH)
      throw invalid('too_large', `requestState is longer than ${MAX_REQUEST_STATE_LENGTH} characters`);
    const [body, signature, extra] = token.split('.');
    if (extra !== undefined || !body || !SEGMENT.test(body) || !signature || !SEGMENT.test(signature))
      throw invalid('malformed', 'requestState is not a state this service issued');
    // The MAC as sent (one encoding only), compared in constant time with each accepted key's.
    const given = Buffer.from(signature);
    if (given.length !== MAC_LENGTH || !this.keys.some((key) => timingSafeEqual(mac(key, body), given)))
      throw invalid(
        'signature',
        'requestState failed its integrity check (altered, or signed with another key)',
      );
    const payload = decode(body);
    if (!payload) throw invalid('malformed', 'requestState is not a state this service issued');
    if (now >= payload.exp * 1000)
      throw new DomainError('REQUEST_STATE_EXPIRED', 'requestState has expired; start the call again');
    if (payload.a !== binding.agentId)
      throw invalid('agent', 'requestState was issued to another agent; start the call again');
    for (const [field, key, reason] of BOUND) {
      if (payload[field] !== binding[key])
        throw invalid(
          reason,
          `requestState was issued for another call (${reason} mismatch); retry with the same method, name, ` +
            'version and arguments, or start the call again',
        );
    }
    return { flowId: payload.f, round: payload.r, ...(payload.s !== undefined && { toolState: payload.s }) };
  }
}

/** The MAC of a payload segment, as its base64url text (bytes). */
function mac(key: Buffer, body: string): Buffer {
  return Buffer.from(createHmac('sha256', key).update(body).digest('base64url'));
}

function decode(body: string): Payload | undefined {
  try {
    const parsed = payloadSchema.safeParse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** `details.reason` says which check failed (a stable word), never what the token held. */
function invalid(reason: string, message: string): DomainError {
  return new DomainError('REQUEST_STATE_INVALID', message, { reason });
}
