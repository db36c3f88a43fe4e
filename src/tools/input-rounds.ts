import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { ClientCapabilities, InputRequiredResult } from '@modelcontextprotocol/server';
import { DomainError } from '../common/domain-error.js';
import { toolInput, type InputRequiredAnswer, type ToolInput } from './input.js';
import { RequestStateCodec, type StateBinding } from './request-state.js';

/** The revision whose clients answer input-required results themselves. */
const MODERN = '2026-07-28';

/** Which client capability each kind of input request needs. */
const NEEDS: Record<string, keyof ClientCapabilities> = {
  'elicitation/create': 'elicitation',
  'sampling/createMessage': 'sampling',
  'roots/list': 'roots',
};

/** What InputRounds needs to know of the client a round answers. */
export interface Client {
  protocolVersion?: string;
  clientCapabilities?: ClientCapabilities;
  sessionId?: string;
}

function assertLegacyCanAnswer(answer: InputRequiredAnswer, client: Client): void {
  for (const request of Object.values(answer.requests)) {
    const capability = NEEDS[request.method];
    if (!client.sessionId)
      throw unsupported(capability, 'a 2025 client needs a session for it (initialize first)');
    if (!client.clientCapabilities)
      throw unsupported(
        capability,
        "this replica does not hold the session's stream; route the session back to the replica that opened it (README: ingress)",
      );
    if (capability && !client.clientCapabilities[capability])
      throw unsupported(capability, `the client did not declare the ${capability} capability`);
  }
}

function unsupported(feature: string | undefined, why: string): DomainError {
  return new DomainError(
    'CLIENT_UNSUPPORTED',
    `Cannot ask the client for input (${feature ?? 'input'}): ${why}`,
    {
      feature,
    },
  );
}

/** One round of a call that may ask the client for input: what it starts with, and the flow it belongs to. */
export interface Round {
  input: ToolInput;
  /** Set once the call is known to span rounds: carried in from a signed state, or minted when it asks. */
  flowId?: string;
}

/**
 * Input-required round trips (MCP 2026-07-28 "multi round-trip requests"; the SDK's shim plays them on 2025
 * sessions), the same for tools and prompts. A later round's `requestState` is verified (HMAC, bound to the
 * agent, the method, the name and version, the arguments) before anything runs; an answer that asks for input
 * leaves with a freshly signed state. The flow id inside links the audit rows of one logical call.
 */
@Injectable()
export class InputRounds {
  constructor(private readonly codec: RequestStateCodec) {}

  begin(
    binding: StateBinding,
    carried: { inputResponses?: Record<string, unknown>; requestState?: string },
  ): Round {
    const previous =
      carried.requestState === undefined ? undefined : this.codec.verify(carried.requestState, binding);
    return {
      input: toolInput(carried.inputResponses, previous ? previous.round + 1 : 1, previous?.toolState),
      ...(previous && { flowId: previous.flowId }),
    };
  }

  /**
   * The wire answer of a round that asks for input; sets `round.flowId` for the audit row. A 2025 client gets
   * the requests through the SDK's shim on its session, so it must have one and have declared each capability
   * (`CLIENT_UNSUPPORTED` otherwise, a tool error the model can read); a 2026-07-28 client's declared
   * capabilities are the SDK's to check (-32021).
   */
  ask(binding: StateBinding, round: Round, answer: InputRequiredAnswer, client: Client): InputRequiredResult {
    if (client.protocolVersion !== MODERN) assertLegacyCanAnswer(answer, client);
    round.flowId ??= randomUUID();
    const requestState = this.codec.mint(binding, {
      flowId: round.flowId,
      round: round.input.round,
      ...(answer.state !== undefined && { toolState: answer.state }),
    });
    return { resultType: 'input_required', inputRequests: answer.requests, requestState };
  }
}
