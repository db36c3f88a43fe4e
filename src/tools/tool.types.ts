import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Principal } from '../common/principal.js';

export type { Principal };

/** What a tool declares on its `@Tool()` decorator. */
export interface ToolOptions<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  /** `<pack>.<verb>` in lowercase, e.g. `counter.increment`. */
  name: string;
  /** Semver-like version string; defaults to `1.0.0`. */
  version?: string;
  title?: string;
  description: string;
  input: I;
  /** When set, results carry `structuredContent` validated against it. */
  output?: O;
  annotations?: ToolAnnotations;
}

/** Per-call context handed to every handler, built fresh for each call. */
export interface ToolContext {
  principal: Principal;
  requestId: string;
  sessionId?: string;
  logger: Logger;
  /** Fires when the call times out or the client goes away. */
  signal: AbortSignal;
}

/** A handler returns its structured output (an object) or a full MCP result. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- input is typed per tool by its zod schema
export type ToolHandler = (input: any, ctx: ToolContext) => unknown;

/** A discovered tool, resolved once at boot: schemas are converted here and never per request. */
export interface ToolDefinition {
  name: string;
  version: string;
  title?: string;
  description: string;
  input: z.ZodObject;
  output?: z.ZodObject;
  inputJsonSchema: Record<string, unknown>;
  outputJsonSchema?: Record<string, unknown>;
  annotations?: ToolAnnotations;
  handler: ToolHandler;
  /** Class that declared it, for diagnostics. */
  owner: string;
}

export interface ToolCall {
  name: string;
  arguments: Record<string, unknown> | undefined;
  meta?: Record<string, unknown>;
}

export type ToolResult = CallToolResult;
