import { Injectable } from '@nestjs/common';
import type { CallToolResult, ClientCapabilities } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { Tool } from '../../tools/tool.decorator.js';
import { ask, type InputRequiredAnswer, type ToolContext } from '../../tools/tool.types.js';
import { type FormSchema, samplingText, text } from './conformance.fixtures.js';

const NoInput = z.object({});
type Answer = CallToolResult | InputRequiredAnswer;

const Name = z.object({ name: z.string() });
const Color = z.object({ color: z.string() });
const Confirmation = z.object({ ok: z.boolean() });
const NAME_FORM: FormSchema = {
  type: 'object',
  properties: { name: { type: 'string' } },
  required: ['name'],
};
const COLOR_FORM: FormSchema = {
  type: 'object',
  properties: { color: { type: 'string' } },
  required: ['color'],
};
const CONFIRM_FORM: FormSchema = {
  type: 'object',
  properties: { ok: { type: 'boolean' } },
  required: ['ok'],
};

const askName = (message = 'What is your name?') => ask.elicit({ message, requestedSchema: NAME_FORM });
const askConfirmation = () => ask.elicit({ message: 'Please confirm', requestedSchema: CONFIRM_FORM });
const askGreeting = () =>
  ask.createMessage({
    messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }],
    maxTokens: 50,
  });

/** What `test_input_required_result_multi_round` carries from one round to the next (signed, not secret). */
type MultiRoundState = { step: 1 } | { step: 2; name: string };

/** The three kinds of input, the capability each needs, and the request that asks for it. */
const KINDS = [
  { key: 'user_name', capability: 'elicitation', request: () => askName() },
  { key: 'greeting', capability: 'sampling', request: askGreeting },
  { key: 'client_roots', capability: 'roots', request: () => ask.listRoots() },
] as const satisfies { key: string; capability: keyof ClientCapabilities; request: () => unknown }[];

/**
 * The input-required fixtures of the official conformance suite (2026-07-28, SEP-2322 "multi round-trip
 * requests"): each handler asks with `ctx.inputRequired()` and reads the answers of the retried call from
 * `ctx.input`. Written once for both eras: on a 2025 session the SDK asks the client with real requests and calls
 * the handler again. An answer that is missing or malformed is asked for again (the suite's
 * missing-input-response and validate-input scenarios); extra answers are ignored.
 */
@Injectable()
export class ConformanceInputTools {
  @Tool({
    name: 'test_input_required_result_elicitation',
    description: 'Asks the user for their name (input-required elicitation), then greets them',
    input: NoInput,
  })
  elicitation(_input: object, ctx: ToolContext): Answer {
    const answer = ctx.input.response('user_name');
    if (answer.kind === 'elicit' && answer.action !== 'accept')
      return text(`No name given (${answer.action})`);
    const user = ctx.input.accepted('user_name', Name);
    if (!user) return ctx.inputRequired({ requests: { user_name: askName() } });
    return text(`Hello, ${user.name}!`);
  }

