import { DataSource } from 'typeorm';
import { captureLogs } from '../../src/common/logging/logger.module.js';
import { startApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

type App = Awaited<ReturnType<typeof startApp>>;

/**
 * Issue #15 class 8: raw tool arguments and SQL parameters never reach the logs. A canary string travels as tool
 * arguments through success, refusal and failure paths, including tools that fail in the database (a CHECK
 * constraint that refuses the row, whose error detail quotes it; a missing table, whose QueryFailedError carries
 * the statement's parameters); every line is captured at `trace` level, and none may contain it.
 */
const CANARY = 'canary-7f3a9c1e';

describe(`no tool argument reaches the logs (${databaseKind})`, () => {
  let app: App;
  const lines: string[] = [];

  beforeAll(async () => {
    captureLogs({ write: (line: string) => void lines.push(line) });
    app = await startApp({ env: { LOG_LEVEL: 'trace' } });
    await app.grant('canary-agent', 'echo');
    await app.grant('canary-agent', 'state.set');
    await app.grant('canary-agent', 'state.list');
    await app.grant('canary-agent', 'counter.increment');
  });
  afterAll(async () => {
    await app.close();
    captureLogs(undefined);
  });

  async function call(name: string, args: unknown, agent = 'canary-agent') {
    const res = await fetch(app.mcpUrl, {
      method: 'POST',
      headers: {
        ...(await app.bearer(agent, [`tool:${name}`])),
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name, arguments: args },
      }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('keeps the canary out of every log line, whatever happens to the call', async () => {
    const db = app.app.get(DataSource);
    expect((await call('echo', { text: CANARY })).status).toBe(200);
    await call('echo', { text: CANARY }, 'canary-stranger'); // no grant
    await call('echo', { text: CANARY, n: 1 }, 'canary-stranger');
    await call('echo', { text: 42, other: CANARY }); // invalid arguments
    await call('counter.increment', { name: CANARY });
    await call('echo', { deep: JSON.parse(`${'['.repeat(100)}"${CANARY}"${']'.repeat(100)}`) });

    // Tools that fail in the database, with the canary in the statement's parameters.
    await db.query(
      `ALTER TABLE agent_state ADD CONSTRAINT canary_refused CHECK (value::text NOT LIKE '%canary%') NOT VALID`,
    );
    try {
      await call('state.set', { key: `key-${CANARY}`, value: { v: CANARY } });
    } finally {
      await db.query(`ALTER TABLE agent_state DROP CONSTRAINT canary_refused`);
    }
    await db.query(`ALTER TABLE agent_state RENAME TO agent_state_offline`);
    try {
      await call('state.list', { prefix: CANARY });
      await call('state.set', { key: CANARY, value: CANARY });
    } finally {
      await db.query(`ALTER TABLE agent_state_offline RENAME TO agent_state`);
    }

    expect(lines.some((line) => line.includes('"tool call"'))).toBe(true); // the capture works
    const leaked = lines.filter((line) => line.includes(CANARY));
    expect(leaked).toEqual([]);
  });
});
