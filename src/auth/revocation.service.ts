import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { DomainError } from '../common/domain-error.js';
import { HotSql, type Statement } from '../database/hot-sql.js';
import { RevokedTokenEntity } from './revoked-token.entity.js';

export interface RevokeInput {
  jti: string;
  /** When the token expires anyway (its `exp`); the row may be pruned after that. */
  expiresAt?: Date | null;
  reason?: string | null;
}

const MAX_JTI_LENGTH = 255;
const MAX_REASON_LENGTH = 500;
const IS_REVOKED: Statement = {
  name: 'revoked_token_exists',
  text: 'SELECT EXISTS (SELECT 1 FROM revoked_token WHERE jti = $1) AS revoked',
};

/**
 * The token revocation list, by `jti`. JWT access tokens cannot be revoked at the IdP, so the auth guard asks
 * here on every authenticated request: read from PostgreSQL each time, never cached, so a revocation takes
 * effect on the very next request on every replica.
 */
@Injectable()
export class RevocationService {
  constructor(
    @InjectRepository(RevokedTokenEntity) private readonly revoked: Repository<RevokedTokenEntity>,
    private readonly sql: HotSql,
  ) {}

  /** Idempotent: revoking a revoked token again changes nothing and returns the original entry. */
  async revoke(input: RevokeInput): Promise<RevokedTokenEntity> {
    if (typeof input.jti !== 'string' || input.jti.length === 0 || input.jti.length > MAX_JTI_LENGTH) {
      throw new DomainError('INVALID_REQUEST', `jti must be 1 to ${MAX_JTI_LENGTH} characters`);
    }
    if (input.reason && input.reason.length > MAX_REASON_LENGTH) {
      throw new DomainError('INVALID_REQUEST', `reason must be at most ${MAX_REASON_LENGTH} characters`);
    }
    await this.revoked
      .createQueryBuilder()
      .insert()
      .values({ jti: input.jti, expiresAt: input.expiresAt ?? null, reason: input.reason ?? null })
      .orIgnore() // ON CONFLICT DO NOTHING: the first revocation (and its time) stands
      .execute();
    return this.revoked.findOneByOrFail({ jti: input.jti });
  }

  /** One primary-key lookup per authenticated request, as a prepared statement (it is on every request's path). */
  async isRevoked(jti: string): Promise<boolean> {
    const [row] = await this.sql.rows<{ revoked: boolean }>(IS_REVOKED, [jti]);
    return row.revoked;
  }

  /** Newest first, at most `limit` entries. */
  async list(limit = 1000): Promise<RevokedTokenEntity[]> {
    return this.revoked.find({ order: { revokedAt: 'DESC', jti: 'ASC' }, take: limit });
  }
}
