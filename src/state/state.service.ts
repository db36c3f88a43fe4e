import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditRecorder } from '../audit/audit-recorder.js';
import { DomainError } from '../common/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import type {
  AgentState,
  StateDeleteResult,
  StateEntry,
  StateListOptions,
  StatePage,
  StateWriteOptions,
  StateWriteResult,
} from './agent-state.js';
import { AgentStateEntity } from './agent-state.entity.js';
import { checkKey, serializeValue, type StateLimits } from './state-limits.js';
import { StateVersionConflictError } from './state.errors.js';

/** Who is writing, for the audit trail. */
export interface StateOrigin {
  requestId?: string;
  sessionId?: string;
  clientId?: string;
  toolName?: string;
  toolVersion?: string;
}

export const LIST_DEFAULT_LIMIT = 50;
export const LIST_MAX_LIMIT = 100;
const MAX_VERSION = 2 ** 31 - 1;

/**
 * Per-agent key/value state with optimistic locking. Every write is one transaction holding the change and its
 * `state_change` audit row; every statement is scoped by `agent_id`. Tools reach it only through `forAgent()`.
 *
 * Compare-and-set never goes through `save()`: an UPDATE with `version = expected` in its WHERE clause (TypeORM
 * bumps `version` itself) and a check of `affected`; create-only is `INSERT … ON CONFLICT DO NOTHING`. Both are
 * race-free under READ COMMITTED: a concurrent writer waits for the row lock, then re-checks the condition.
 */
@Injectable()
export class StateService {
  private readonly limits: StateLimits;

  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditRecorder,
    config: AppConfig,
  ) {
    this.limits = config.state;
  }

  /** The handle tools get as `ctx.state`: bound to one agent, with no way to name another. */
  forAgent(agentId: string, origin: StateOrigin = {}): AgentState {
    return Object.freeze({
      get: (key: string) => this.get(agentId, key),
      set: (key: string, value: unknown, options?: StateWriteOptions) =>
        this.set(agentId, key, value, options, origin),
      delete: (key: string, options?: StateWriteOptions) => this.delete(agentId, key, options, origin),
      list: (options?: StateListOptions) => this.list(agentId, options),
    });
  }

  async get(agentId: string, key: string): Promise<StateEntry | undefined> {
    checkKey(key, this.limits);
    const row = await this.dataSource.getRepository(AgentStateEntity).findOneBy({ agentId, key });
    return row ? toEntry(row) : undefined;
  }

  async set(
    agentId: string,
    key: string,
    value: unknown,
    options: StateWriteOptions = {},
    origin: StateOrigin = {},
  ): Promise<StateWriteResult> {
    checkKey(key, this.limits);
    const json = serializeValue(value, this.limits);
    const expected = expectedVersionOf(options);
    return this.dataSource.transaction(async (em) => {
      let version: number | undefined;
      if (expected === undefined) version = await upsert(em, agentId, key, json);
      else if (expected === 0) version = await insertIfAbsent(em, agentId, key, json);
      else version = await compareAndSet(em, agentId, key, json, expected);
      if (version === undefined)
        throw new StateVersionConflictError(key, expected!, await currentVersion(em, agentId, key));
      await this.recordChange(em, agentId, origin, 'set', key, version);
      return { key, version, created: version === 1 };
    });
  }

  async delete(
    agentId: string,
    key: string,
    options: StateWriteOptions = {},
    origin: StateOrigin = {},
  ): Promise<StateDeleteResult> {
    checkKey(key, this.limits);
    const expected = expectedVersionOf(options);
    return this.dataSource.transaction(async (em) => {
      if (expected === 0) {
        // "Must not exist": nothing to delete, and a conflict if it does exist.
        const current = await currentVersion(em, agentId, key);
        if (current !== 0) throw new StateVersionConflictError(key, 0, current);
        return { key, deleted: false };
      }
      const [rows] = await em.query<[{ version: number }[], number]>(
        `DELETE FROM agent_state WHERE agent_id = $1 AND key = $2${expected ? ' AND version = $3' : ''}
         RETURNING version`,
        expected ? [agentId, key, expected] : [agentId, key],
      );
      if (rows.length === 0) {
        if (expected === undefined) return { key, deleted: false };
        throw new StateVersionConflictError(key, expected, await currentVersion(em, agentId, key));
      }
      await this.recordChange(em, agentId, origin, 'delete', key, rows[0].version);
      return { key, deleted: true, version: rows[0].version };
    });
  }

  async list(agentId: string, options: StateListOptions = {}): Promise<StatePage> {
    const { prefix, cursor } = options;
    if (prefix !== undefined && prefix !== '') checkKey(prefix, this.limits, 'prefix');
    const limit = options.limit ?? LIST_DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > LIST_MAX_LIMIT)
      throw new DomainError('INVALID_ARGUMENTS', `limit must be an integer from 1 to ${LIST_MAX_LIMIT}`);
    const after = cursor === undefined ? undefined : this.decodeCursor(cursor);

    // Byte-wise ("C") order of `key` lets the (agent_id, key) btree serve the range, the order and the limit.
    const params: unknown[] = [agentId, limit + 1];
    let where = 'agent_id = $1';
    if (prefix) {
      params.push(prefix, `${prefix.replace(/[\\%_]/g, '\\$&')}%`);
      where += ` AND key >= $3 AND key LIKE $4 ESCAPE '\\'`;
    }
    if (after !== undefined) {
      params.push(after);
      where += ` AND key > $${params.length}`;
    }
    const rows = await this.dataSource.query<{ key: string; version: number; updated_at: Date }[]>(
      `SELECT key, version, updated_at FROM agent_state WHERE ${where} ORDER BY key LIMIT $2`,
      params,
    );
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({ key: r.key, version: r.version, updatedAt: r.updated_at.toISOString() })),
      ...(rows.length > limit && { nextCursor: encodeCursor(page[page.length - 1].key) }),
    };
  }

  private decodeCursor(cursor: string): string {
    const key = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
    if (!key || encodeCursor(key) !== cursor)
      throw new DomainError('INVALID_ARGUMENTS', 'cursor is not one this service returned');
    return key;
  }

  private recordChange(
    em: EntityManager,
    agentId: string,
    origin: StateOrigin,
    outcome: 'set' | 'delete',
    key: string,
    version: number,
  ): Promise<void> {
    return this.audit.recordInTransaction(em, {
      kind: 'state_change',
      agentId,
      outcome,
      ...origin,
      detail: { key, version },
    });
  }
}

