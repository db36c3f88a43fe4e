import pino from 'pino';
import { DataSource } from 'typeorm';
import { AuditRecorder } from '../../src/audit/audit-recorder.js';
import { AppConfig } from '../../src/config/app-config.js';
import { HotSql } from '../../src/database/hot-sql.js';
import { FIRST_ROUND, inputRequiredAnswer } from '../../src/tools/input.js';
import { StateService } from '../../src/state/state.service.js';
import { CounterTools } from '../../src/tool-modules/counter/counter.tools.js';
import { NO_CLIENT_CHANNEL } from '../../src/tools/client-channel.js';
import type { ToolContext } from '../../src/tools/tool.types.js';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

const MAX = Number.MAX_SAFE_INTEGER;

/** ctx.state.increment and counter.increment on the real database: one atomic add, many sharing a statement. */
describe(`state increment and counter.increment (${databaseKind})`, () => {
  let app: TestApp;
  let state: StateService;
  let counter: CounterTools;
  let db: DataSource;
  beforeAll(async () => {
    app = await startApp();
    state = app.app.get(StateService);
    counter = app.app.get(CounterTools);
    db = app.app.get(DataSource);
  });
  afterAll(() => app.close());

  let n = 0;
  const agent = () => `counter-agent-${++n}-${Date.now()}`;
  const logger = pino({ level: 'silent' });

  const audited = (agentId: string) =>
    db.query<{ outcome: string; detail: { key: string; version: number } }[]>(
      `SELECT outcome, detail FROM audit_event WHERE kind = 'state_change' AND agent_id = $1 ORDER BY id`,
      [agentId],
    );

  function contextFor(agentId: string): ToolContext {
    return {
      ...NO_CLIENT_CHANNEL,
      principal: { agentId, scopes: new Set() },
      requestId: 'r',
      logger,
      signal: new AbortController().signal,
      state: state.forAgent(agentId),
      input: FIRST_ROUND,
      inputRequired: inputRequiredAnswer,
    };
  }

  it('200 concurrent increments of one key: each once, versions 1..200, one audit row each', async () => {
    const agentId = agent();
    const a = state.forAgent(agentId);
    const before = state['increments'].stats.groups;
    const results = await Promise.all(Array.from({ length: 200 }, () => a.increment('hot', 3)));
    const versions = results.map((r) => r.version).sort((x, y) => x - y);
    const values = results.map((r) => r.value).sort((x, y) => x - y);
    expect(versions).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(values).toEqual(Array.from({ length: 200 }, (_, i) => 3 * (i + 1)));
    for (const r of results) expect(r).toMatchObject({ key: 'hot', created: r.version === 1 });
    // Versions and values pair up: the increment that wrote version v wrote value 3v.
    for (const r of results) expect(r.value).toBe(3 * r.version);
    expect(await a.get('hot')).toMatchObject({ value: 600, version: 200 });
    // They shared statements (fewer groups than increments).
    expect(state['increments'].stats.groups - before).toBeLessThan(200);
    const rows = await audited(agentId);
    expect(rows.map((r) => r.outcome)).toEqual(Array(200).fill('increment'));
    expect(rows.map((r) => r.detail.version).sort((x, y) => x - y)).toEqual(versions);
    for (const r of rows) expect(r.detail.key).toBe('hot');
  });

  it('adds to a value set by state.set, counts down, and keeps agents apart', async () => {
    const [alice, bob] = [agent(), agent()];
    const a = state.forAgent(alice);
    await a.set('k', 10);
    expect(await a.increment('k', -15)).toEqual({ key: 'k', value: -5, version: 2, created: false });
    expect(await state.forAgent(bob).increment('k', 1)).toEqual({
      key: 'k',
      value: 1,
      version: 1,
      created: true,
    });
    expect(await a.get('k')).toMatchObject({ value: -5, version: 2 });
    await expect(a.increment('k', 1.5)).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
  });

  it('refuses a non-integer value or an overflow, per increment, changing nothing', async () => {
    const agentId = agent();
    const a = state.forAgent(agentId);
    await a.set('text', 'seven');
    await a.set('real', 1.5);
    await a.set('big', MAX - 2);
    // Together in one group with good increments: only the refused ones fail.
    const outcomes = await Promise.allSettled([
      a.increment('text', 1),
      a.increment('big', 1),
      a.increment('real', 1),
      a.increment('big', 1),
      a.increment('ok', 1),
      a.increment('big', 1),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'rejected',
    ]);
    expect(outcomes[0]).toMatchObject({
      reason: { code: 'STATE_VALUE_INVALID', details: { key: 'text', reason: 'not_integer' } },
    });
    expect(outcomes[5]).toMatchObject({
      reason: { code: 'STATE_VALUE_INVALID', details: { key: 'big', reason: 'out_of_range' } },
    });
    expect(await a.get('text')).toMatchObject({ value: 'seven', version: 1 });
    expect(await a.get('real')).toMatchObject({ value: 1.5, version: 1 });
    expect(await a.get('big')).toMatchObject({ value: MAX, version: 3 });
    await expect(a.increment('big', -MAX * 2 + 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    expect(await a.increment('big', -MAX)).toMatchObject({ value: 0, version: 4 });
    // Only the increments that took effect are audited.
    const rows = (await audited(agentId)).filter((r) => r.outcome === 'increment');
    expect(rows.map((r) => `${r.detail.key}@${r.detail.version}`).sort()).toEqual([
      'big@2',
      'big@3',
      'big@4',
      'ok@1',
    ]);
  });

  it('caps key creation (STATE_MAX_KEYS_PER_AGENT): many increments of one new key count once', async () => {
    const config = app.app.get(AppConfig);
    const capped = new StateService(db, app.app.get(AuditRecorder), app.app.get(HotSql), {
      ...config,
      state: { ...config.state, maxKeysPerAgent: 2 },
    });
    const a = capped.forAgent(agent());
    await a.set('k1', 1);
    const outcomes = await Promise.allSettled(['k2', 'k2', 'k2', 'k3'].map((key) => a.increment(key, 1)));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    expect(outcomes[3]).toMatchObject({ reason: { code: 'STATE_KEY_LIMIT', details: { key: 'k3' } } });
    expect(await a.get('k2')).toMatchObject({ value: 3, version: 3 });
    expect(await a.increment('k1', 1)).toMatchObject({ value: 2, version: 2 });
  });

  it('a re-created key counts its versions from 1 again', async () => {
    const a = state.forAgent(agent());
    await a.increment('c', 1);
    await a.increment('c', 1);
    await a.delete('c');
    expect(await a.increment('c', 5)).toEqual({ key: 'c', value: 5, version: 1, created: true });
  });

  it('counter.increment: counts, and answers COUNTER_INVALID for a non-integer or an overflow', async () => {
    const agentId = agent();
    const ctx = contextFor(agentId);
    const other = state.forAgent(agentId);
    expect(await counter.increment({ name: 'd', by: -5 }, ctx)).toEqual({ name: 'd', value: -5, version: 1 });
    expect(await counter.increment({ name: 'd', by: 2 }, ctx)).toEqual({ name: 'd', value: -3, version: 2 });
    await other.set('counter/text', 'seven');
    await expect(counter.increment({ name: 'text', by: 1 }, ctx)).rejects.toMatchObject({
      code: 'COUNTER_INVALID',
      message: 'State key "counter/text" does not hold an integer',
    });
    await other.set('counter/big', MAX);
    await expect(counter.increment({ name: 'big', by: 1 }, ctx)).rejects.toMatchObject({
      code: 'COUNTER_INVALID',
      message: 'Counter "big" would leave the safe integer range',
    });
    expect(await other.get('counter/big')).toMatchObject({ value: MAX, version: 1 });
  });

  it('withdraws an increment still queued when its call ends; nothing changed', async () => {
    const a = state.forAgent(agent());
    const controller = new AbortController();
    controller.abort(new Error('deadline'));
    const bound = state.forCall(a, { signal: controller.signal, writes: { sent: () => () => {} } as never });
    await expect(bound.increment('c', 1)).rejects.toThrow('deadline');
    expect(await a.get('c')).toBeUndefined();
  });
});
