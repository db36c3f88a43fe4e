import { isInputRequiredResult, ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { DomainError, type ErrorCode } from '../common/domain-error.js';
import type { OperationKind } from './tool-pipeline.js';
import type { ToolResult } from './tool.types.js';

/** `_meta` key that carries the stable error code of a failed tool result. */
export const ERROR_CODE_META = 'mcp-production/error-code';

/** Raised by the pipeline for arguments that fail the tool's input schema. */
export class InvalidArgumentsError extends DomainError {
  constructor(issues: { path: string; message: string }[]) {
    super(
      'INVALID_ARGUMENTS',
      `Invalid arguments: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
      {
        issues,
      },
    );
  }
}

/**
 * A failure worth retrying (a dependency timed out, a connection dropped, a lock was contended). Throw it from
 * a handler: idempotent tools are retried with backoff; others fail at once. Counts against the circuit breaker.
 * After the last attempt the caller gets `TOOL_UNAVAILABLE` with this message.
 */
export class TransientError extends DomainError {
  readonly transient = true;

  constructor(
    message = 'The tool is temporarily unavailable; retry later.',
    details?: Record<string, unknown>,
  ) {
    super('TOOL_UNAVAILABLE', message, details);
  }
}

/**
 * Codes that are protocol errors (JSON-RPC error objects, with these JSON-RPC codes), not tool results the model
 * can act on. Denials deliberately avoid `insufficient_scope` semantics for grants: re-authorising cannot help.
 */
const PROTOCOL_ERRORS: Partial<Record<ErrorCode, number>> = {
  UNKNOWN_TOOL: -32602,
  ARGUMENTS_TOO_DEEP: -32602,
  INSUFFICIENT_SCOPE: -32003,
  GRANT_DENIED: -32003,
  // A `requestState` the client sent back that this service cannot honour: a bad parameter of the retry.
  REQUEST_STATE_INVALID: -32602,
  REQUEST_STATE_EXPIRED: -32602,
};

export function isProtocolError(error: unknown): error is DomainError {
  return error instanceof DomainError && error.code in PROTOCOL_ERRORS;
}

export function jsonRpcCodeOf(error: DomainError): number {
  return PROTOCOL_ERRORS[error.code] ?? -32603;
}

/**
 * Codes that a tool call answers as its result but a resource read, prompt get or completion (which have no
 * result to carry an error) as these JSON-RPC errors; any other code is -32603 there.
 */
const FEATURE_PROTOCOL_ERRORS: Partial<Record<ErrorCode, number>> = {
  // An unknown resource URI: -32602 on every revision (2026-07-28 made it a MUST; was -32002). Also prompts.
  NOT_FOUND: ProtocolErrorCode.InvalidParams,
  INVALID_ARGUMENTS: ProtocolErrorCode.InvalidParams,
  // A client that cannot answer a request for input.
  CLIENT_UNSUPPORTED: ProtocolErrorCode.InvalidRequest,
};

/**
 * The one MCP answer to an operation that failed. A tool call answers its error as a tool result
 * (`isError: true`) unless it is a protocol error; every other kind, and protocol errors, leave as the SDK's
 * JSON-RPC error (thrown): the domain code in `data.code` with the details; anything not a DomainError is a
 * generic internal error (details go to the log only).
 */
export function mcpErrorAnswer(kind: OperationKind, error: unknown): ToolResult {
  if (kind === 'tool' && !isProtocolError(error)) return toolErrorResult(error);
  throw protocolErrorOf(error);
}

/** An error as the SDK's JSON-RPC error (see `mcpErrorAnswer`). */
export function protocolErrorOf(error: unknown): ProtocolError {
  if (error instanceof ProtocolError) return error;
  if (!(error instanceof DomainError))
    return new ProtocolError(ProtocolErrorCode.InternalError, 'Internal error');
  const code =
    PROTOCOL_ERRORS[error.code] ?? FEATURE_PROTOCOL_ERRORS[error.code] ?? ProtocolErrorCode.InternalError;
  return new ProtocolError(code, error.message, { code: error.code, ...error.details });
}

/**
 * A failed call as a tool result (`isError: true`): the text is JSON the model can read and act on, and the code
 * is repeated in `_meta` for programs. Unknown errors are reported generically (details go to the log only).
 */
export function toolErrorResult(error: unknown): ToolResult {
  const { code, message, details } =
    error instanceof DomainError
      ? error
      : { code: 'TOOL_FAILED' as const, message: 'The tool failed unexpectedly.', details: undefined };
  return {
    isError: true,
    content: [
      { type: 'text', text: JSON.stringify({ error: { code, message, ...(details && { details }) } }) },
    ],
    _meta: { [ERROR_CODE_META]: code },
  };
}

export function errorCodeOf(result: ToolResult): string | undefined {
  return result.isError
    ? ((result._meta?.[ERROR_CODE_META] as string | undefined) ?? 'TOOL_FAILED')
    : undefined;
}

/** How a `tools/call` ended: the one vocabulary of the audit trail, the metrics and the logs. */
export type CallOutcome =
  | 'success'
  | 'input_required'
  | 'tool_error'
  | 'invalid_arguments'
  | 'denied_scope'
  | 'denied_grant'
  | 'rate_limited'
  | 'unknown_tool'
  | 'error';

/** Error codes with an outcome of their own; any other DomainError is a `tool_error`. */
const OUTCOME_OF_CODE: Readonly<Record<string, CallOutcome>> = {
  INVALID_ARGUMENTS: 'invalid_arguments',
  ARGUMENTS_TOO_DEEP: 'invalid_arguments',
  UNKNOWN_TOOL: 'unknown_tool',
  NOT_FOUND: 'unknown_tool', // a resource or prompt
  INSUFFICIENT_SCOPE: 'denied_scope',
  GRANT_DENIED: 'denied_grant',
  RATE_LIMITED: 'rate_limited',
  INTERNAL_ERROR: 'error',
  AUDIT_UNAVAILABLE: 'error',
  REQUEST_STATE_INVALID: 'invalid_arguments',
  REQUEST_STATE_EXPIRED: 'invalid_arguments',
};

/** How a call ended: its result, or what it threw. */
export type Ending<T> = { result: T } | { error: unknown };

/** Runs a call to its end without throwing: how it ended, when it started, and how long it took (ms, to the µs). */
export async function settle<T>(
  run: () => Promise<T>,
): Promise<{ ending: Ending<T>; occurredAt: Date; durationMs: number }> {
  const occurredAt = new Date();
  const started = performance.now();
  let ending: Ending<T>;
  try {
    ending = { result: await run() };
  } catch (error) {
    ending = { error };
  }
  return { ending, occurredAt, durationMs: Math.round((performance.now() - started) * 1000) / 1000 };
}

/**
 * The one mapping from how an operation ended (a result, or an error thrown through the pipeline) to its outcome
 * and error code: the code its answer carries (`mcpErrorAnswer`). A non-domain error is TOOL_FAILED for a tool
 * (see `toolErrorResult`) and INTERNAL_ERROR for any other kind; a JSON-RPC error a resource or prompt handler
 * threw itself has its code in `data.code`.
 */
export function callOutcome(
  ending: Ending<ToolResult>,
  kind: OperationKind = 'tool',
): {
  outcome: CallOutcome;
  errorCode?: string;
} {
  const code =
    'result' in ending
      ? errorCodeOf(ending.result)
      : ending.error instanceof DomainError
        ? ending.error.code
        : kind !== 'tool' && ending.error instanceof ProtocolError
          ? dataCodeOf(ending.error)
          : undefined;
  if ('error' in ending && code === undefined)
    return { outcome: 'error', errorCode: kind === 'tool' ? 'TOOL_FAILED' : 'INTERNAL_ERROR' };
  // A round that ended asking the client for input (2026-07-28 `InputRequiredResult`): neither done nor failed.
  if ('result' in ending && isInputRequiredResult(ending.result)) return { outcome: 'input_required' };
  if (code === undefined) return { outcome: 'success' };
  return { outcome: outcomeOfCode(code), errorCode: code };
}

function dataCodeOf(error: ProtocolError): string | undefined {
  const code = (error.data as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The audit outcome of an error code (a code no step knows is the tool's own: `tool_error`). */
export function outcomeOfCode(code: string): CallOutcome {
  return OUTCOME_OF_CODE[code] ?? 'tool_error';
}
