import type { FastifyRequest } from 'fastify';
import type { AuditRecorder } from './audit-recorder.js';
import { principalOf } from '../common/principal.js';

/** Every admin action leaves an audit row naming who did what (the action's target goes in `detail`). */
export function auditAdmin(
  audit: AuditRecorder,
  req: FastifyRequest,
  action: string,
  detail: Record<string, unknown>,
): Promise<void> {
  const admin = principalOf(req);
  return audit.record({
    kind: 'admin',
    outcome: action,
    agentId: admin.agentId,
    clientId: admin.clientId,
    requestId: String(req.id),
    remoteAddr: req.ip,
    userAgent: req.headers['user-agent'],
    detail,
  });
}
