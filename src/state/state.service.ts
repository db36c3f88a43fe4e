import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditRecorder, type AuditEventInput } from '../audit/audit-recorder.js';
import { DomainError } from '../common/domain-error.js';
import { AppConfig } from '../config/app-config.js';
import { GroupCommit } from '../database/group-commit.js';
import { HotSql, type Statement } from '../database/hot-sql.js';
import { OutcomeUnknownError, tooSlow } from '../database/write-outcome.js';
import type {
  AgentState,
  StateDeleteResult,
  StateEntry,
  StateIncrementResult,
  StateListOptions,
  StatePage,
  StateWriteOptions,
  StateWriteResult,
} from './agent-state.js';
import { checkKey, isValidKey, serializeValue, type StateLimits } from './state-limits.js';
import type { CallWrites } from './call-writes.js';
import { StateKeyLimitError, StateNotIntegerError, StateVersionConflictError } from './state.errors.js';

/** Who is writing, for the audit trail. */
export interface StateOrigin {
  requestId?: string;
  sessionId?: string;
  clientId?: string;
  toolName?: string;
  toolVersion?: string;
}

/** The call a state handle serves: its end (deadline or cancellation) and the record of its writes. */
export interface CallBinding {
  signal: AbortSignal;
  writes: CallWrites;
}

export const LIST_DEFAULT_LIMIT = 50;
export const LIST_MAX_LIMIT = 100;
const MAX_VERSION = 2 ** 31 - 1;
/** The "version" a refused write gets back from its statement (real versions start at 1). */
const KEY_LIMIT = 0;

/**
 * How a write changes its key: `set` unconditionally, only if absent (expected version 0), or only at the expected
 * version; `delete` unconditionally or only at the expected version.
 */
type WriteMode = 'upsert' | 'create' | 'compareAndSet' | 'delete';

/** One write (a `set` or a `delete`), waiting for its group's statement. */
interface Write {
  agentId: string;
  key: string;
  /** The value as JSON (null for a delete). */
  json: string | null;
  /** compareAndSet and delete: the expected version (NULL = any); compareAndSet: the expected value as JSON (NULL = any). */
  expected: number | null;
  expectedValue: string | null;
  event: AuditEventInput;
}

/**
 * The writes of a group, `i(agent_id, key, value, expected, expected_value, n)`: one array parameter per column,
 * so the text, prepared once per connection, is the same for any number of writes.
 */
const INPUT = `SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::int4[], $5::jsonb[])
  WITH ORDINALITY AS i(agent_id, key, value, expected, expected_value, n)`;

/**
 * The key cap (`$6`, STATE_MAX_KEYS_PER_AGENT), for writes that may create keys: a write of a key the agent does not
 * hold yet is `refused` when the agent's stored keys plus the new keys before it in this group reach the cap; the
 * others are `allowed`. Exact within a statement; concurrent statements (other replicas) may overshoot by a few.
 */
const CAPPED = `fresh AS (
      SELECT i.n, row_number() OVER (PARTITION BY i.agent_id ORDER BY i.n) AS k,
             (SELECT count(*) FROM agent_state s WHERE s.agent_id = i.agent_id) AS stored
        FROM input i
       WHERE NOT EXISTS (SELECT 1 FROM agent_state s WHERE s.agent_id = i.agent_id AND s.key = i.key)),
    refused AS (SELECT n FROM fresh WHERE stored + k > $6::int4),
    allowed AS (SELECT * FROM input WHERE n NOT IN (SELECT n FROM refused))`;

/**
 * The changes, as CTEs ending in `changed(n, version)`: which writes took effect, at which new version (writes
 * that may create keys first pass CAPPED).
 */
