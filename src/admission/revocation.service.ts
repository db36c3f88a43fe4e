import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository, type EntityManager } from 'typeorm';
import { DomainError } from '../common/domain-error.js';
import { MAX_ID_LENGTH } from '../common/identifiers.js';
import { CoalescedLookup } from '../database/coalesced-lookup.js';
import { AppConfig } from '../config/app-config.js';
import { HotSql, type Statement } from '../database/hot-sql.js';
import { RevokedTokenEntity } from './revoked-token.entity.js';

export interface RevokeInput {
  jti: string;
  /** When the token expires anyway (its `exp`); the row may be pruned after that. */
  expiresAt?: Date | null;
  reason?: string | null;
}

/** Beyond the clock leeway, how long an entry outlives its token's expiry (server and database clocks may differ). */
const PRUNE_MARGIN_SEC = 300;
const MAX_REASON_LENGTH = 500;
/** Is the token with id `jti` (an SQL expression) revoked? For statements that read it with other per-call checks. */
export function tokenRevokedSql(jti: string): string {
  return `EXISTS (SELECT 1 FROM revoked_token r WHERE r.jti = ${jti})`;
}

/** Which of these token ids are revoked (a primary-key probe per id). */
const REVOKED_AMONG: Statement = {
  name: 'revoked_token_among',
  text: 'SELECT jti FROM revoked_token WHERE jti = ANY($1::text[])',
};

/**
 * The token revocation list, by `jti`. JWT access tokens cannot be revoked at the IdP, so admission asks here on
 * every authenticated request (a `tools/call` in one statement with its gate, ToolGate): read from PostgreSQL each
 * time, never cached, so a revocation takes effect on the very next request on every replica. Concurrent requests
 * share a lookup statement (CoalescedLookup): each still gets an answer read after it arrived.
 *
 * An entry is needed only while its token could still be accepted: each revocation first deletes the entries whose
 * `expiresAt` passed more than the clock leeway (AUTH_CLOCK_TOLERANCE_SEC) plus a margin ago, so the list holds
 * the revocations of live tokens (and those of unknown expiry), however many are added over the years.
 */
@Injectable()
export class RevocationService {
  constructor(
    @InjectRepository(RevokedTokenEntity) private readonly revoked: Repository<RevokedTokenEntity>,
    private readonly sql: HotSql,
    private readonly config: AppConfig,
  ) {}

  readonly lookups = new CoalescedLookup<string, boolean>(async (jtis) => {
    const rows = await this.sql.rows<{ jti: string }>(REVOKED_AMONG, [jtis]);
    return new Map(rows.map((r) => [r.jti, true]));
  }, false);

  /**
   * Idempotent: revoking a revoked token again changes nothing and returns the original entry. `manager`: inside
   * the caller's transaction (an admin action commits with its audit row, AdminAudit).
   */
  async revoke(input: RevokeInput, manager?: EntityManager): Promise<RevokedTokenEntity> {
    if (typeof input.jti !== 'string' || input.jti.length === 0 || input.jti.length > MAX_ID_LENGTH) {
      throw new DomainError('INVALID_REQUEST', `jti must be 1 to ${MAX_ID_LENGTH} characters`);
    }
    if (input.reason && input.reason.length > MAX_REASON_LENGTH) {
      throw new DomainError('INVALID_REQUEST', `reason must be at most ${MAX_REASON_LENGTH} characters`);
    }
    const revoked = manager ? manager.getRepository(RevokedTokenEntity) : this.revoked;
    await this.prune(revoked);
    await revoked
      .createQueryBuilder()
      .insert()
      .values({ jti: input.jti, expiresAt: input.expiresAt ?? null, reason: input.reason ?? null })
      .orIgnore() // ON CONFLICT DO NOTHING: the first revocation (and its time) stands
      .execute();
    return revoked.findOneByOrFail({ jti: input.jti });
  }

  /** Deletes the entries of tokens that can no longer be accepted anyway (expired beyond the leeway). */
  async prune(revoked = this.revoked): Promise<number> {
    const result = await revoked
      .createQueryBuilder()
      .delete()
      .where('expires_at < now() - make_interval(secs => :seconds)', {
        seconds: this.config.auth.clockToleranceSec + PRUNE_MARGIN_SEC,
      })
      .execute();
    return result.affected ?? 0;
  }

  /** Asked on every authenticated request; answered by a statement sent after the question. */
  isRevoked(jti: string): Promise<boolean> {
    return this.lookups.get(jti);
  }

  /** Newest first, at most `limit` entries. */
  async list(limit = 1000): Promise<RevokedTokenEntity[]> {
    return this.revoked.find({ order: { revokedAt: 'DESC', jti: 'ASC' }, take: limit });
  }
}
