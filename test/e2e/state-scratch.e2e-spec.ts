import { StateService } from '../../src/state/state.service.js';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { connectClient } from '../utils/mcp-client.js';

describe(`scratch ${databaseKind}`, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ env: { TOOL_TIMEOUT_MS: '600000', ...(process.env.POOL && { DB_POOL_SIZE: process.env.POOL }) } });
  });
  afterAll(() => app.close());
  it('measures', async () => {
    const state = app.app.get(StateService);
    let sets = 0, conflicts = 0, gets = 0;
    const origSet = state.set.bind(state);
    const origGet = state.get.bind(state);
    state.set = async (...args: Parameters<StateService['set']>) => { sets++; try { return await origSet(...args); } catch (e) { conflicts++; throw e; } };
    state.get = async (...args: Parameters<StateService['get']>) => { gets++; return origGet(...args); };
    const agents = Array.from({ length: Number(process.env.AGENTS ?? 20) }, (_, i) => `a${i}`);
    const clients = await Promise.all(agents.map(async (a) => { await app.grant(a, 'counter.increment'); return connectClient(app.mcpUrl, await app.bearer(a, ['tool:counter.increment'])); }));
    const t0 = Date.now();
    const res = await Promise.all(clients.map((c) => Promise.all(Array.from({ length: 50 }, () => c.callTool({ name: 'counter.increment', arguments: {} }, undefined, { timeout: 600000 })))));
    const ms = Date.now() - t0;
    const errors = res.flat().filter((r) => r.isError).length;
    console.log(JSON.stringify({ ms, errors, sets, conflicts, gets, perCall: sets / (agents.length * 50) }));
  }, 600000);
});