const WRITES: Record<WriteMode, string> = {
  // Last writer wins: create at version 1 or bump the version, atomically.
  upsert: `${CAPPED},
    written AS (INSERT INTO agent_state AS s (agent_id, key, value, version)
      SELECT agent_id, key, value, 1 FROM allowed
      ON CONFLICT (agent_id, key) DO UPDATE SET value = EXCLUDED.value, version = s.version + 1, updated_at = now()
      RETURNING agent_id, key, version),
    changed AS (SELECT n, version FROM written JOIN input USING (agent_id, key))`,
  // Create-only: no row when the key exists (a concurrent creator waits for ours, then does nothing).
  create: `${CAPPED},
    written AS (INSERT INTO agent_state (agent_id, key, value, version)
      SELECT agent_id, key, value, 1 FROM allowed
      ON CONFLICT (agent_id, key) DO NOTHING
      RETURNING agent_id, key, version),
    changed AS (SELECT n, version FROM written JOIN input USING (agent_id, key))`,
  // The @VersionColumn contract, by hand: only at the expected version (and value), which it bumps.
  compareAndSet: `changed AS (UPDATE agent_state s SET value = i.value, version = s.version + 1, updated_at = now()
      FROM input i
      WHERE s.agent_id = i.agent_id AND s.key = i.key AND s.version = i.expected
        AND (i.expected_value IS NULL OR s.value = i.expected_value)
      RETURNING i.n, s.version)`,
  // The version deleted is the one its audit row names.
  delete: `changed AS (DELETE FROM agent_state s USING input i
      WHERE s.agent_id = i.agent_id AND s.key = i.key AND (i.expected IS NULL OR s.version = i.expected)
      RETURNING i.n, s.version)`,
};

/** One increment, waiting for its group's statement. */
interface Increment {
  agentId: string;
  key: string;
  by: number;
  event: AuditEventInput;
}

/** What an increment's statement did: the value and version it wrote, or why it wrote nothing. */
type Incremented = { value: number; version: number } | 'keyLimit' | 'notApplied';

const SAFE = Number.MAX_SAFE_INTEGER;

/**
 * Increments, `i(agent_id, key, amount, n)` from `$1..$3`, key cap `$4`, ending in `changed(n, value, version)` and
 * `refused(n)` (key cap). ON CONFLICT cannot touch a row twice, so the increments of one key are summed first
 * (`sums`: total, count, and the lowest and highest running sum) and the row takes them all at once, or none: the
 * stored value must be a JSON integer and every running sum must stay a safe integer, checked on the locked row
 * (a concurrent statement's change is seen: READ COMMITTED re-evaluates). Each increment then gets its own value
 * and version back from the row's new ones and its place (`runs`) among them. Rows are taken in key order, so two
 * statements (two replicas) lock them in the same order. An increment that took no effect and was not capped is
 * absent from the result (see `increment`).
 */
const INCREMENTS = `input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int8[])
      WITH ORDINALITY AS i(agent_id, key, amount, n)),
    runs AS (SELECT n, agent_id, key, amount, sum(amount) OVER w AS run, row_number() OVER w AS rank
      FROM input WINDOW w AS (PARTITION BY agent_id, key ORDER BY n)),
    sums AS (SELECT agent_id, key, min(n) AS first, sum(amount) AS total, count(*)::int4 AS cnt,
             min(run) AS lo, max(run) AS hi
      FROM runs GROUP BY agent_id, key),
    fresh AS (SELECT agent_id, key, row_number() OVER (PARTITION BY agent_id ORDER BY first) AS k,
             (SELECT count(*) FROM agent_state s WHERE s.agent_id = u.agent_id) AS stored
        FROM sums u
       WHERE NOT EXISTS (SELECT 1 FROM agent_state s WHERE s.agent_id = u.agent_id AND s.key = u.key)),
    capped AS (SELECT agent_id, key FROM fresh WHERE stored + k > $4::int4),
    refused AS (SELECT n FROM runs JOIN capped USING (agent_id, key)),
    written AS (INSERT INTO agent_state AS s (agent_id, key, value, version)
      SELECT agent_id, key, to_jsonb(total), cnt FROM sums
       WHERE lo >= -${SAFE} AND hi <= ${SAFE} AND (agent_id, key) NOT IN (SELECT agent_id, key FROM capped)
       ORDER BY agent_id COLLATE "C", key
      ON CONFLICT (agent_id, key) DO UPDATE
        SET value = to_jsonb((s.value::numeric + EXCLUDED.value::numeric)::int8),
            version = s.version + EXCLUDED.version, updated_at = now()
        WHERE CASE WHEN jsonb_typeof(s.value) = 'number'
          THEN (SELECT s.value::numeric % 1 = 0 AND s.value::numeric + u.lo >= -${SAFE}
                       AND s.value::numeric + u.hi <= ${SAFE}
                  FROM sums u WHERE u.agent_id = EXCLUDED.agent_id AND u.key = EXCLUDED.key)
          ELSE false END
      RETURNING s.agent_id, s.key, s.value, s.version),
    changed AS (SELECT r.n, (w.value::numeric - u.total + r.run)::int8 AS value,
                       w.version - u.cnt + r.rank::int4 AS version
      FROM written w JOIN sums u USING (agent_id, key) JOIN runs r USING (agent_id, key))`;

