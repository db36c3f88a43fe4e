import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { DataSource, type EntityManager } from 'typeorm';
import { principalOf } from '../common/principal.js';
import type { AuditEventInput } from './audit-recorder.js';
import { AuditService } from './audit.service.js';

/** Response header of every admin action: the id of its audit row (JSON answers also carry it as `auditId`). */
export const AUDIT_ID_HEADER = 'audit-id';

/** Who performs an admin action: the admin of an HTTP request (`adminActor`), or e.g. `{ agentId: 'cli' }`. */
export type AdminActor = Pick<
  AuditEventInput,
  'agentId' | 'clientId' | 'requestId' | 'remoteAddr' | 'userAgent'
>;

export function adminActor(req: FastifyRequest): AdminActor {
  const admin = principalOf(req);
  return {
    agentId: admin.agentId,
    clientId: admin.clientId,
    requestId: String(req.id),
    remoteAddr: req.ip,
    userAgent: req.headers['user-agent'],
  };
}

/**
 * The audit rows of admin actions (`kind: admin`, outcome = the action, its target in `detail`). An action that
 * changes something commits in ONE transaction with its row (`act`): there is never an action without its row,
 * nor a row for an action that did not happen, and the answer can name the row.
 */
@Injectable()
export class AdminAudit {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  /**
   * Runs `work` and writes its audit row in one transaction. If the row cannot be written, the work is rolled back
   * and the caller gets AUDIT_UNAVAILABLE (503); if the work throws (e.g. NOT_FOUND), nothing is written. Answers
   * the work's result and the row's id (null when the audit trail is off).
   */
  async act<T>(
    actor: AdminActor,
    action: string,
    work: (manager: EntityManager) => Promise<T>,
    detail: (result: T) => Record<string, unknown>,
  ): Promise<{ result: T; auditId: string | null }> {
    return this.dataSource.transaction(async (manager) => {
      const result = await work(manager);
      const auditId = await this.audit.insertInTransaction(manager, {
        kind: 'admin',
        outcome: action,
        ...actor,
        detail: detail(result),
      });
      return { result, auditId: auditId ?? null };
    });
  }

  /** An admin request that changes nothing (reading the trail): its row, committed before any data is returned. */
  recordAccess(actor: AdminActor, action: string, detail: Record<string, unknown>): Promise<void> {
    return this.audit.record({ kind: 'admin', outcome: action, ...actor, detail });
  }
}
