import { DomainError, type ErrorCode } from '../common/domain-error.js';
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

/** Codes that are protocol errors (JSON-RPC error objects), not tool results the model can act on. */
const PROTOCOL_CODES: ReadonlySet<ErrorCode> = new Set(['UNKNOWN_TOOL']);

export function isProtocolError(error: unknown): error is DomainError {
  return error instanceof DomainError && PROTOCOL_CODES.has(error.code);
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