const GET: Statement = {
  name: 'state_get',
  text: `SELECT key, value, version, created_at, updated_at FROM agent_state WHERE agent_id = $1 AND key = $2`,
};

/**
 * Per-agent key/value state with optimistic locking; every statement is scoped by `agent_id`. Tools reach it only
 * through `forAgent()`.
 *
 * A `set` is ONE statement (data-modifying CTEs): the change and its `state_change` audit row commit together or
 * not at all, in one round trip and without a BEGIN/COMMIT pair. Concurrent sets share that statement (group
 * commit, one per write mode): under load one round trip and one commit serve many writes, as the audit trail's
 * do. Compare-and-set is an UPDATE with `version = expected` in its WHERE clause; create-only is `INSERT … ON
 * CONFLICT DO NOTHING`. Both are race-free under READ COMMITTED: a concurrent writer waits for the row lock, then
 * re-checks the condition. A `delete` is the same: one statement with its audit row, group-committed. An
 * `increment` too, except that many increments of one key share a statement (see INCREMENTS).
 *
 * Bounded by the call (issue #15 §5): a handle bound to a call (`forCall`) stops waiting when the call ends. A write
 * still waiting for its statement is withdrawn then (it changed nothing: the call's error is a guarantee); one
 * already sent may still commit, so the call learns OUTCOME_UNKNOWN, as it does when the database never answers.
 * The database being too slow (no connection in time, `statement_timeout`) is TOOL_UNAVAILABLE: nothing changed.
 */
