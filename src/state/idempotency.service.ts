import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/domain-error.js';
import { AppConfig } from '../config/app-config.js';

/** What an idempotency key is unique within, and the tool version it is used with. */
export interface IdempotencyScope {
  agentId: string;
  toolName: string;
  /** A key belongs to the version of its first call: reusing it for another version is a conflict. */
  toolVersion: string;
  key: string;
}

/** `claimed`: run the call, then `complete` or `release`. `completed`: the stored result of the first call. */
export type IdempotencyClaim =
  { kind: 'claimed'; claimId: string } | { kind: 'completed'; result: CallToolResult };

const PRUNE_EVERY_MS = 5 * 60 * 1000;
const PRUNE_BATCH = 1000;

/**
 * The store behind idempotency keys (table `idempotency_record`). A call claims its key by inserting the row
 * first; a concurrent duplicate loses that insert and polls until the first call's result is stored (or gets
 * `IDEMPOTENCY_IN_PROGRESS` after `IDEMPOTENCY_WAIT_MS`). Records live `IDEMPOTENCY_TTL_SECONDS`; a claim whose
 * holder died mid-call may be taken over after `IDEMPOTENCY_LEASE_SECONDS`. A key is unique per (agent, tool) and
 * remembers the tool version of its first call: a repeat for another version (a pinned one, or the plain name after
 * a new version shipped) is refused with `IDEMPOTENCY_KEY_REUSED`, never answered with the other version's result,
 * and never run again (which would break "at most once").
 */
@Injectable()
export class IdempotencyService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('idempotency');
  private pruner?: NodeJS.Timeout;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.pruner = setInterval(() => {
      this.prune().catch((err: unknown) => this.logger.warn({ err }, 'pruning expired records failed'));
    }, PRUNE_EVERY_MS).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.pruner);
  }

  /**
   * Claims the key for a call with this request hash, or returns the stored result of the first call. While the
   * first call runs, polls until `IDEMPOTENCY_WAIT_MS` (or `maxWaitMs`, the call's own budget, when shorter) has
   * passed or `signal` (the caller gave up) aborts.
   */
  async begin(
    scope: IdempotencyScope,
    requestHash: string,
    signal?: AbortSignal,
    maxWaitMs = Infinity,
  ): Promise<IdempotencyClaim> {
    const { ttlSeconds, waitMs, leaseSeconds } = this.config.idempotency;
    const deadline = Date.now() + Math.min(waitMs, maxWaitMs);
    for (let poll = 0; ; poll++) {
      signal?.throwIfAborted();
      const claimId = randomUUID();
      // Insert the claim; or take over a record that expired, or an abandoned claim past its lease.
      const claimed = await this.dataSource.query<unknown[]>(
        `INSERT INTO idempotency_record AS r
                (id, agent_id, tool_name, key, request_hash, status, expires_at, tool_version)
         VALUES ($1, $2, $3, $4, $5, 'in_progress', now() + $6 * interval '1 second', $8)
         ON CONFLICT (agent_id, tool_name, key) DO UPDATE
           SET id = EXCLUDED.id, request_hash = EXCLUDED.request_hash, status = 'in_progress', result = NULL,
               created_at = now(), expires_at = EXCLUDED.expires_at, tool_version = EXCLUDED.tool_version
           WHERE r.expires_at <= now()
              OR (r.status = 'in_progress' AND r.created_at <= now() - $7 * interval '1 second')
         RETURNING id`,
        [
          claimId,
          scope.agentId,
          scope.toolName,
          scope.key,
          requestHash,
          ttlSeconds,
          leaseSeconds,
          scope.toolVersion,
        ],
      );
      if (claimed.length) return { kind: 'claimed', claimId };

      const [existing] = await this.dataSource.query<
        { request_hash: string; tool_version: string | null; status: string; result: CallToolResult | null }[]
      >(
        `SELECT request_hash, tool_version, status, result FROM idempotency_record
          WHERE agent_id = $1 AND tool_name = $2 AND key = $3 AND expires_at > now()`,
        [scope.agentId, scope.toolName, scope.key],
      );
      if (!existing) continue; // released or expired in between: claim again
      if (existing.tool_version !== null && existing.tool_version !== scope.toolVersion) {
        throw new DomainError(
          'IDEMPOTENCY_KEY_REUSED',
          `This idempotency key was already used with version ${existing.tool_version} of this tool; ` +
            `use a new key for version ${scope.toolVersion}`,
          {
            key: scope.key,
            tool: scope.toolName,
            version: scope.toolVersion,
            usedVersion: existing.tool_version,
          },
        );
      }
      if (existing.request_hash !== requestHash) {
        throw new DomainError(
          'IDEMPOTENCY_KEY_REUSED',
          'This idempotency key was already used for this tool with different arguments',
          { key: scope.key, tool: scope.toolName },
        );
      }
      if (existing.status === 'completed' && existing.result)
        return { kind: 'completed', result: existing.result };
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DomainError(
          'IDEMPOTENCY_IN_PROGRESS',
          'A call with this idempotency key is still running',
          {
            key: scope.key,
            tool: scope.toolName,
          },
        );
      }
      // 25, 50, 100, 200, 200 … ms; an abort ends the wait at once (and the loop, above).
      await sleep(Math.min(left, 25 * 2 ** Math.min(poll, 3)), undefined, { signal }).catch(() => {});
    }
  }

  /** Stores the result of a claimed call; false when the claim was lost (taken over after its lease). */
  async complete(claimId: string, result: CallToolResult): Promise<boolean> {
    const [, affected] = await this.dataSource.query<[unknown, number]>(
      `UPDATE idempotency_record SET status = 'completed', result = $2::jsonb
        WHERE id = $1 AND status = 'in_progress'`,
      [claimId, JSON.stringify(result)],
    );
    return affected > 0;
  }

  /** Gives a claim up (the call failed), so that a retry with the same key runs the call. */
  async release(claimId: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM idempotency_record WHERE id = $1 AND status = 'in_progress'`, [
      claimId,
    ]);
  }

  /** Deletes expired records, a batch at a time; returns how many. */
  async prune(): Promise<number> {
    let total = 0;
    for (;;) {
      const [, deleted] = await this.dataSource.query<[unknown, number]>(
        `DELETE FROM idempotency_record WHERE id IN
           (SELECT id FROM idempotency_record WHERE expires_at <= now() LIMIT ${PRUNE_BATCH})`,
      );
      total += deleted;
      if (deleted < PRUNE_BATCH) return total;
    }
  }
}
