import type { EntityManager } from 'typeorm';

/** What a caller tells the audit trail. The audit module fills time and id. See ARCHITECTURE §2 `audit_event`. */
export interface AuditEventInput {
  kind: 'tool_call' | 'denied' | 'admin' | 'state_change';
  /** When it happened (default: when `record` is called). */
  occurredAt?: Date;
  agentId?: string;
  clientId?: string;
  requestId?: string;
  sessionId?: string;
  toolName?: string;
  toolVersion?: string;
  /** A CallOutcome (success, input_required, tool_error, …; src/tools/tool-errors.ts), or an admin/state action name */
  outcome: string;
  errorCode?: string;
  durationMs?: number;
  paramBytes?: number;
  resultBytes?: number;
  paramsSha256?: string;
  remoteAddr?: string;
  userAgent?: string;
  /** Small, non-secret detail (e.g. the state key and new version, the admin action's target). */
  detail?: Record<string, unknown>;
  /** The protocol revision the call came in on (e.g. `2026-07-28`); at most 32 characters are kept. */
  protocolVersion?: string;
  /** The flow (a UUID) linking the rounds of one input-required call; anything but a UUID is not stored. */
  flowId?: string;
}

/**
 * The port other modules use to write the audit trail (implemented and provided globally by AuditModule).
 * `recordInTransaction` writes inside the caller's transaction, so a state change and its audit row commit together.
 */
export abstract class AuditRecorder {
  /**
   * Resolves once the row is committed; rejects with AUDIT_UNAVAILABLE if it cannot be by `deadline` (epoch ms;
   * default: the database's answer bound from now). A row still queued at its deadline is never written.
   */
  abstract record(event: AuditEventInput, deadline?: number): Promise<void>;
  abstract recordInTransaction(manager: EntityManager, event: AuditEventInput): Promise<void>;
  /**
   * For a statement that makes changes and audits them at once (atomic and one round trip, with no transaction):
   * an `INSERT … SELECT` of `events[n - 1]` for each row of the CTE `source`, joined on its column `n` (1-based,
   * bigint, as `WITH ORDINALITY` numbers rows), with parameters from `$first` on (one array per column); or
   * undefined when the audit trail is off. `detail` may extend the `detail` expression with columns of `source`.
   */
  abstract insertPerRow(
    source: string,
    events: AuditEventInput[],
    first: number,
    detail?: (expression: string) => string,
  ): AuditInsert | undefined;
}

/** SQL for `WITH … , audited AS (<sql>)` and its parameter values. */
export interface AuditInsert {
  sql: string;
  values: unknown[];
}
