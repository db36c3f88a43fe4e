import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { LEGACY_VERSION, MODERN_VERSION, onWire, type Era } from '../utils/mcp-eras.js';

/**
 * MCP_ERA restricts the endpoint to one era (README "Protocol eras"): the other era's requests get 400 / -32022
 * naming what this endpoint serves, before anything runs; `dual` (tested throughout the suite) serves both.
 */

const AGENT = 'era-agent';
const INITIALIZE = {
  id: 1,
  method: 'initialize',
  params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 'modes', version: '1' } },
};
const ECHO = { id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } };

interface Answer {
  status: number;
  sessionId: string | null;
  body: {
    result?: { structuredContent?: unknown };
    error?: { code: number; data?: { supported?: string[] } };
  };
}

describe.each([
  ['modern', 'legacy'],
  ['legacy', 'modern'],
] as const)(`MCP_ERA=%s refuses the %s era (${databaseKind})`, (served, refused) => {
  let app: TestApp;
  let auth: Record<string, string>;
  beforeAll(async () => {
    app = await startApp({ env: { TOOL_PACKS: 'echo', MCP_ERA: served } });
    await app.grant(AGENT, 'echo');
    auth = await app.bearer(AGENT, ['tool:echo']);
  });
  afterAll(() => app.close());

  async function send(era: Era, request: typeof ECHO | typeof INITIALIZE): Promise<Answer> {
    const wire = onWire(era, request);
    const res = await fetch(app.mcpUrl, {
      method: 'POST',
      headers: {
        ...auth,
        ...wire.headers,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify(wire.body),
    });
    const text = await res.text();
    const data = text.startsWith('{') ? text : (/^data: (.+)$/m.exec(text)?.[1] ?? '{}');
    return {
      status: res.status,
      sessionId: res.headers.get('mcp-session-id'),
      body: JSON.parse(data) as Answer['body'],
    };
  }

  it(`serves ${served} requests`, async () => {
    const answer = await send(served, ECHO);
    expect(answer.status).toBe(200);
    expect(answer.body.result?.structuredContent).toEqual({ text: 'hi' });
    if (served === 'legacy') expect((await send('legacy', INITIALIZE)).sessionId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it(`answers ${refused} requests with 400 / -32022 naming the versions it serves`, async () => {
    for (const request of refused === 'legacy' ? [ECHO, INITIALIZE] : [ECHO]) {
      const answer = await send(refused, request);
      expect(answer.status).toBe(400);
      expect(answer.sessionId).toBeNull();
      expect(answer.body.error?.code).toBe(-32022);
      const supported = answer.body.error?.data?.supported;
      if (served === 'modern') expect(supported).toEqual([MODERN_VERSION]);
      else expect(supported).toContain(LEGACY_VERSION);
    }
  });

  it('keeps GET and DELETE for 2025 sessions only', async () => {
    const get = await fetch(app.mcpUrl, { headers: { ...auth, accept: 'text/event-stream' } });
    expect(get.status).toBe(405);
  });
});
