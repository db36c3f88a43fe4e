import type { ClientCapabilities } from '@modelcontextprotocol/server';
import { ChangeNotifier } from '../../tools/change-feed.service.js';
import { inputRequiredAnswer, isInputRequiredAnswer, toolInput } from '../../tools/input.js';
import type { InputRequiredAnswer, ToolContext } from '../../tools/tool.types.js';
import { ConformanceChangeTools } from './conformance-changes.tools.js';
import { ConformanceInputTools } from './conformance-input.tools.js';
import { ConformanceResources } from './conformance.resources.js';
import { ConformanceTools } from './conformance.tools.js';

/** One round of a call: the answers and verified state the pipeline would hand the handler. */
function round(
  responses?: Record<string, unknown>,
  state?: unknown,
  clientCapabilities: ClientCapabilities = { elicitation: {}, sampling: {}, roots: {} },
): ToolContext {
  return {
    input: toolInput(responses, state === undefined ? 1 : 2, state),
    inputRequired: inputRequiredAnswer,
    clientCapabilities,
    log: () => Promise.resolve(),
    signal: new AbortController().signal,
  } as unknown as ToolContext;
}

const accept = (content: Record<string, unknown>) => ({ action: 'accept', content });
const sampled = (text: string) => ({ role: 'assistant', content: { type: 'text', text }, model: 'm' });
const roots = { roots: [{ uri: 'file:///test/root', name: 'Test Root' }] };

function asked(answer: unknown): InputRequiredAnswer {
  if (!isInputRequiredAnswer(answer))
    throw new Error(`expected an input-required answer, got ${JSON.stringify(answer)}`);
  return answer;
}
const methods = (answer: unknown) =>
  Object.fromEntries(Object.entries(asked(answer).requests).map(([key, r]) => [key, r.method]));
const textOf = (result: unknown) => (result as { content: { text: string }[] }).content[0].text;

describe('ConformanceInputTools (input-required fixtures of the conformance suite)', () => {
  const tools = new ConformanceInputTools();

  it('elicitation: asks user_name, greets on the answer, asks again for a missing or malformed one', () => {
    expect(methods(tools.elicitation({}, round()))).toEqual({ user_name: 'elicitation/create' });
    expect(
      textOf(tools.elicitation({}, round({ user_name: accept({ name: 'Alice' }), extra: accept({}) }))),
    ).toBe('Hello, Alice!');
    expect(methods(tools.elicitation({}, round({ wrong_key: accept({ data: 'x' }) })))).toEqual({
      user_name: 'elicitation/create',
    });
    expect(methods(tools.elicitation({}, round({ user_name: 12345 })))).toEqual({
      user_name: 'elicitation/create',
    });
    expect(textOf(tools.elicitation({}, round({ user_name: { action: 'decline' } })))).toMatch(/decline/);
  });

  it('sampling and list_roots: ask once, then answer from the reply', () => {
    expect(methods(tools.sampling({}, round()))).toEqual({ capital_question: 'sampling/createMessage' });
    expect(textOf(tools.sampling({}, round({ capital_question: sampled('Paris') })))).toBe(
      'LLM response: Paris',
    );
    expect(methods(tools.listRoots({}, round()))).toEqual({ client_roots: 'roots/list' });
    expect(textOf(tools.listRoots({}, round({ client_roots: roots })))).toContain('file:///test/root');
  });

  it('request_state: carries a state and answers state-ok only when that state comes back', () => {
    const first = asked(tools.requestState({}, round()));
    expect(first.state).toEqual({ checkpoint: 'awaiting-confirmation' });
    expect(textOf(tools.requestState({}, round({ confirm: accept({ ok: true }) }, first.state)))).toContain(
      'state-ok',
    );
    expect(isInputRequiredAnswer(tools.requestState({}, round({ confirm: accept({ ok: true }) })))).toBe(
      true,
    );
  });

  it('multiple_inputs: asks the three kinds at once, then only what is still missing', () => {
    expect(methods(tools.multipleInputs({}, round()))).toEqual({
      user_name: 'elicitation/create',
      greeting: 'sampling/createMessage',
      client_roots: 'roots/list',
    });
    expect(methods(tools.multipleInputs({}, round({ user_name: accept({ name: 'Alice' }) })))).toEqual({
      greeting: 'sampling/createMessage',
      client_roots: 'roots/list',
    });
    const all = { user_name: accept({ name: 'Alice' }), greeting: sampled('Hello'), client_roots: roots };
    expect(textOf(tools.multipleInputs({}, round(all)))).toBe('Hello Alice (1 root(s))');
  });

  it('multi_round: step1, then step2 with a new state, then the result', () => {
    const r1 = asked(tools.multiRound({}, round()));
    expect(Object.keys(r1.requests)).toEqual(['step1']);
    const r2 = asked(tools.multiRound({}, round({ step1: accept({ name: 'Alice' }) }, r1.state)));
    expect(Object.keys(r2.requests)).toEqual(['step2']);
    expect(r2.state).not.toEqual(r1.state);
    expect(textOf(tools.multiRound({}, round({ step2: accept({ color: 'blue' }) }, r2.state)))).toBe(
      "Alice's favourite colour is blue",
    );
    // An answer to step1 without the state of round 1 starts over.
    expect(
      Object.keys(asked(tools.multiRound({}, round({ step1: accept({ name: 'A' }) }))).requests),
    ).toEqual(['step1']);
  });

  it('tampered_state: carries a state and completes only with it', () => {
    const first = asked(tools.tamperedState({}, round()));
    expect(first.state).toBeDefined();
    expect(textOf(tools.tamperedState({}, round({ confirm: accept({ ok: true }) }, first.state)))).toMatch(
      /verified/,
    );
  });

  it('capabilities: asks only for what the client declared, nothing when it declared nothing', () => {
    expect(methods(tools.capabilities({}, round(undefined, undefined, { sampling: {} })))).toEqual({
      greeting: 'sampling/createMessage',
    });
    expect(isInputRequiredAnswer(tools.capabilities({}, round(undefined, undefined, {})))).toBe(false);
    expect(textOf(tools.capabilities({}, round({ greeting: sampled('Hi') })))).toBe('Received: greeting');
  });

  it('missing_capability asks for sampling whatever the client declared (the server refuses with -32021)', () => {
    expect(methods(tools.missingCapability({}, round(undefined, undefined, {})))).toEqual({
      sample: 'sampling/createMessage',
    });
  });

  it('streaming_elicitation: asks the user, greets on the answer', async () => {
    expect(methods(await tools.streamingElicitation({}, round()))).toEqual({
      user_name: 'elicitation/create',
    });
    expect(textOf(await tools.streamingElicitation({}, round({ user_name: accept({ name: 'Bo' }) })))).toBe(
      'Hello, Bo!',
    );
  });
});

