import { z } from 'zod';

const futureDate = z.iso
  .datetime({ offset: true })
  .transform((v) => new Date(v))
  .refine((d) => d.getTime() > Date.now(), 'must be in the future');

export const CreateGrantBody = z.strictObject({
  agentId: z.string().min(1).max(256),
  toolName: z.string().min(1).max(256),
  /** Restrict the grant to one version of the tool; omit for any version. */
  toolVersion: z.string().min(1).max(64).optional(),
  /** ISO 8601 with offset, e.g. 2027-01-01T00:00:00Z; omit for no expiry. */
  expiresAt: futureDate.optional(),
});
export type CreateGrantBody = z.infer<typeof CreateGrantBody>;

export const ListGrantsQuery = z.strictObject({
  agentId: z.string().min(1).optional(),
  toolName: z.string().min(1).optional(),
  active: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
});

export const GrantIdParam = z.uuid();

export const RevokeTokenBody = z.strictObject({
  jti: z.string().min(1).max(255),
  /** When the token expires anyway: the revocation row may be pruned after it. */
  expiresAt: z.iso
    .datetime({ offset: true })
    .transform((v) => new Date(v))
    .optional(),
  reason: z.string().max(500).optional(),
});