@Injectable()
export class StateService {
  private readonly limits: StateLimits;
  private readonly writes = Object.fromEntries(
    (['upsert', 'create', 'compareAndSet', 'delete'] as const).map((mode) => [
      mode,
      new GroupCommit<Write, number | undefined>((writes) => this.write(mode, writes), {
        keyOf: (w) => `${w.agentId}\u0000${w.key}`,
      }),
    ]),
  ) as Record<WriteMode, GroupCommit<Write, number | undefined>>;
  /**
   * Increments are not keyed: many of one key share a statement (a hot counter costs one statement per group, not
   * per call). One statement at a time: the next group forms while it runs, and two of a replica's statements
   * never queue on one row's lock.
   */
  private readonly increments = new GroupCommit<Increment, Incremented>(
    (writes) => this.incrementGroup(writes),
    {
      coalesce: true,
    },
  );
  /**
   * Increments that took no effect in a shared statement, sent again one per key per statement, where taking no
   * effect is their own doing (a stored value that is no integer, or a sum out of range): see `increment`. It may
   * run beside `increments`: a statement then waits for the other's row lock, and both lock rows in key order.
   */
  private readonly lone = new GroupCommit<Increment, Incremented>((writes) => this.incrementGroup(writes), {
    keyOf: (w) => `${w.agentId}\u0000${w.key}`,
  });
  /** Who each handle serves, so that `forCall` can bind it to a call. */
  private readonly handles = new WeakMap<AgentState, { agentId: string; origin: StateOrigin }>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditRecorder,
    private readonly sql: HotSql,
    config: AppConfig,
  ) {
    this.limits = config.state;
  }

  /** The handle tools get as `ctx.state`: bound to one agent, with no way to name another. */
  forAgent(agentId: string, origin: StateOrigin = {}, call?: CallBinding): AgentState {
    const handle: AgentState = Object.freeze({
      get: (key: string) => this.get(agentId, key),
      set: (key: string, value: unknown, options?: StateWriteOptions) =>
        this.set(agentId, key, value, options, origin, call),
      delete: (key: string, options?: StateWriteOptions) => this.delete(agentId, key, options, origin, call),
      increment: (key: string, by: number) => this.increment(agentId, key, by, origin, call),
      list: (options?: StateListOptions) => this.list(agentId, options),
    });
    this.handles.set(handle, { agentId, origin });
    return handle;
  }

  /** The same agent's handle, bound to `call` (see the class comment); a handle made elsewhere stays as it is. */
  forCall(handle: AgentState, call: CallBinding): AgentState {
    const owner = this.handles.get(handle);
    return owner ? this.forAgent(owner.agentId, owner.origin, call) : handle;
  }

  async get(agentId: string, key: string): Promise<StateEntry | undefined> {
    checkKey(key, this.limits);
    const [row] = await this.sql.rows<StateRow>(GET, [agentId, key]).catch(slowAsUnavailable);
    return row && toEntry(row);
  }

  async set(
    agentId: string,
    key: string,
    value: unknown,
    options: StateWriteOptions = {},
    origin: StateOrigin = {},
    call?: CallBinding,
  ): Promise<StateWriteResult> {
    checkKey(key, this.limits);
    const json = serializeValue(value, this.limits);
    const expected = expectedVersionOf(options);
    const mode: WriteMode = expected === undefined ? 'upsert' : expected === 0 ? 'create' : 'compareAndSet';
    if (options.expectedValue !== undefined && mode !== 'compareAndSet')
      throw new DomainError('INVALID_ARGUMENTS', 'expectedValue needs an expectedVersion >= 1');
    const version = await this.submitWrite(
      mode,
      {
        agentId,
        key,
        json,
        expected: expected ?? null,
        expectedValue: expectedValueOf(options),
        event: { ...this.changeEvent(agentId, origin, 'set'), detail: { key } },
      },
      call,
    );
    if (version === KEY_LIMIT) throw new StateKeyLimitError(key, this.limits.maxKeysPerAgent);
    if (version === undefined)
      throw new StateVersionConflictError(
        key,
        expected!,
        await currentVersion(this.dataSource.manager, agentId, key),
      );
    return { key, version, created: version === 1 };
  }

  private submitWrite(mode: WriteMode, write: Write, call?: CallBinding): Promise<number | undefined> {
    return this.submit(this.writes[mode], write, (v) => v !== undefined && v !== KEY_LIMIT, call);
  }

  /**
   * Sends a write with its group, bound to the call: `call.writes` counts it from the moment it is sent until it is
   * known to have changed nothing (`changed` false for its result).
   */
  private async submit<W, R>(
    commit: GroupCommit<W, R>,
    write: W,
    changed: (result: R) => boolean,
    call?: CallBinding,
  ): Promise<R> {
    let settle: ((changed: boolean) => void) | undefined;
    try {
      const result = await commit.submit(write, {
        signal: call?.signal,
        onSent: call && (() => (settle = call.writes.sent())),
      });
      settle?.(changed(result));
      return result;
    } catch (error) {
      // Refused by the server, or never sent: it changed nothing. OUTCOME_UNKNOWN: it may have.
      if (!(error instanceof OutcomeUnknownError)) settle?.(false);
      return slowAsUnavailable(error);
    }
  }

  /**
   * One statement for a group of writes of one mode; the new version per write, undefined where none was made
   * (a lost compare-and-set or create), KEY_LIMIT where the key cap refused it.
   */
  private async write(mode: WriteMode, writes: Write[]): Promise<(number | undefined)[]> {
    const capped = mode === 'upsert' || mode === 'create'; // writes that may create keys
    const values: unknown[] = [
      writes.map((w) => w.agentId),
      writes.map((w) => w.key),
      writes.map((w) => w.json),
      writes.map((w) => w.expected),
      writes.map((w) => w.expectedValue),
      ...(capped ? [this.limits.maxKeysPerAgent] : []),
    ];
    // Audited in the same statement, once per changed row; `detail.version` is the version just written.
    const audit = this.audit.insertPerRow(
      'changed',
      writes.map((w) => w.event),
      values.length + 1,
      (detail) => `${detail} || jsonb_build_object('version', changed.version)`,
    );
    const text = `WITH input AS (${INPUT}), ${WRITES[mode]}${audit ? `, audited AS (${audit.sql})` : ''}
      SELECT n, version FROM changed${capped ? ` UNION ALL SELECT n, ${KEY_LIMIT} FROM refused` : ''}`;
    const rows = await this.sql.rows<{ n: string; version: number }>(
      { name: `state_${mode}${audit ? '_audited' : ''}`, text },
      audit ? [...values, ...audit.values] : values,
    );
    const versions = new Map(rows.map((row) => [Number(row.n), row.version]));
    return writes.map((_write, i) => versions.get(i + 1));
  }

  /**
   * Adds `by` to the integer at `key` (absent = 0). Sent with the other increments waiting (see INCREMENTS); one
   * that took no effect there may have been held back only by others of its key in the same statement (their
   * running sum left the range), so it is sent again on its own, where taking no effect is its own refusal.
   */
  async increment(
    agentId: string,
    key: string,
    by: number,
    origin: StateOrigin = {},
    call?: CallBinding,
  ): Promise<StateIncrementResult> {
    checkKey(key, this.limits);
    if (!Number.isSafeInteger(by)) throw new DomainError('INVALID_ARGUMENTS', 'by must be a safe integer');
    const write: Increment = {
      agentId,
      key,
      by,
      event: { ...this.changeEvent(agentId, origin, 'increment'), detail: { key } },
    };
    const took = (result: Incremented) => typeof result === 'object';
    let result = await this.submit(this.increments, write, took, call);
    if (result === 'notApplied') result = await this.submit(this.lone, write, took, call);
    if (result === 'keyLimit') throw new StateKeyLimitError(key, this.limits.maxKeysPerAgent);
    if (result === 'notApplied') {
      // Why, for the message only: the value may have changed since.
      const stored = (await this.get(agentId, key))?.value ?? 0;
      throw new StateNotIntegerError(key, Number.isSafeInteger(stored) ? 'out_of_range' : 'not_integer');
    }
    return { key, ...result, created: result.version === 1 };
  }

  /** One statement for a group of increments, their audit rows included; one result per increment. */
  private async incrementGroup(writes: Increment[]): Promise<Incremented[]> {
    const values: unknown[] = [
      writes.map((w) => w.agentId),
      writes.map((w) => w.key),
      writes.map((w) => w.by),
      this.limits.maxKeysPerAgent,
    ];
    const audit = this.audit.insertPerRow(
      'changed',
      writes.map((w) => w.event),
      values.length + 1,
      (detail) => `${detail} || jsonb_build_object('version', changed.version)`,
    );
    const text = `WITH ${INCREMENTS}${audit ? `, audited AS (${audit.sql})` : ''}
      SELECT n, value, version FROM changed UNION ALL SELECT n, NULL, ${KEY_LIMIT} FROM refused`;
    const rows = await this.sql.rows<{ n: string; value: string | null; version: number }>(
      { name: `state_increment${audit ? '_audited' : ''}`, text },
      audit ? [...values, ...audit.values] : values,
    );
    const results = new Map(
      rows.map((row): [number, Incremented] => [
        Number(row.n),
        row.version === KEY_LIMIT ? 'keyLimit' : { value: Number(row.value), version: row.version },
      ]),
    );
    return writes.map((_write, i) => results.get(i + 1) ?? 'notApplied');
  }

  async delete(
    agentId: string,
    key: string,
    options: StateWriteOptions = {},
    origin: StateOrigin = {},
    call?: CallBinding,
  ): Promise<StateDeleteResult> {
    checkKey(key, this.limits);
    const expected = expectedVersionOf(options);
    if (expected === 0) {
      // "Must not exist": nothing to delete, and a conflict if it does exist.
      const current = await currentVersion(this.dataSource.manager, agentId, key);
      if (current !== 0) throw new StateVersionConflictError(key, 0, current);
      return { key, deleted: false };
    }
    const version = await this.submitWrite(
      'delete',
      {
        agentId,
        key,
        json: null,
        expected: expected ?? null,
        expectedValue: null,
        event: { ...this.changeEvent(agentId, origin, 'delete'), detail: { key } },
      },
      call,
    );
    if (version !== undefined) return { key, deleted: true, version };
    if (expected === undefined) return { key, deleted: false };
    throw new StateVersionConflictError(
      key,
      expected,
      await currentVersion(this.dataSource.manager, agentId, key),
    );
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
    const rows = await this.dataSource
      .query<{ key: string; version: number; updated_at: Date }[]>(
        `SELECT key, version, updated_at FROM agent_state WHERE ${where} ORDER BY key LIMIT $2`,
        params,
      )
      .catch(slowAsUnavailable);
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({ key: r.key, version: r.version, updatedAt: r.updated_at.toISOString() })),
      ...(rows.length > limit && { nextCursor: encodeCursor(page[page.length - 1].key) }),
    };
  }

  private decodeCursor(cursor: string): string {
    const key = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
    // A cursor names a stored key, so it is a valid key: a forged one (e.g. U+0000, which PostgreSQL text refuses)
    // is refused here and never reaches SQL.
    if (!key || encodeCursor(key) !== cursor || !isValidKey(key, this.limits))
      throw new DomainError('INVALID_ARGUMENTS', 'cursor is not one this service returned');
    return key;
  }

  private changeEvent(
    agentId: string,
    origin: StateOrigin,
    outcome: 'set' | 'delete' | 'increment',
  ): AuditEventInput {
    return { kind: 'state_change', agentId, outcome, ...origin };
  }
}

/** The database did not answer in time (no connection, `statement_timeout`): nothing changed; retry later. */
function slowAsUnavailable(error: unknown): never {
  if (!tooSlow(error)) throw error;
  const unavailable = new DomainError(
    'TOOL_UNAVAILABLE',
    'The database did not answer in time; nothing was changed. Retry later.',
  );
  (unavailable as { cause?: unknown }).cause = error;
  throw unavailable;
}

/** The expected value as JSON for `$5`, or NULL (no value check). */
function expectedValueOf({ expectedValue }: StateWriteOptions): string | null {
  return expectedValue === undefined ? null : JSON.stringify(expectedValue);
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

/** The stored version, 0 when the key does not exist. */
async function currentVersion(em: EntityManager, agentId: string, key: string): Promise<number> {
  const rows = await em.query<{ version: number }[]>(
    `SELECT version FROM agent_state WHERE agent_id = $1 AND key = $2`,
    [agentId, key],
  );
  return rows[0]?.version ?? 0;
}

interface StateRow {
  key: string;
  value: unknown;
  version: number;
  created_at: Date;
  updated_at: Date;
}

function toEntry(row: StateRow): StateEntry {
  return {
    key: row.key,
    value: row.value,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}