describe('ConformanceTools: the 2025-11-25 sampling and elicitation fixtures ask with ctx.inputRequired()', () => {
  const tools = new ConformanceTools();

  it('test_sampling asks sampling/createMessage with the prompt, then returns the reply', () => {
    const first = asked(tools.sampling({ prompt: 'Say hi' }, round()));
    expect(first.requests.llm).toEqual({
      method: 'sampling/createMessage',
      params: { messages: [{ role: 'user', content: { type: 'text', text: 'Say hi' } }], maxTokens: 100 },
    });
    expect(textOf(tools.sampling({ prompt: 'Say hi' }, round({ llm: sampled('hi') })))).toBe(
      'LLM response: hi',
    );
  });

  it('the elicitation fixtures send their schema as is and report any action', () => {
    const defaults = asked(tools.elicitationDefaults({}, round())).requests.form as {
      params: { requestedSchema: { properties: Record<string, { default?: unknown }> } };
    };
    expect(defaults.params.requestedSchema.properties.score.default).toBe(95.5);
    const enums = asked(tools.elicitationEnums({}, round())).requests.form as {
      params: { requestedSchema: { properties: Record<string, { enumNames?: string[] }> } };
    };
    expect(enums.params.requestedSchema.properties.legacyEnum.enumNames).toHaveLength(3);
    expect(textOf(tools.elicitation({ message: 'm' }, round({ form: { action: 'decline' } })))).toBe(
      'User response: action=decline, content={}',
    );
  });
});

describe('ConformanceResources: test_input_required_result_prompt', () => {
  it('asks for a context, then renders messages with it', () => {
    const prompts = new ConformanceResources();
    const ctx = round() as unknown as Parameters<ConformanceResources['inputRequiredPrompt']>[1];
    expect(methods(prompts.inputRequiredPrompt({}, ctx))).toEqual({ user_context: 'elicitation/create' });
    const answered = round({ user_context: accept({ context: 'tests' }) }) as unknown as typeof ctx;
    expect(JSON.stringify(prompts.inputRequiredPrompt({}, answered))).toContain('tests');
  });
});

describe('ConformanceChangeTools', () => {
  it('announce a tools or prompts list change', () => {
    const announced: string[] = [];
    const changes = {
      toolsChanged: () => announced.push('tools'),
      promptsChanged: () => announced.push('prompts'),
    };
    const tools = new ConformanceChangeTools(changes as unknown as ChangeNotifier);
    tools.toolChange();
    tools.promptChange();
    expect(announced).toEqual(['tools', 'prompts']);
  });
});
