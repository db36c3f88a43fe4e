import { Injectable } from '@nestjs/common';
import { auditEvent, type AuditCaller } from '../../audit/audit-event.builder.js';
import { AuditRecorder } from '../../audit/audit-recorder.js';
import { AppConfig } from '../../config/app-config.js';
import { argumentsDigest, resultBytes } from '../call-size.js';
import { callOutcome, settle } from '../tool-errors.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolContext, ToolResult } from '../tool.types.js';
import { auditDeadline, auditFailure } from './timeout.step.js';
import { refuseDeepArguments } from './validation.step.js';

/**
 * One durable audit row for every operation (`tools/call`, `resources/read`, `prompts/get`,
 * `completion/complete`; kind `tool_call`), whatever happens inside (success, tool error, invalid
 * arguments, denial, unknown tool, rate limit, crash). It wraps every policy step, and the caller gets its
 * answer only after the row is committed: if the row cannot be written the call fails with AUDIT_UNAVAILABLE
 * (fail closed), so no acknowledged call lacks its row. Each round of an input-required call is audited as a call
 * of its own (outcome `input_required` but for the last), with the protocol version and the flow id that links
 * the rounds. Arguments are recorded as size and SHA-256 only, unless
 * `AUDIT_RAW_ARGUMENTS=true`; credentials never reach tool arguments (the token stays in the auth layer).
 * Arguments nested too deep are refused here, first, so that the refusal is audited like any other ending and
 * nothing after this step (version and grant checks, schemas, tools) walks them.
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
    const { call, ctx } = invocation;
    const { ending, occurredAt, durationMs } = await settle(() => {
      refuseDeepArguments(call.arguments);
      return next();
    });
    const { outcome, errorCode } = callOutcome(ending, invocation.kind);
    // Bounded: past the call's deadline + AUDIT_MARGIN_MS the call answers an error instead of its result.
    await this.audit
      .record(
        auditEvent('tool_call', callerOf(ctx), {
          occurredAt,
          // The resolved name (a call may pin `name@version`); as sent when no such tool exists. A feature's
          // name is its grant key (`resource:<name>`, `prompt:<name>`; the URI or name as sent when unknown).
          name: invocation.tool?.name ?? call.name,
          version: invocation.tool?.version,
          outcome,
          errorCode,
          durationMs,
          params: argumentsDigest(call),
          resultBytes: 'result' in ending ? resultBytes(ending.result) : undefined,
          detail: this.rawArguments ? { arguments: call.arguments ?? {} } : undefined,
          // Read after the call: the input step sets it from a later round's state, or as a first round asks.
          flowId: invocation.flowId,
        }),
        auditDeadline(invocation),
      )
      .catch((error: unknown) => {
        throw auditFailure(invocation, error);
      });
    if ('result' in ending) return ending.result;
    throw ending.error;
  }
}

/** The caller's columns of the audit row, from the operation's context. */
function callerOf(ctx: ToolContext): AuditCaller {
  const { principal, requestId, sessionId, remoteAddr, userAgent, protocolVersion } = ctx;
  return {
    agentId: principal.agentId,
    clientId: principal.clientId,
    requestId,
    sessionId,
    remoteAddr,
    userAgent,
    protocolVersion,
  };
}
