import { setTimeout as sleep } from 'node:timers/promises';
import { startApp, type TestApp } from '../utils/app.js';
import { callTool, newAgent } from '../utils/breaker-http.js';
import { databaseKind } from '../utils/database.js';

/**
 * Closing the app waits for in-flight calls, but not for the keep-alive connections they leave behind: a connection
 * whose request finishes after the close began is closed as soon as it is idle, not after HTTP_KEEP_ALIVE_TIMEOUT_MS.
 */
describe(`close with a call in flight on a keep-alive connection (${databaseKind})`, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ env: { TOOL_PACKS: 'testing', HTTP_KEEP_ALIVE_TIMEOUT_MS: '60000' } });
  });
  afterAll(() => app.close());

  it('finishes the call, then closes within a second of it', async () => {
    const agent = await newAgent(app, ['testing.slow']);
    // fetch keeps its connection alive after the answer.
    const call = callTool(app, agent.auth, 'testing.slow', { key: 'close', ms: 600 });
    await sleep(150);
    const closeStarted = Date.now();
    const closed = app.stop().then(() => Date.now());
    const answer = await call;
    const answeredAt = Date.now();
    expect(answer.status).toBe(200);
    expect(answer.body?.result?.isError ?? false).toBe(false);
    const closedAt = await closed;
    expect(closedAt - answeredAt).toBeLessThan(1000);
    expect(closedAt - closeStarted).toBeLessThan(5000);
  }, 90_000);
});
