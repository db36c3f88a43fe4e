import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { DataSource } from 'typeorm';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { ToolGate } from '../../src/admission/tool-gate.js';
import { ToolRegistry } from '../../src/tools/tool-registry.service.js';
import { connectClient } from '../utils/mcp-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`grants through MCP and the admin API (${databaseKind})`, () => {
  let app: TestApp;
  let admin: Record<string, string>;
  beforeAll(async () => {
    app = await startApp();
    admin = { ...(await app.bearer('ops', ['mcp:admin'])), 'content-type': 'application/json' };
  });
  afterAll(() => app.close());

  const adminFetch = (path: string, init: RequestInit = {}) =>
    fetch(`${app.baseUrl}${path}`, { ...init, headers: { ...admin, ...(init.headers as object) } });

  async function createGrant(body: object) {
    const res = await adminFetch('/admin/grants', { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('shows two agents different tools/list results, from their grants', async () => {
    await app.grant('list-a', 'echo');
    const a = await connectClient(app.mcpUrl, await app.bearer('list-a', ['tool:echo']));
    const b = await connectClient(app.mcpUrl, await app.bearer('list-b', ['tool:echo']));
    expect((await a.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
    expect((await b.listTools()).tools).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });

  it('denies a call without a grant with a JSON-RPC error that is not insufficient_scope', async () => {
    const client = await connectClient(app.mcpUrl, await app.bearer('no-grant', ['tool:echo']));
    const call = client.callTool({ name: 'echo', arguments: { text: 'x' } });
    await expect(call).rejects.toBeInstanceOf(McpError);
    await expect(call).rejects.toMatchObject({ code: -32003, data: { code: 'GRANT_DENIED', tool: 'echo' } });
    await client.close();
  });

  it('decides each of many concurrent calls on its own agent and tool, in shared gate statements', async () => {
    const agents = Array.from({ length: 12 }, (_v, i) => `burst-${i}`);
    const granted = agents.filter((_a, i) => i % 2 === 0);
    for (const agent of granted) await app.grant(agent, 'echo');
    const clients = await Promise.all(
      agents.map(async (agent) => connectClient(app.mcpUrl, await app.bearer(agent, ['tool:echo']))),
    );
    const outcomes = await Promise.all(
      clients.map((client) =>
        client.callTool({ name: 'echo', arguments: { text: 'x' } }).then(
          () => 'ok',
          (error: McpError) => (error.data as { code: string }).code,
        ),
      ),
    );
    expect(outcomes).toEqual(agents.map((a) => (granted.includes(a) ? 'ok' : 'GRANT_DENIED')));

    // Asked at once: one read goes out, the other eleven wait and share the second statement.
    const gate = app.app.get(ToolGate);
    const before = gate.lookups.stats.statements;
    const echo = app.app.get(ToolRegistry).resolve('echo')!;
    const principal = (agentId: string) => ({ agentId, scopes: new Set(['tool:echo']) });
    expect(await Promise.all(agents.map((agent) => gate.read(principal(agent), echo)))).toEqual(
      agents.map((a) => ({
        disabled: false,
        granted: granted.includes(a),
        grantedName: granted.includes(a),
      })),
    );
    expect(gate.lookups.stats.statements - before).toBe(2);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('applies grant expiry, revocation and re-grant on the very next request', async () => {
    const headers = await app.bearer('lifecycle', ['tool:echo']);
    const client = await connectClient(app.mcpUrl, headers);
    const call = () => client.callTool({ name: 'echo', arguments: { text: 'ping' } });

    const expiring = await createGrant({
      agentId: 'lifecycle',
      toolName: 'echo',
      expiresAt: new Date(Date.now() + 1500).toISOString(),
    });
    expect(expiring.status).toBe(201);
    expect((await call()).structuredContent).toEqual({ text: 'ping' });
    await sleep(1600);
    await expect(call()).rejects.toMatchObject({ data: { code: 'GRANT_DENIED' } });

    const lasting = await createGrant({ agentId: 'lifecycle', toolName: 'echo' });
    expect((await call()).structuredContent).toEqual({ text: 'ping' });

    const revoked = await adminFetch(`/admin/grants/${String(lasting.body.id)}`, { method: 'DELETE' });
    expect(revoked.status).toBe(204);
    await expect(call()).rejects.toMatchObject({ data: { code: 'GRANT_DENIED' } });
    expect((await client.listTools()).tools).toEqual([]);

    await createGrant({ agentId: 'lifecycle', toolName: 'echo' });
    expect((await call()).structuredContent).toEqual({ text: 'ping' });
    await client.close();

    // Every admin action above left an audit row naming the admin.
    const audit = (await (await adminFetch('/admin/audit?kind=admin&agent=ops&limit=500')).json()) as {
      items: { outcome: string; detail: { grantId?: string } }[];
    };
    const actions = audit.items.filter((e) => e.outcome.startsWith('grant.'));
    expect(actions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          outcome: 'grant.create',
          detail: expect.objectContaining({ grantId: expiring.body.id }),
        }),
        expect.objectContaining({ outcome: 'grant.revoke', detail: { grantId: lasting.body.id } }),
      ]),
    );
  });

  it('lists grants with filters', async () => {
    await createGrant({ agentId: 'lister', toolName: 'echo' });
    const res = await adminFetch('/admin/grants?agentId=lister&active=true');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      expect.objectContaining({ agentId: 'lister', toolName: 'echo', grantedBy: 'ops' }),
    ]);
  });

  it.each([
    [{ toolName: 'echo' }, 'agentId'],
    [{ agentId: 'x', toolName: 'echo', expiresAt: 'tomorrow' }, 'expiresAt'],
    [{ agentId: 'x', toolName: 'echo', expiresAt: '2001-01-01T00:00:00Z' }, 'must be in the future'],
    [{ agentId: 'x', toolName: 'echo', extra: true }, 'extra'],
    [{ agentId: 'x', toolName: 'no.such-tool' }, 'Unknown tool'],
    [{ agentId: 'x', toolName: 'resource:no-such-resource' }, 'Unknown tool'],
  ])('rejects a bad grant %j with a 400 that names the problem', async (body, mentions) => {
    const { status, body: error } = await createGrant(body);
    expect(status).toBe(400);
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining(mentions) });
  });

  it('answers 404 for revoking an unknown grant and 400 for a malformed id', async () => {
    const missing = await adminFetch('/admin/grants/00000000-0000-4000-8000-000000000000', {
      method: 'DELETE',
    });
    expect(missing.status).toBe(404);
    expect((await adminFetch('/admin/grants/not-a-uuid', { method: 'DELETE' })).status).toBe(400);
  });

  it('requires mcp:admin for the admin API', async () => {
    const agent = await app.bearer('agent', ['tool:echo']);
    const res = await fetch(`${app.baseUrl}/admin/grants`, { headers: agent });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    expect((await fetch(`${app.baseUrl}/admin/grants`)).status).toBe(401);
  });

  it('revokes a token by jti through the admin API: refused on its next request, and audited', async () => {
    const token = await app.idp.mint(
      { sub: 'revokee', scope: 'tool:echo', jti: 'jti-to-revoke' },
      { audience: 'http://localhost:3999/mcp' },
    );
    const headers = {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const list = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect((await fetch(app.mcpUrl, { method: 'POST', headers, body: list })).status).toBe(200);

    const res = await adminFetch('/admin/token-revocations', {
      method: 'POST',
      body: JSON.stringify({ jti: 'jti-to-revoke', reason: 'laptop lost' }),
    });
    expect(res.status).toBe(201);
    const denied = await fetch(app.mcpUrl, { method: 'POST', headers, body: list });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);

    const listed = (await (await adminFetch('/admin/token-revocations')).json()) as { jti: string }[];
    expect(listed.map((r) => r.jti)).toContain('jti-to-revoke');
    const bad = await adminFetch('/admin/token-revocations', { method: 'POST', body: JSON.stringify({}) });
    expect(bad.status).toBe(400);
  });

  it('prunes the revocations of tokens expired beyond the leeway when it revokes another', async () => {
    const db = app.app.get(DataSource);
    const jtis = ['prune-old', 'prune-recent', 'prune-unknown', 'prune-fresh'];
    // Expired an hour ago (prunable); 10 s ago (still within leeway + margin); expiry unknown (kept forever).
    await db.query(
      `INSERT INTO revoked_token (jti, expires_at) VALUES
         ('prune-old', now() - interval '1 hour'), ('prune-recent', now() - interval '10 seconds'),
         ('prune-unknown', NULL)`,
    );
    const res = await adminFetch('/admin/token-revocations', {
      method: 'POST',
      body: JSON.stringify({ jti: 'prune-fresh', expiresAt: new Date(Date.now() + 3_600_000).toISOString() }),
    });
    expect(res.status).toBe(201);
    const left = await db.query<{ jti: string }[]>(
      `SELECT jti FROM revoked_token WHERE jti = ANY($1) ORDER BY jti`,
      [jtis],
    );
    expect(left.map((r) => r.jti)).toEqual(['prune-fresh', 'prune-recent', 'prune-unknown']);
  });

  it('lists the tool catalog and serves the OpenAPI description', async () => {
    const tools = (await (await adminFetch('/admin/tools')).json()) as { name: string; scope: string }[];
    expect(tools).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'echo', scope: 'tool:echo' })]),
    );
    const openApi = (await (await fetch(`${app.baseUrl}/docs`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openApi.paths)).toEqual(expect.arrayContaining(['/admin/grants', '/admin/tools']));
  });
});
