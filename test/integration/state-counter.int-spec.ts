import pino from 'pino';
import { FIRST_ROUND, inputRequiredAnswer } from '../../src/tools/input.js';
import { StateService } from '../../src/state/state.service.js';
import { CounterTools, MAX_ATTEMPTS } from '../../src/tool-modules/counter/counter.tools.js';
import { NO_CLIENT_CHANNEL } from '../../src/tools/client-channel.js';
import type { AgentState, ToolContext } from '../../src/tools/tool.types.js';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

/**
 * counter.increment's compare-and-set retry, made deterministic: a competing writer (another replica, or a
 * state.set) really writes the key between the counter's read and its write, on the real database.
 */
describe(`counter.increment conflict retry (${databaseKind})`, () => {
  let app: TestApp;
  let state: StateService;
  let counter: CounterTools;
  beforeAll(async () => {
    app = await startApp();
    state = app.app.get(StateService);
    counter = app.app.get(CounterTools);
  });
  afterAll(() => app.close());

  let n = 0;
  const logger = pino({ level: 'silent' });

  /** A context whose state handle lets `interfere` write (through another handle) right after each read. */
  function contextWith(
    interfere: (reads: number, competitor: AgentState) => Promise<void>,
    signal = new AbortController().signal,
  ) {
    const agentId = `counter-agent-${++n}`;
    const real = state.forAgent(agentId);
    const competitor = state.forAgent(agentId);
    let reads = 0;
    const handle: AgentState = {
      ...real,
      get: async (key) => {
        const entry = await real.get(key);
        await interfere(++reads, competitor);
        return entry;
      },
    };
    const ctx: ToolContext = {
      ...NO_CLIENT_CHANNEL,
      principal: { agentId, scopes: new Set() },
      requestId: 'r',
      logger,
      signal,
      state: handle,
      input: FIRST_ROUND,
      inputRequired: inputRequiredAnswer,
    };
    return { ctx, competitor, reads: () => reads };
  }

  it('retries a lost race and adds to the value the winner wrote', async () => {
    const setup = contextWith(async (reads, competitor) => {
      if (reads === 1) await competitor.set('counter/c', 100); // lands between the first read and write
    });
    expect(await counter.increment({ name: 'c', by: 2 }, setup.ctx)).toEqual({
      name: 'c',
      value: 102,
      version: 2,
    });
    expect(setup.reads()).toBe(2);
    expect(await state.get(setup.ctx.principal.agentId, 'counter/c')).toMatchObject({
      value: 102,
      version: 2,
    });
  });

  it(`gives up with STATE_VERSION_CONFLICT after ${MAX_ATTEMPTS} lost races`, async () => {
    const setup = contextWith(async (reads, competitor) => {
      await competitor.set('counter/c', reads * 1000);
    });
    await expect(counter.increment({ name: 'c', by: 1 }, setup.ctx)).rejects.toMatchObject({
      code: 'STATE_VERSION_CONFLICT',
      details: { key: 'counter/c', currentVersion: MAX_ATTEMPTS },
    });
    expect(setup.reads()).toBe(MAX_ATTEMPTS);
    // Only the competitor's writes happened.
    expect(await setup.competitor.get('counter/c')).toMatchObject({ value: MAX_ATTEMPTS * 1000 });
  });

  it('stops retrying once the call is aborted (timeout or client gone)', async () => {
    const controller = new AbortController();
    const setup = contextWith(async (reads, competitor) => {
      await competitor.set('counter/c', reads);
      if (reads === 2) controller.abort(new Error('deadline'));
    }, controller.signal);
    // The second race is lost after the abort: no third attempt.
    await expect(counter.increment({ name: 'c', by: 1 }, setup.ctx)).rejects.toMatchObject({
      code: 'STATE_VERSION_CONFLICT',
    });
    expect(setup.reads()).toBe(2);
    // And an aborted call does not even start.
    await expect(counter.increment({ name: 'c', by: 1 }, setup.ctx)).rejects.toThrow('deadline');
    expect(setup.reads()).toBe(2);
  });

  it('counts down, and refuses values that are not safe integers', async () => {
    const setup = contextWith(async () => {});
    expect(await counter.increment({ name: 'd', by: -5 }, setup.ctx)).toMatchObject({
      value: -5,
      version: 1,
    });
    await setup.competitor.set('counter/text', 'seven');
    await expect(counter.increment({ name: 'text', by: 1 }, setup.ctx)).rejects.toMatchObject({
      code: 'COUNTER_INVALID',
    });
    await setup.competitor.set('counter/big', Number.MAX_SAFE_INTEGER);
    await expect(counter.increment({ name: 'big', by: 1 }, setup.ctx)).rejects.toMatchObject({
      code: 'COUNTER_INVALID',
    });
    expect(await setup.competitor.get('counter/big')).toMatchObject({
      value: Number.MAX_SAFE_INTEGER,
      version: 1,
    });
  });

  it('starts from the value it last wrote: one read for a run of increments', async () => {
    const setup = contextWith(async () => {});
    for (let i = 1; i <= 5; i++)
      expect(await counter.increment({ name: 'run', by: 1 }, setup.ctx)).toEqual({
        name: 'run',
        value: i,
        version: i,
      });
    expect(setup.reads()).toBe(1);
  });

  it('pays a stale memory with a read and a retry, never with a wrong value', async () => {
    const setup = contextWith(async () => {});
    await counter.increment({ name: 'm', by: 1 }, setup.ctx); // remembers value 1 at version 1
    await setup.competitor.set('counter/m', 100); // version 2, elsewhere
    expect(await counter.increment({ name: 'm', by: 1 }, setup.ctx)).toMatchObject({
      value: 101,
      version: 3,
    });
    expect(setup.reads()).toBe(2);

    // Deleted and re-created up to the remembered version: same version, another value. The value check sees it.
    await counter.increment({ name: 'aba', by: 1 }, setup.ctx);
    await counter.increment({ name: 'aba', by: 1 }, setup.ctx); // remembers value 2 at version 2
    await setup.competitor.delete('counter/aba');
    await setup.competitor.set('counter/aba', 50); // version 1
    await setup.competitor.set('counter/aba', 60); // version 2 again
    expect(await counter.increment({ name: 'aba', by: 1 }, setup.ctx)).toMatchObject({
      value: 61,
      version: 3,
    });
  });

  it('lets a compare-and-set require the value too (expectedValue)', async () => {
    const agentId = `counter-agent-${++n}`;
    await state.set(agentId, 'k', { a: 1 });
    await expect(
      state.set(agentId, 'k', 2, { expectedVersion: 1, expectedValue: { a: 2 } }),
    ).rejects.toMatchObject({
      code: 'STATE_VERSION_CONFLICT',
      details: { expectedVersion: 1, currentVersion: 1 },
    });
    expect(await state.set(agentId, 'k', 2, { expectedVersion: 1, expectedValue: { a: 1 } })).toMatchObject({
      version: 2,
    });
    await expect(state.set(agentId, 'k', 3, { expectedValue: 2 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENTS',
    });
    expect(await state.get(agentId, 'k')).toMatchObject({ value: 2, version: 2 });
  });
});
