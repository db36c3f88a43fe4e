import type {
  GetPromptResult,
  PromptMessage,
  ReadResourceResult,
  ResourceContents,
  ClientCapabilities,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Principal } from '../common/principal.js';
import type { InputRequests, InputRequiredAnswer, JSONValue, ToolInput } from './input.js';

/**
 * Suggests values for one argument of a prompt or one variable of a resource template (`completion/complete`).
 * `value` is what the user typed so far; `context.arguments` holds the other arguments already filled in.
 */
export type Completer = (
  value: string,
  context: { arguments?: Record<string, string> },
) => string[] | Promise<string[]>;

/** What a resource declares on its `@Resource()` decorator: exactly one of `uri` and `uriTemplate`. */
export interface ResourceOptions {
  /** Lowercase like a tool name (`docs.readme`, `test_static_text`); the scope is `resource:<name>`. */
  name: string;
  /** A fixed URI (`test://static-text`): listed by `resources/list`. */
  uri?: string;
  /** An RFC 6570 template (`test://template/{id}/data`): listed by `resources/templates/list`. */
  uriTemplate?: string;
  title?: string;
  description: string;
  mimeType?: string;
  /** Completions of template variables, by variable name. */
  complete?: Record<string, Completer>;
}

/** What a prompt declares on its `@Prompt()` decorator. */
export interface PromptOptions<A extends z.ZodObject = z.ZodObject> {
  /** Lowercase like a tool name; the scope is `prompt:<name>`. */
  name: string;
  title?: string;
  description: string;
  /** The prompt's arguments (MCP prompt arguments are strings); `.describe()` texts become their descriptions. */
  args?: A;
  /** Completions of arguments, by argument name. */
  complete?: Partial<Record<keyof z.infer<A> & string, Completer>>;
}

/** Per-request context of a resource read or a prompt get. */
export interface FeatureContext {
  principal: Principal;
  requestId: string;
  sessionId?: string;
  logger: Logger;
  signal: AbortSignal;
  /** As for tools (`ToolContext.input`): the client's answers to the previous round's `inputRequired()`. */
  input: ToolInput;
  /** Ends this round asking the client for input; return it from the handler (see `ToolContext`). */
  inputRequired(spec: { requests: InputRequests; state?: JSONValue }): InputRequiredAnswer;
  clientCapabilities?: ClientCapabilities;
  protocolVersion?: string;
}

/** One content of a resource; `uri` and `mimeType` default to the requested URI and the declared type. */
export type ResourceBody =
  { uri?: string; mimeType?: string; text: string } | { uri?: string; mimeType?: string; blob: string };

/**
 * A resource handler gets the requested URI, the template variables (empty for a fixed URI) and the context. It
 * returns a text, one or several bodies, or a full `ReadResourceResult`.
 */
export type ResourceHandler = (
  uri: URL,
  variables: Record<string, string>,
  ctx: FeatureContext,
) => string | ResourceBody | ResourceBody[] | ReadResourceResult | Promise<unknown>;

/** A prompt handler gets its validated arguments; it returns messages or a full `GetPromptResult`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- arguments are typed per prompt by its zod schema
export type PromptHandler = (args: any, ctx: FeatureContext) => unknown;

export interface ResourceDefinition {
  name: string;
  uri?: string;
  uriTemplate?: string;
  title?: string;
  description: string;
  mimeType?: string;
  complete: Record<string, Completer>;
  handler: ResourceHandler;
  owner: string;
}

export interface PromptDefinition {
  name: string;
  title?: string;
  description: string;
  args?: z.ZodObject;
  /** The MCP `arguments` list, derived once from `args`. */
  arguments: { name: string; description?: string; required: boolean }[];
  complete: Record<string, Completer>;
  handler: PromptHandler;
  owner: string;
}

export type { GetPromptResult, PromptMessage, ReadResourceResult, ResourceContents };
