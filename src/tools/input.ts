import {
  acceptedContent,
  inputRequired,
  inputResponse,
  type InputRequests,
  type InputResponseView,
  type JSONValue,
  type StandardSchemaV1,
} from '@modelcontextprotocol/server';

/**
 * Builders for the requests a tool may put in `ctx.inputRequired({ requests })`: `ask.elicit` (a form),
 * `ask.elicitUrl` (an out-of-band URL), `ask.createMessage` (sampling) and `ask.listRoots()`.
 */
export const ask = {
  elicit: (params: Parameters<typeof inputRequired.elicit>[0]) => inputRequired.elicit(params),
  elicitUrl: (params: Parameters<typeof inputRequired.elicitUrl>[0]) => inputRequired.elicitUrl(params),
  createMessage: (params: Parameters<typeof inputRequired.createMessage>[0]) =>
    inputRequired.createMessage(params),
  listRoots: () => inputRequired.listRoots(),
};

export type { InputRequests, InputResponseView, JSONValue };

/** The client's answers in this round of a call (`ctx.input`). Everything here came from the client: untrusted. */
export interface ToolInput {
  /** 1 on the first entry of a call, n on its n-th (each entry is one authorised, audited round). */
  readonly round: number;
  /** This round's answers, keyed like the requests of the previous round (raw; prefer the readers below). */
  readonly responses: Record<string, unknown> | undefined;
  /** One answer as a discriminated view: `missing`, `elicit` (with `action`), `sampling` or `roots`. */
  response(key: string): InputResponseView;
  /** The content of an accepted form elicitation, validated by `schema` when given; otherwise `undefined`. */
  accepted<T = Record<string, unknown>>(key: string, schema?: StandardSchemaV1<unknown, T>): T | undefined;
  /** What the previous round passed as `state` (integrity-checked: signed by this service, not encrypted). */
  state<T = unknown>(): T | undefined;
}

/** What `ctx.inputRequired()` returns and the handler returns in turn: this round ends asking for input. */
export interface InputRequiredAnswer {
  readonly [INPUT_REQUIRED]: true;
  readonly requests: InputRequests;
  /** Carried to the next round (`ctx.input.state()`); it travels through the client: never put secrets in it. */
  readonly state?: JSONValue;
}

const INPUT_REQUIRED: unique symbol = Symbol('mcp-production/input-required');

export function inputRequiredAnswer(spec: {
  requests: InputRequests;
  state?: JSONValue;
}): InputRequiredAnswer {
  if (Object.keys(spec.requests).length === 0)
    throw new TypeError('ctx.inputRequired() needs at least one request');
  return {
    [INPUT_REQUIRED]: true,
    requests: spec.requests,
    ...(spec.state !== undefined && { state: spec.state }),
  };
}

export function isInputRequiredAnswer(value: unknown): value is InputRequiredAnswer {
  return typeof value === 'object' && value !== null && INPUT_REQUIRED in value;
}

/** `ctx.input` for one round, over the answers the request carried and the verified state of the last round. */
export function toolInput(
  responses: Record<string, unknown> | undefined,
  round: number,
  toolState: unknown,
): ToolInput {
  return {
    round,
    responses,
    response: (key) => inputResponse(responses, key),
    accepted: <T>(key: string, schema?: StandardSchemaV1<unknown, T>) =>
      (schema ? acceptedContent(responses, key, schema) : acceptedContent(responses, key)) as T | undefined,
    state: <T>() => toolState as T | undefined,
  };
}

/** The first round of a call: nothing answered yet. */
export const FIRST_ROUND: ToolInput = toolInput(undefined, 1, undefined);
