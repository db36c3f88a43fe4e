import type { CallToolResult } from '@modelcontextprotocol/server';
import { DataSource } from 'typeorm';
import pino from 'pino';
import { IdempotencyService, type IdempotencyScope } from '../../src/state/idempotency.service.js';
import { StateService } from '../../src/state/state.service.js';
import {
  IDEMPOTENCY_KEY_META,
  IDEMPOTENT_REPLAY_META,
  requestHash,
} from '../../src/tools/steps/idempotency.step.js';
import { ERROR_CODE_META } from '../../src/tools/tool-errors.js';
import { ToolInvoker } from '../../src/tools/tool-invoker.service.js';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

const result = (text: string): CallToolResult => ({ content: [{ type: 'text', text }] });

describe(`IdempotencyService (${databaseKind})`, () => {
  let app: TestApp;
  let store: IdempotencyService;
  let db: DataSource;
  beforeAll(async () => {
    app = await startApp({ env: { IDEMPOTENCY_WAIT_MS: '600', IDEMPOTENCY_LEASE_SECONDS: '2' } });
    store = app.app.get(IdempotencyService);
    db = app.app.get(DataSource);
  });
  afterAll(() => app.close());

  let n = 0;
  const scope = (): IdempotencyScope => ({
    agentId: `agent-${++n}`,
    toolName: 'demo.tool',
    toolVersion: '1.0.0',
    key: `key-${n}`,
  });

  it('claims a new key, then replays the stored result for the same request', async () => {
    const s = scope();
    const claim = await store.begin(s, 'hash-a');
    expect(claim).toEqual({ kind: 'claimed', claimId: expect.any(String) });
    expect(await store.complete((claim as { claimId: string }).claimId, result('first'))).toBe(true);
    expect(await store.begin(s, 'hash-a')).toEqual({ kind: 'completed', result: result('first') });
  });

  it('rejects the key with other arguments, while running and after completion', async () => {
    const s = scope();
    const claim = (await store.begin(s, 'hash-a')) as { claimId: string };
    await expect(store.begin(s, 'hash-b')).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    await store.complete(claim.claimId, result('done'));
    await expect(store.begin(s, 'hash-b')).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
  });

  it('refuses the key for another version of the tool, while running and after completion', async () => {
    const s = scope();
    const claim = (await store.begin(s, 'hash-a')) as { claimId: string };
    const v2 = { ...s, toolVersion: '2.0.0' };
    const conflict = {
      code: 'IDEMPOTENCY_KEY_REUSED',
      details: { tool: 'demo.tool', version: '2.0.0', usedVersion: '1.0.0' },
    };
    await expect(store.begin(v2, 'hash-a')).rejects.toMatchObject(conflict);
    await store.complete(claim.claimId, result('v1'));
    await expect(store.begin(v2, 'hash-a')).rejects.toMatchObject(conflict);
    expect(await store.begin(s, 'hash-a')).toEqual({ kind: 'completed', result: result('v1') });
  });

  it('lets exactly one of many concurrent duplicates run; the others get its result', async () => {
    const s = scope();
    const outcomes = Array.from({ length: 6 }, () => store.begin(s, 'same'));
    // The claimant finishes a little later; the others are polling by then.
    const first = await Promise.race(outcomes);
    expect(first.kind).toBe('claimed');
    await new Promise((r) => setTimeout(r, 100));
    await store.complete((first as { claimId: string }).claimId, result('once'));
    const all = await Promise.all(outcomes);
    expect(all.filter((o) => o.kind === 'claimed')).toHaveLength(1);
    expect(all.filter((o) => o.kind === 'completed')).toEqual(
      Array.from({ length: 5 }, () => ({ kind: 'completed', result: result('once') })),
    );
  });

  it('answers IDEMPOTENCY_IN_PROGRESS when the first call outlasts the wait', async () => {
    const s = scope();
    await store.begin(s, 'slow');
    const started = Date.now();
    await expect(store.begin(s, 'slow')).rejects.toMatchObject({ code: 'IDEMPOTENCY_IN_PROGRESS' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
  });

  it('stops waiting as soon as the duplicate caller gives up', async () => {
    const s = scope();
    await store.begin(s, 'slow');
    const gaveUp = new AbortController();
    setTimeout(() => gaveUp.abort(new Error('client went away')), 100);
    const started = Date.now();
    await expect(store.begin(s, 'slow', gaveUp.signal)).rejects.toThrow('client went away');
    expect(Date.now() - started).toBeLessThan(400);
  });

  it('frees the key when the claim is released (the call failed)', async () => {
    const s = scope();
    const claim = (await store.begin(s, 'h')) as { claimId: string };
    await store.release(claim.claimId);
    expect(await store.begin(s, 'other arguments are fine now')).toMatchObject({ kind: 'claimed' });
  });

  it('lets a retry take over a claim abandoned past its lease; the old claimant can no longer finish', async () => {
    const s = scope();
    const abandoned = (await store.begin(s, 'h')) as { claimId: string };
    await new Promise((r) => setTimeout(r, 2100));
    const takeover = await store.begin(s, 'h');
    expect(takeover).toMatchObject({ kind: 'claimed' });
    expect(await store.complete(abandoned.claimId, result('late'))).toBe(false);
    expect(await store.complete((takeover as { claimId: string }).claimId, result('new'))).toBe(true);
    expect(await store.begin(s, 'h')).toEqual({ kind: 'completed', result: result('new') });
  });

  it('forgets a key after its time to live, and prunes expired records', async () => {
    const s = scope();
    const claim = (await store.begin(s, 'h')) as { claimId: string };
    await store.complete(claim.claimId, result('old'));
    await db.query(`UPDATE idempotency_record SET expires_at = now() - interval '1 second' WHERE id = $1`, [
      claim.claimId,
    ]);
    expect(await store.begin(s, 'different arguments, new window')).toMatchObject({ kind: 'claimed' });

    const stale = scope();
    const old = (await store.begin(stale, 'h')) as { claimId: string };
    await db.query(`UPDATE idempotency_record SET expires_at = now() - interval '1 second' WHERE id = $1`, [
      old.claimId,
    ]);
    expect(await store.prune()).toBeGreaterThanOrEqual(1);
    expect(await db.query(`SELECT 1 FROM idempotency_record WHERE id = $1`, [old.claimId])).toEqual([]);
  });

  it('scopes keys by agent and by tool', async () => {
    const s = scope();
    await store.begin(s, 'h');
    expect(await store.begin({ ...s, agentId: 'someone-else' }, 'x')).toMatchObject({ kind: 'claimed' });
    expect(await store.begin({ ...s, toolName: 'other.tool' }, 'x')).toMatchObject({ kind: 'claimed' });
  });

  it('hashes requests canonically: key order does not matter, values do', () => {
    expect(requestHash({ a: 1, b: { c: [1, 2], d: null } })).toBe(
      requestHash({ b: { d: null, c: [1, 2] }, a: 1 }),
    );
    expect(requestHash({ a: 1 })).not.toBe(requestHash({ a: 2 }));
    expect(requestHash({ a: [1, 2] })).not.toBe(requestHash({ a: [2, 1] }));
  });
});

describe(`IdempotencyStep in the tool pipeline (${databaseKind})`, () => {
  let app: TestApp;
  let invoker: ToolInvoker;
  const logger = pino({ level: 'silent' });
  beforeAll(async () => {
    app = await startApp();
    invoker = app.app.get(ToolInvoker);
    for (const agentId of ['alice', 'bob']) await app.grant(agentId, 'counter.increment');
  });
  afterAll(() => app.close());

  const call = (agentId: string, args: Record<string, unknown>, key?: unknown) =>
    invoker.invoke(
      {
        name: 'counter.increment',
        arguments: args,
        meta: key === undefined ? {} : { [IDEMPOTENCY_KEY_META]: key },
      },
      {
        principal: { agentId, scopes: new Set(['tool:counter.increment']) },
        requestId: 'r',
        logger,
        signal: new AbortController().signal,
      },
    );
  const codeOf = (r: CallToolResult) => r._meta?.[ERROR_CODE_META];

  it('runs a call once per key and replays its result, flagged', async () => {
    const first = await call('alice', { name: 'idem' }, 'op-1');
    expect(first.structuredContent).toEqual({ name: 'idem', value: 1, version: 1 });
    const again = await call('alice', { name: 'idem' }, 'op-1');
    expect(again.structuredContent).toEqual(first.structuredContent);
    expect(again._meta?.[IDEMPOTENT_REPLAY_META]).toBe(true);
    expect(first._meta?.[IDEMPOTENT_REPLAY_META]).toBeUndefined();
    // Same key, other agent: its own call.
    expect((await call('bob', { name: 'idem' }, 'op-1')).structuredContent).toMatchObject({ value: 1 });
    // Without a key, every call runs.
    expect((await call('alice', { name: 'idem' })).structuredContent).toMatchObject({ value: 2 });
  });

  it('compares validated arguments: defaults count, other values are rejected', async () => {
    await call('alice', { name: 'defaults' }, 'op-2');
    expect((await call('alice', { name: 'defaults', by: 1 }, 'op-2'))._meta?.[IDEMPOTENT_REPLAY_META]).toBe(
      true,
    );
    const reused = await call('alice', { name: 'defaults', by: 5 }, 'op-2');
    expect(reused.isError).toBe(true);
    expect(codeOf(reused)).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await app.app.get(StateService).get('alice', 'counter/defaults')).toMatchObject({ value: 1 });
  });

  it('runs concurrent duplicates once', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => call('alice', { name: 'burst' }, 'op-3')),
    );
    for (const r of results) expect(r.structuredContent).toEqual({ name: 'burst', value: 1, version: 1 });
    expect(results.filter((r) => r._meta?.[IDEMPOTENT_REPLAY_META])).toHaveLength(7);
    expect(await app.app.get(StateService).get('alice', 'counter/burst')).toMatchObject({ value: 1 });
  });

  it('does not store failures: a retry with the same key runs again', async () => {
    const state = app.app.get(StateService);
    await state.set('alice', 'counter/broken', 'not a number');
    const failed = await call('alice', { name: 'broken' }, 'op-4');
    expect(codeOf(failed)).toBe('COUNTER_INVALID');
    await state.set('alice', 'counter/broken', 41);
    expect((await call('alice', { name: 'broken' }, 'op-4')).structuredContent).toMatchObject({ value: 42 });
  });

  it.each([[''], ['has space'], ['x'.repeat(256)], [42], [{ k: 1 }]])(
    'rejects the malformed key %j with INVALID_ARGUMENTS',
    async (key) => {
      const r = await call('alice', { name: 'bad-key' }, key);
      expect(codeOf(r)).toBe('INVALID_ARGUMENTS');
    },
  );
});
