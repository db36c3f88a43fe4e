import { DataSource } from 'typeorm';
import { AuditRecorder } from '../../src/audit/audit-recorder.js';
import { AppConfig } from '../../src/config/app-config.js';
import { HotSql } from '../../src/database/hot-sql.js';
import { StateService } from '../../src/state/state.service.js';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

/** StateService against the real database (embedded PGlite or PostgreSQL), migrations applied at boot. */
describe(`StateService (${databaseKind})`, () => {
  let app: TestApp;
  let state: StateService;
  let db: DataSource;
  beforeAll(async () => {
    app = await startApp({ env: { STATE_MAX_KEY_LENGTH: '32', STATE_MAX_VALUE_BYTES: '1024' } });
    state = app.app.get(StateService);
    db = app.app.get(DataSource);
  });
  afterAll(() => app.close());

  let n = 0;
  /** A fresh agent per test, so tests never see each other's keys. */
  const agent = () => `agent-${++n}-${Date.now()}`;

  const stateChanges = async (agentId: string) =>
    await db.query<
      { outcome: string; detail: { key: string; version: number }; request_id: string | null }[]
    >(
      `SELECT outcome, detail, request_id, tool_name FROM audit_event
        WHERE kind = 'state_change' AND agent_id = $1 ORDER BY id`,
      [agentId],
    );

  it('stores any JSON value and counts versions from 1', async () => {
    const a = state.forAgent(agent());
    expect(await a.get('k')).toBeUndefined();
    for (const value of [null, 0, 'text ✓ 😀', [1, { b: [true, null] }], { nested: { x: 1.5 } }]) {
      await a.set('k', value);
      expect((await a.get('k'))?.value).toEqual(value);
    }
    const entry = await a.get('k');
    expect(entry).toMatchObject({ key: 'k', version: 5 });
    expect(Date.parse(entry!.updatedAt)).toBeGreaterThanOrEqual(Date.parse(entry!.createdAt));
    expect(await a.set('other', 1)).toEqual({ key: 'other', version: 1, created: true });
    expect(await a.set('other', 2)).toEqual({ key: 'other', version: 2, created: false });
  });

  it('compare-and-set: two writers with the same expected version, exactly one wins', async () => {
    const a = state.forAgent(agent());
    await a.set('doc', { v: 0 }); // version 1
    const writes = await Promise.allSettled([
      a.set('doc', { v: 'first' }, { expectedVersion: 1 }),
      a.set('doc', { v: 'second' }, { expectedVersion: 1 }),
    ]);
    const won = writes.filter((w) => w.status === 'fulfilled');
    const lost = writes.filter((w) => w.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(won[0].value).toEqual({ key: 'doc', version: 2, created: false });
    expect(lost).toHaveLength(1);
    expect(lost[0].reason).toMatchObject({
      code: 'STATE_VERSION_CONFLICT',
      details: { key: 'doc', expectedVersion: 1, currentVersion: 2 },
    });
    const winner = writes.findIndex((w) => w.status === 'fulfilled') === 0 ? 'first' : 'second';
    expect(await a.get('doc')).toMatchObject({ version: 2, value: { v: winner } });
  });

  it('compare-and-set under a crowd: of 12 writers at one version exactly one wins', async () => {
    const a = state.forAgent(agent());
    await a.set('hot', 0);
    const writes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => a.set('hot', i, { expectedVersion: 1 })),
    );
    expect(writes.filter((w) => w.status === 'fulfilled')).toHaveLength(1);
    for (const w of writes.filter((w) => w.status === 'rejected'))
      expect(w.reason).toMatchObject({ code: 'STATE_VERSION_CONFLICT', details: { currentVersion: 2 } });
    expect((await a.get('hot'))?.version).toBe(2);
  });

  it('create-only (expectedVersion 0 or null) is race-free: exactly one creator wins', async () => {
    const a = state.forAgent(agent());
    const writes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => a.set('once', i, { expectedVersion: i % 2 ? 0 : null })),
    );
    expect(writes.filter((w) => w.status === 'fulfilled')).toHaveLength(1);
    for (const w of writes.filter((w) => w.status === 'rejected'))
      expect(w.reason).toMatchObject({
        code: 'STATE_VERSION_CONFLICT',
        details: { expectedVersion: 0, currentVersion: 1 },
      });
  });

  it('reports currentVersion 0 when the expected key does not exist, and rejects bad versions', async () => {
    const a = state.forAgent(agent());
    await expect(a.set('ghost', 1, { expectedVersion: 3 })).rejects.toMatchObject({
      code: 'STATE_VERSION_CONFLICT',
      details: { currentVersion: 0 },
    });
    expect(await a.get('ghost')).toBeUndefined();
    for (const expectedVersion of [-1, 1.5, Number.NaN, 2 ** 31])
      await expect(a.set('ghost', 1, { expectedVersion })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENTS',
      });
  });

  it('keeps JSON null through a compare-and-set (not SQL NULL)', async () => {
    const a = state.forAgent(agent());
    await a.set('n', 1);
    expect(await a.set('n', null, { expectedVersion: 1 })).toMatchObject({ version: 2 });
    expect(await a.get('n')).toMatchObject({ value: null, version: 2 });
  });

  it('deletes with or without a version check', async () => {
    const a = state.forAgent(agent());
    await a.set('d', 'x');
    await a.set('d', 'y'); // version 2
    await expect(a.delete('d', { expectedVersion: 1 })).rejects.toMatchObject({
      code: 'STATE_VERSION_CONFLICT',
      details: { currentVersion: 2 },
    });
    await expect(a.delete('d', { expectedVersion: 0 })).rejects.toMatchObject({
      code: 'STATE_VERSION_CONFLICT',
      details: { currentVersion: 2 },
    });
    expect(await a.delete('d', { expectedVersion: 2 })).toEqual({ key: 'd', deleted: true, version: 2 });
    expect(await a.get('d')).toBeUndefined();
    expect(await a.delete('d')).toEqual({ key: 'd', deleted: false });
    expect(await a.delete('d', { expectedVersion: 0 })).toEqual({ key: 'd', deleted: false });
    await expect(a.delete('d', { expectedVersion: 2 })).rejects.toMatchObject({
      details: { currentVersion: 0 },
    });
    await a.set('d', 'again');
    expect(await a.delete('d')).toEqual({ key: 'd', deleted: true, version: 1 });
  });

  it('lists by literal prefix in byte order, a page at a time', async () => {
    const a = state.forAgent(agent());
    const other = state.forAgent(agent());
    const keys = ['a/1', 'a/2', 'a/10', 'a/é', 'a/😀', 'a%x', 'a_x', 'a\\x', 'ab', 'b/1', 'a/Z'];
    for (const key of keys) await a.set(key, key);
    await other.set('a/other', 1);

    const all: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await a.list({ prefix: 'a/', limit: 2, cursor });
      all.push(...page.items.map((i) => i.key));
      expect(page.items.length).toBeLessThanOrEqual(2);
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    const expected = keys
      .filter((k) => k.startsWith('a/'))
      .sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(all).toEqual(expected);
    expect(pages).toBe(3);

    expect((await a.list({ prefix: 'a%' })).items.map((i) => i.key)).toEqual(['a%x']);
    expect((await a.list({ prefix: 'a_' })).items.map((i) => i.key)).toEqual(['a_x']);
    expect((await a.list({ prefix: 'a\\' })).items.map((i) => i.key)).toEqual(['a\\x']);
    const everything = await a.list({ limit: 100 });
    expect(everything.items).toHaveLength(keys.length);
    expect(everything.nextCursor).toBeUndefined();
    expect(everything.items[0]).toEqual({
      key: expect.any(String),
      version: 1,
      updatedAt: expect.any(String),
    });
  });

  it('rejects a cursor it did not issue and a limit out of range', async () => {
    const a = state.forAgent(agent());
    for (const cursor of ['', '!!', 'not base64 at all', 'YQ=']) {
      await expect(a.list({ cursor })).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    }
    for (const limit of [0, 101, 2.5])
      await expect(a.list({ limit })).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
  });

  it('enforces the key and value limits with clear codes', async () => {
    const a = state.forAgent(agent());
    await expect(a.set('k'.repeat(32), 1)).resolves.toMatchObject({ version: 1 });
    await expect(a.set('😀'.repeat(32), 1)).resolves.toMatchObject({ version: 1 }); // characters, not bytes
    for (const key of ['', 'k'.repeat(33), 'tab\there', 'nul\u0000', 'lone\ud800', 7]) {
      await expect(a.set(key as string, 1)).rejects.toMatchObject({
        code: 'STATE_KEY_INVALID',
        details: { maxLength: 32 },
      });
      await expect(a.get(key as string)).rejects.toMatchObject({ code: 'STATE_KEY_INVALID' });
    }
    await expect(a.list({ prefix: 'x\n' })).rejects.toMatchObject({ code: 'STATE_KEY_INVALID' });

    // The limit is on the UTF-8 bytes of the JSON text: a 1022-character string is 1024 bytes with its quotes.
    await expect(a.set('big', 'x'.repeat(1022))).resolves.toMatchObject({ version: 1 });
    await expect(a.set('big', 'x'.repeat(1023))).rejects.toMatchObject({
      code: 'STATE_VALUE_TOO_LARGE',
      details: { bytes: 1025, maxBytes: 1024 },
    });
    await expect(a.set('big', 'é'.repeat(512))).rejects.toMatchObject({ code: 'STATE_VALUE_TOO_LARGE' });
    expect(await a.get('big')).toMatchObject({ version: 1 });

    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const value of [undefined, () => 1, 10n, cyclic, 'nul\u0000', { 'k\u0000': 1 }, '\udc00x'])
      await expect(a.set('bad', value)).rejects.toMatchObject({ code: 'STATE_VALUE_INVALID' });
    // An escaped backslash before "u0000" is ordinary text, and paired surrogates are fine.
    await expect(a.set('ok', '\\u0000 😀')).resolves.toMatchObject({ version: 1 });
    expect((await a.get('ok'))?.value).toBe('\\u0000 😀');
  });

  it('keeps agents apart whatever the key looks like', async () => {
    const alice = agent();
    const bob = agent();
    await state.forAgent(bob).set('secret', 'bob only');
    await state.forAgent(bob).set(`${alice}/x`, 'still bob');
    const a = state.forAgent(alice);
    expect(await a.get('secret')).toBeUndefined();
    expect(await a.get(`${alice}/x`)).toBeUndefined();
    expect((await a.list()).items).toEqual([]);
    expect(await a.delete('secret')).toEqual({ key: 'secret', deleted: false });
    await a.set('secret', 'alice');
    expect(await state.forAgent(bob).get('secret')).toMatchObject({ value: 'bob only', version: 1 });
  });

  it('writes a state_change audit row in the same transaction as the change', async () => {
    const agentId = agent();
    const a = state.forAgent(agentId, { requestId: 'req-1', toolName: 'state.set' });
    await a.set('audited', 1);
    await a.set('audited', 2, { expectedVersion: 1 });
    await expect(a.set('audited', 3, { expectedVersion: 1 })).rejects.toMatchObject({
      code: 'STATE_VERSION_CONFLICT',
    });
    await expect(a.delete('audited', { expectedVersion: 9 })).rejects.toMatchObject({
      code: 'STATE_VERSION_CONFLICT',
    });
    await a.delete('audited');
    expect(await a.delete('audited')).toMatchObject({ deleted: false });
    // The two conflicts and the no-op delete left no row.
    expect(await stateChanges(agentId)).toEqual([
      { outcome: 'set', detail: { key: 'audited', version: 1 }, request_id: 'req-1', tool_name: 'state.set' },
      { outcome: 'set', detail: { key: 'audited', version: 2 }, request_id: 'req-1', tool_name: 'state.set' },
      {
        outcome: 'delete',
        detail: { key: 'audited', version: 2 },
        request_id: 'req-1',
        tool_name: 'state.set',
      },
    ]);
  });

  it('group commit: concurrent sets share one statement, each with its own result and audit row', async () => {
    const hot = app.app.get(HotSql);
    const agents = Array.from({ length: 12 }, agent);
    for (const id of agents) await state.forAgent(id).set('doc', 'initial'); // version 1
    const statements: { name: string; writes: number }[] = [];
    const rows = hot.rows.bind(hot);
    hot.rows = (statement, values) => {
      statements.push({ name: statement.name, writes: (values[0] as unknown[]).length });
      return rows(statement, values);
    };
    let outcomes: PromiseSettledResult<unknown>[];
    try {
      outcomes = await Promise.allSettled([
        ...agents.map((id, i) =>
          state.forAgent(id, { requestId: `r${i}` }).set('doc', i, { expectedVersion: 1 }),
        ),
        // The same key as the first write, at the same version: never in its statement, and it loses.
        state.forAgent(agents[0], { requestId: 'late' }).set('doc', 'late', { expectedVersion: 1 }),
      ]);
    } finally {
      hot.rows = rows;
    }
    // The first write went out alone; the rest arrived while it ran and went out together.
    expect(statements).toEqual([
      { name: 'state_compareAndSet_audited', writes: 1 },
      { name: 'state_compareAndSet_audited', writes: 12 },
    ]);
    expect(outcomes.slice(0, 12)).toEqual(
      agents.map(() => ({ status: 'fulfilled', value: { key: 'doc', version: 2, created: false } })),
    );
    expect(outcomes[12]).toMatchObject({
      status: 'rejected',
      reason: { code: 'STATE_VERSION_CONFLICT', details: { expectedVersion: 1, currentVersion: 2 } },
    });
    for (const [i, id] of agents.entries()) {
      expect(await state.get(id, 'doc')).toMatchObject({ value: i, version: 2 });
      expect((await stateChanges(id)).map((c) => [c.request_id, c.detail.version])).toEqual([
        [null, 1],
        [`r${i}`, 2],
      ]);
    }
  });

  it('caps the keys an agent holds (STATE_MAX_KEYS_PER_AGENT), exactly within a group', async () => {
    const config = app.app.get(AppConfig);
    const capped = new StateService(db, app.app.get(AuditRecorder), app.app.get(HotSql), {
      ...config,
      state: { ...config.state, maxKeysPerAgent: 3 },
    });
    const agentId = agent();
    const a = capped.forAgent(agentId);
    await a.set('k1', 1);
    // k2 goes out alone; k3, k4, k5 arrive meanwhile and share a statement, in which only k3 still fits.
    const outcomes = await Promise.allSettled(['k2', 'k3', 'k4', 'k5'].map((key) => a.set(key, key)));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    expect(outcomes[2]).toMatchObject({
      reason: { code: 'STATE_KEY_LIMIT', details: { key: 'k4', maxKeys: 3 } },
    });
    // Held keys still change, unconditionally or by compare-and-set; no new key, even create-only.
    expect(await a.set('k1', 2)).toMatchObject({ version: 2 });
    expect(await a.set('k1', 3, { expectedVersion: 2 })).toMatchObject({ version: 3 });
    await expect(a.set('k9', 9, { expectedVersion: 0 })).rejects.toMatchObject({ code: 'STATE_KEY_LIMIT' });
    // A delete frees a place; another agent has its own budget.
    await a.delete('k2');
    expect(await a.set('k9', 9)).toMatchObject({ created: true });
    expect(await capped.forAgent(agent()).set('k1', 1)).toMatchObject({ created: true });
    expect((await a.list()).items.map((i) => i.key)).toEqual(['k1', 'k3', 'k9']);
    // Refused writes left no audit row.
    const audited = (await stateChanges(agentId)).map((c) => `${c.outcome} ${c.detail.key}`);
    expect(audited).toEqual(['set k1', 'set k2', 'set k3', 'set k1', 'set k1', 'delete k2', 'set k9']);
  });

  it('makes no change when its audit row is refused: a set or delete is one statement with it', async () => {
    const agentId = agent();
    const a = state.forAgent(agentId);
    await a.set('k', 'kept'); // version 1, audited
    // Only this agent's state_change rows are refused; NOT VALID leaves existing rows alone.
    await db.query(
      `ALTER TABLE audit_event ADD CONSTRAINT refuse_test_agent
         CHECK (kind <> 'state_change' OR agent_id <> '${agentId}') NOT VALID`,
    );
    try {
      for (const write of [
        () => a.set('k', 'lost'),
        () => a.set('k', 'lost', { expectedVersion: 1 }),
        () => a.set('new', 'lost', { expectedVersion: 0 }),
        () => a.delete('k'),
        () => a.delete('k', { expectedVersion: 1 }),
      ])
        await expect(write()).rejects.toMatchObject({ code: '23514' }); // check_violation
    } finally {
      await db.query(`ALTER TABLE audit_event DROP CONSTRAINT refuse_test_agent`);
    }
    expect(await a.get('k')).toMatchObject({ value: 'kept', version: 1 });
    expect(await a.get('new')).toBeUndefined();
    expect(await stateChanges(agentId)).toEqual([
      expect.objectContaining({ outcome: 'set', detail: { key: 'k', version: 1 } }),
    ]);
  });
});
