import { randomUUID } from 'node:crypto';
import { startApp, type TestApp } from '../utils/app.js';
import { callTool, newAgent, toolErrorCode, toolErrorOf } from '../utils/breaker-http.js';
import { databaseKind } from '../utils/database.js';

/**
 * Issue #15 class 9, tool versions: an idempotency key never replays a result across versions, and an agent
 * without a grant for a tool learns nothing about its versions (sunset, replacement, kill switch). Black-box.
 * `testing.versioned`: 0.9.0 past its sunset, 1.0.0 deprecated, 2.0.0 latest.
 */
const TOOL = 'testing.versioned';
const KEY_META = 'mcp-production/idempotency-key';
const pin = (version: string, key?: string) => ({
  'mcp-production/version': version,
  ...(key && { [KEY_META]: key }),
});

describe(`Tool versions: idempotency and grants (${databaseKind})`, () => {
  let app: TestApp;
  let admin: Record<string, string>;
  beforeAll(async () => {
    app = await startApp({ env: { TOOL_PACKS: 'echo,testing' } });
    admin = await app.bearer('ops', ['mcp:admin']);
  });
  afterAll(() => app.close());

  it('an idempotency key used with one version is not replayed for another version', async () => {
    const alice = await newAgent(app, [TOOL]);
    const key = `order-${randomUUID()}`;
    const first = await callTool(app, alice.auth, TOOL, {}, pin('1.0.0', key));
    expect(first.body?.result?.structuredContent).toEqual({ version: '1.0.0' });

    // Same version, same key: the stored result.
    const replay = await callTool(app, alice.auth, TOOL, {}, pin('1.0.0', key));
    expect(replay.body?.result?._meta).toMatchObject({ 'mcp-production/idempotent-replay': true });
    expect(replay.body?.result?.structuredContent).toEqual({ version: '1.0.0' });

    // Another version (pinned, or the plain name = latest): never 1.0.0's result; a conflict that says why.
    for (const meta of [pin('2.0.0', key), { [KEY_META]: key }]) {
      const other = await callTool(app, alice.auth, TOOL, {}, meta);
      expect(other.status).toBe(200);
      expect(other.body?.result?.structuredContent).not.toEqual({ version: '1.0.0' });
      expect(toolErrorCode(other)).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(toolErrorOf(other)).toMatchObject({
        message: expect.stringContaining('1.0.0'),
        details: { tool: TOOL, version: '2.0.0', usedVersion: '1.0.0' },
      });
    }
  });

  it('an agent without a grant for the tool gets the same denial for every version, never TOOL_SUNSET or its replacement', async () => {
    // In scope (the HTTP scope guard lets it through) but holding no grant.
    const mallory = await newAgent(app, [], [`tool:${TOOL}`]);
    const plain = await callTool(app, mallory.auth, TOOL, {});
    expect(plain.status).toBe(200);
    expect(plain.body?.error).toMatchObject({ code: -32003, data: { code: 'GRANT_DENIED' } });
    for (const version of ['0.9.0', '1.0.0', '2.0.0']) {
      const pinned = await callTool(app, mallory.auth, TOOL, {}, pin(version));
      expect([version, pinned.status, pinned.body]).toEqual([version, plain.status, plain.body]);
      expect(JSON.stringify(pinned.body)).not.toMatch(/SUNSET|sunset|replacement|2020-01-01/);
    }
  });

  it('an agent without a grant never learns that a tool is switched off; a granted one does', async () => {
    const switchedOff = await fetch(`${app.baseUrl}/admin/tools/${TOOL}/disable`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ version: '2.0.0', reason: 'breaker-versions test' }),
    });
    expect(switchedOff.status).toBe(200);
    try {
      const mallory = await newAgent(app, [], [`tool:${TOOL}`]);
      const denied = await callTool(app, mallory.auth, TOOL, {});
      expect(denied.body?.error).toMatchObject({ code: -32003, data: { code: 'GRANT_DENIED' } });
      expect(JSON.stringify(denied.body)).not.toMatch(/DISABLED|switched off/);

      const alice = await newAgent(app, [TOOL]);
      expect(toolErrorCode(await callTool(app, alice.auth, TOOL, {}))).toBe('TOOL_DISABLED');
    } finally {
      await fetch(`${app.baseUrl}/admin/tools/${TOOL}/enable`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ version: '2.0.0' }),
      });
    }
  });

  it('the version-pinned grant still decides after resolution', async () => {
    // A grant for 2.0.0 only: a user of the tool, so it learns about the retired 0.9.0 and its replacement...
    const bob = await newAgent(app, [], [`tool:${TOOL}`]);
    await app.grant(bob.id, TOOL, { toolVersion: '2.0.0' });
    expect((await callTool(app, bob.auth, TOOL, {})).body?.result?.structuredContent).toEqual({
      version: '2.0.0',
    });
    expect(toolErrorCode(await callTool(app, bob.auth, TOOL, {}, pin('0.9.0')))).toBe('TOOL_SUNSET');
    // ...but may not call 1.0.0.
    const v1 = await callTool(app, bob.auth, TOOL, {}, pin('1.0.0'));
    expect(v1.body?.error).toMatchObject({ code: -32003, data: { code: 'GRANT_DENIED' } });
  });
});
