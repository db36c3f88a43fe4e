import { z } from 'zod';
import { MAX_ID_LENGTH } from '../common/identifiers.js';

const futureDate = z.iso
  .datetime({ offset: true })
  .transform((v) => new Date(v))
  .refine((d) => d.getTime() > Date.now(), 'must be in the future');

export const CreateGrantBody = z.strictObject({
  /** The agent a token names (`AUTH_AGENT_CLAIM`): the same limit as tokens' identifiers. */
  agentId: z.string().min(1).max(MAX_ID_LENGTH),
  toolName: z.string().min(1).max(256),
  /** Restrict the grant to one version of the tool; omit for any version. */
  toolVersion: z.string().min(1).max(64).optional(),
  /** ISO 8601 with offset, e.g. 2027-01-01T00:00:00Z; omit for no expiry. */
  expiresAt: futureDate.optional(),
});
export type CreateGrantBody = z.infer<typeof CreateGrantBody>;

export const ListGrantsQuery = z.strictObject({
  agentId: z.string().min(1).max(MAX_ID_LENGTH).optional(),
  toolName: z.string().min(1).optional(),
  active: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
});

export const GrantIdParam = z.uuid();

export const RevokeTokenBody = z.strictObject({
  jti: z.string().min(1).max(MAX_ID_LENGTH),
  /** When the token expires anyway: the revocation row may be pruned after it. */
  expiresAt: z.iso
    .datetime({ offset: true })
    .transform((v) => new Date(v))
    .optional(),
  reason: z.string().max(500).optional(),
});

/**
 * OpenAPI description of an admin action's answer: its `Audit-Id` header (the id of the action's audit row,
 * committed in the same transaction) and, for a JSON answer, the body with that id as `auditId`.
 */
export function auditedAnswer(status: number, description: string, body?: Record<string, unknown>) {
  return {
    status,
    description,
    headers: {
      'Audit-Id': {
        description:
          'id of the audit row of this action (committed with it); absent when AUDIT_ENABLED=false',
        schema: { type: 'string', pattern: '^[0-9]+$' },
      },
    },
    ...(body && {
      schema: {
        type: 'object',
        properties: {
          ...body,
          auditId: {
            type: 'string',
            nullable: true,
            description:
              'id of the audit row of this action (as in the Audit-Id header); null when AUDIT_ENABLED=false',
          },
        },
      },
    }),
  };
}