  @Tool({
    name: 'test_input_required_result_sampling',
    description: "Asks the client's LLM a question (input-required sampling) and returns its answer",
    input: NoInput,
  })
  sampling(_input: object, ctx: ToolContext): Answer {
    const answer = ctx.input.response('capital_question');
    if (answer.kind === 'sampling') return text(`LLM response: ${samplingText(answer)}`);
    return ctx.inputRequired({
      requests: {
        capital_question: ask.createMessage({
          messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }],
          maxTokens: 100,
        }),
      },
    });
  }

  @Tool({
    name: 'test_input_required_result_list_roots',
    description: "Asks for the client's roots (input-required roots/list) and lists them",
    input: NoInput,
  })
  listRoots(_input: object, ctx: ToolContext): Answer {
    const answer = ctx.input.response('client_roots');
    if (answer.kind === 'roots')
      return text(`Client roots: ${answer.roots.map((r) => r.uri).join(', ') || '(none)'}`);
    return ctx.inputRequired({ requests: { client_roots: ask.listRoots() } });
  }

  @Tool({
    name: 'test_input_required_result_request_state',
    description:
      'Asks for a confirmation with a request state, and checks that state when the answer comes back',
    input: NoInput,
  })
  requestState(_input: object, ctx: ToolContext): Answer {
    const confirmed = ctx.input.accepted('confirm', Confirmation);
    // The state is verified by the pipeline (HMAC, bound to this agent, tool and arguments) before it gets here.
    if (!confirmed || ctx.input.state<{ checkpoint?: string }>()?.checkpoint !== 'awaiting-confirmation')
      return ctx.inputRequired({
        requests: { confirm: askConfirmation() },
        state: { checkpoint: 'awaiting-confirmation' },
      });
    return text(`state-ok: confirmed=${confirmed.ok}`);
  }

  @Tool({
    name: 'test_input_required_result_multiple_inputs',
    description:
      'Asks for a name, an LLM greeting and the roots in one round, then combines the three answers',
    input: NoInput,
  })
  multipleInputs(_input: object, ctx: ToolContext): Answer {
    const user = ctx.input.accepted('user_name', Name);
    const greeting = ctx.input.response('greeting');
    const roots = ctx.input.response('client_roots');
    if (user && greeting.kind === 'sampling' && roots.kind === 'roots')
      return text(`${samplingText(greeting)} ${user.name} (${roots.roots.length} root(s))`);
    // Ask again for what is still missing only.
    return ctx.inputRequired({
      requests: {
        ...(!user && { user_name: askName() }),
        ...(greeting.kind !== 'sampling' && { greeting: askGreeting() }),
        ...(roots.kind !== 'roots' && { client_roots: ask.listRoots() }),
      },
      state: { asked: 'name, greeting, roots' },
    });
  }

  @Tool({
    name: 'test_input_required_result_multi_round',
    description: 'Asks for a name, then for a favourite colour (two input-required rounds), then answers',
    input: NoInput,
  })
  multiRound(_input: object, ctx: ToolContext): Answer {
    const state = ctx.input.state<MultiRoundState>();
    if (state?.step === 2) {
      const color = ctx.input.accepted('step2', Color);
      if (color) return text(`${state.name}'s favourite colour is ${color.color}`);
      return this.askColor(ctx, state.name);
    }
    const user = state?.step === 1 ? ctx.input.accepted('step1', Name) : undefined;
    if (user) return this.askColor(ctx, user.name);
    return ctx.inputRequired({
      requests: { step1: askName('Step 1: What is your name?') },
      state: { step: 1 } satisfies MultiRoundState,
    });
  }

  private askColor(ctx: ToolContext, name: string): InputRequiredAnswer {
    return ctx.inputRequired({
      requests: {
        step2: ask.elicit({ message: 'Step 2: What is your favorite color?', requestedSchema: COLOR_FORM }),
      },
      state: { step: 2, name } satisfies MultiRoundState,
    });
  }

  @Tool({
    name: 'test_input_required_result_tampered_state',
    description:
      'Asks for a confirmation with a signed request state; a tampered state is refused before it runs',
    input: NoInput,
  })
  tamperedState(_input: object, ctx: ToolContext): Answer {
    const confirmed = ctx.input.accepted('confirm', Confirmation);
    if (!confirmed || ctx.input.state() === undefined)
      return ctx.inputRequired({ requests: { confirm: askConfirmation() }, state: { checkpoint: 'signed' } });
    return text(`State verified: confirmed=${confirmed.ok}`);
  }

  @Tool({
    name: 'test_input_required_result_capabilities',
    description: 'Asks only for what the client declared it supports (elicitation, sampling, roots)',
    input: NoInput,
  })
  capabilities(_input: object, ctx: ToolContext): Answer {
    const received = KINDS.filter(({ key }) => ctx.input.response(key).kind !== 'missing').map(
      ({ key }) => key,
    );
    if (received.length > 0) return text(`Received: ${received.join(', ')}`);
    const declared = KINDS.filter(({ capability }) => ctx.clientCapabilities?.[capability] !== undefined);
    if (declared.length === 0)
      return text('The client declared no capability to answer with: nothing to ask');
    return ctx.inputRequired({
      requests: Object.fromEntries(declared.map(({ key, request }) => [key, request()])),
    });
  }

  /**
   * Always asks the client's LLM: a 2026-07-28 request whose envelope does not declare `sampling` is refused
   * with -32021 (MissingRequiredClientCapability) before anything is asked (server-stateless scenario).
   */
  @Tool({
    name: 'test_missing_capability',
    description:
      "Needs the client's sampling capability: refused (-32021) when the request does not declare it",
    input: NoInput,
  })
  missingCapability(_input: object, ctx: ToolContext): Answer {
    const answer = ctx.input.response('sample');
    if (answer.kind === 'sampling') return text(`LLM response: ${samplingText(answer)}`);
    return ctx.inputRequired({ requests: { sample: askGreeting() } });
  }

  /**
   * Logs, then asks the user: on 2026-07-28 the response stream carries notifications and the input-required
   * result only, never a server→client request (server-stateless scenario).
   */
  @Tool({
    name: 'test_streaming_elicitation',
    description: 'Logs progress, then asks the user a question (input-required elicitation)',
    input: NoInput,
  })
  async streamingElicitation(_input: object, ctx: ToolContext): Promise<Answer> {
    const user = ctx.input.accepted('user_name', Name);
    if (user) return text(`Hello, ${user.name}!`);
    await ctx.log('info', 'Preparing a question for the user');
    return ctx.inputRequired({ requests: { user_name: askName() } });
  }
}
