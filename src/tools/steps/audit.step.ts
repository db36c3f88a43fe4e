import { Injectable } from '@nestjs/common';
import { AuditRecorder } from '../../audit/audit-recorder.js';
import { AppConfig } from '../../config/app-config.js';
import { argumentsDigest, resultBytes } from '../call-size.js';
import { callOutcome, settle } from '../tool-errors.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/**
 * One durable audit row for every `tools/call`, whatever happens inside (success, tool error, invalid
 * arguments, denial, unknown tool, rate limit, crash). It wraps every policy step, and the caller gets its
 * answer only after the row is committed: if the row cannot be written the call fails with AUDIT_UNAVAILABLE
 * (fail closed), so no acknowledged call lacks its row. Arguments are recorded as size and SHA-256 only, unless
 * `AUDIT_RAW_ARGUMENTS=true`; credentials never reach tool arguments (the token stays in the auth layer).
 */
@Injectable()
export class AuditStep implements ToolStep {
  private readonly rawArguments: boolean;

  constructor(
    private readonly audit: AuditRecorder,
    config: AppConfig,
  ) {
    this.rawArguments = config.audit.rawArguments;
  }

  async run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const { ending, occurredAt, durationMs } = await settle(next);
    const { call, ctx, tool } = invocation;
    const { outcome, errorCode } = callOutcome(ending);
    const args = argumentsDigest(call);
    await this.audit.record({
      kind: 'tool_call',
      occurredAt,
      agentId: ctx.principal.agentId,
      clientId: ctx.principal.clientId,
      requestId: ctx.requestId,
      sessionId: ctx.sessionId,
      remoteAddr: ctx.remoteAddr,
      userAgent: ctx.userAgent,
      // The resolved name (a call may pin `name@version`); as sent when no such tool exists.
      toolName: tool?.name ?? call.name,
      toolVersion: tool?.version,
      outcome,
      errorCode,
      durationMs,
      paramBytes: args.bytes,
      paramsSha256: args.sha256,
      resultBytes: 'result' in ending ? resultBytes(ending.result) : undefined,
      detail: this.rawArguments ? { arguments: call.arguments ?? {} } : undefined,
    });
    if ('result' in ending) return ending.result;
    throw ending.error;
  }
}
