import type { FastifyRequest } from 'fastify';
import { principalOf } from '../common/principal.js';
import { requestViewOf } from '../common/request-view.js';
import type { AuditEventInput } from './audit-recorder.js';

/** Who asked: the columns every row about an MCP request carries, whoever writes it (pipeline or guard). */
export interface AuditCaller {
  agentId: string;
  clientId?: string;
  requestId: string;
  sessionId?: string;
  remoteAddr?: string;
  userAgent?: string;
  protocolVersion?: string;
}

/** What was asked (a tool, or a feature's grant key such as `resource:<name>`) and how it ended. */
export interface AuditedOperation {
  name: string;
  version?: string;
  /** A CallOutcome (src/tools/tool-errors.ts). */
  outcome: string;
  errorCode?: string;
  occurredAt?: Date;
  durationMs?: number;
  /** Size and SHA-256 of the parameters as received. */
  params?: { bytes: number; sha256: string };
  resultBytes?: number;
  flowId?: string;
  detail?: Record<string, unknown>;
}

/**
 * The one builder of an operation's audit row: the pipeline's (`tool_call`, every kind of operation) and the
 * guards' refusals before it (`denied`: scope, rate limit) fill the same columns the same way.
 */
export function auditEvent(
  kind: 'tool_call' | 'denied',
  caller: AuditCaller,
  operation: AuditedOperation,
): AuditEventInput {
  return {
    kind,
    occurredAt: operation.occurredAt,
    agentId: caller.agentId,
    clientId: caller.clientId,
    requestId: caller.requestId,
    sessionId: caller.sessionId,
    remoteAddr: caller.remoteAddr,
    userAgent: caller.userAgent,
    protocolVersion: caller.protocolVersion,
    toolName: operation.name,
    toolVersion: operation.version,
    outcome: operation.outcome,
    errorCode: operation.errorCode,
    durationMs: operation.durationMs,
    paramBytes: operation.params?.bytes,
    paramsSha256: operation.params?.sha256,
    resultBytes: operation.resultBytes,
    flowId: operation.flowId,
    detail: operation.detail,
  };
}

/** The caller of an HTTP request a guard refuses: its principal, request id, client and request view. */
export function auditCallerOf(req: FastifyRequest): AuditCaller {
  const principal = principalOf(req);
  const view = requestViewOf(req);
  const userAgent = req.headers['user-agent'];
  return {
    agentId: principal.agentId,
    clientId: principal.clientId,
    requestId: String(req.id),
    sessionId: view?.sessionId,
    remoteAddr: req.ip,
    userAgent,
    protocolVersion: view?.protocolVersion,
  };
}