/** `undefined` = unconditional; `0` (or `null`) = must not exist; `n >= 1` = must be at version n. */
function expectedVersionOf({ expectedVersion }: StateWriteOptions): number | undefined {
  if (expectedVersion === undefined) return undefined;
  if (expectedVersion === null) return 0;
  if (!Number.isInteger(expectedVersion) || expectedVersion < 0 || expectedVersion > MAX_VERSION)
    throw new DomainError(
      'INVALID_ARGUMENTS',
      'expectedVersion must be an integer >= 0 (0 = must not exist)',
    );
  return expectedVersion;
}

/** Last writer wins: create at version 1 or bump the version, atomically. */
async function upsert(em: EntityManager, agentId: string, key: string, json: string): Promise<number> {
  const rows = await em.query<{ version: number }[]>(
    `INSERT INTO agent_state AS s (agent_id, key, value, version) VALUES ($1, $2, $3::jsonb, 1)
     ON CONFLICT (agent_id, key) DO UPDATE SET value = EXCLUDED.value, version = s.version + 1, updated_at = now()
     RETURNING version`,
    [agentId, key, json],
  );
  return rows[0].version;
}

/** Create-only; `undefined` when the key exists (a concurrent creator waits for ours, then does nothing). */
async function insertIfAbsent(
  em: EntityManager,
  agentId: string,
  key: string,
  json: string,
): Promise<number | undefined> {
  const rows = await em.query<{ version: number }[]>(
    `INSERT INTO agent_state (agent_id, key, value, version) VALUES ($1, $2, $3::jsonb, 1)
     ON CONFLICT (agent_id, key) DO NOTHING RETURNING version`,
    [agentId, key, json],
  );
  return rows[0]?.version;
}

/** UPDATE … WHERE version = expected; TypeORM adds `version = version + 1` and `updated_at` itself. */
async function compareAndSet(
  em: EntityManager,
  agentId: string,
  key: string,
  json: string,
  expected: number,
): Promise<number | undefined> {
  const { affected } = await em
    .createQueryBuilder()
    .update(AgentStateEntity)
    // A function keeps JSON `null` a jsonb null (a plain `null` would become SQL NULL).
    .set({ value: () => 'CAST(:json AS jsonb)' })
    .setParameter('json', json)
    .where({ agentId, key, version: expected })
    .execute();
  return affected ? expected + 1 : undefined;
}

/** The stored version, 0 when the key does not exist. */
async function currentVersion(em: EntityManager, agentId: string, key: string): Promise<number> {
  const rows = await em.query<{ version: number }[]>(
    `SELECT version FROM agent_state WHERE agent_id = $1 AND key = $2`,
    [agentId, key],
  );
  return rows[0]?.version ?? 0;
}

function toEntry(row: AgentStateEntity): StateEntry {
  return {
    key: row.key,
    value: row.value,
    version: row.version,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}
