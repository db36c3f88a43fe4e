import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { AuditEventView } from '../../src/audit/audit-query.service.js';
import { startApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

/**
 * Issue #15, class 3 (and the class-9 admin items), black-box over HTTP: every call and every admin action leaves
 * its audit row, whatever the input; inputs that can never be stored are refused before anything is stored; an
 * admin action and its row commit together, and the answer names the row.
 */
type App = Awaited<ReturnType<typeof startApp>>;
/** A JSON-RPC answer, as much of it as these tests read. */
interface Answer {
  id?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** `{"a":{"a":…1…}}`, nested `levels` deep, written exactly as JSON.stringify would. */
const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

describe(`audit hardening: no call or admin action without its row (${databaseKind})`, () => {
  let app: App;
  let admin: Record<string, string>;
  let db: DataSource;

  beforeAll(async () => {
    // Raw arguments on: the hardest case for the audit row (the arguments themselves go into jsonb).
    app = await startApp({ env: { AUDIT_RAW_ARGUMENTS: 'true' } });
    admin = { ...(await app.bearer('hardening-ops', ['mcp:admin'])), 'content-type': 'application/json' };
    db = app.app.get(DataSource);
    await app.grant('deep', 'echo');
    await app.grant('text', 'echo');
  });
  afterAll(() => app.close());

  /** POSTs a raw JSON-RPC body (a string, so it can hold escapes JSON.stringify would never write). */
  async function rpc(agent: string, scopes: string[], body: string, requestId: string) {
    const res = await fetch(app.mcpUrl, {
      method: 'POST',
      headers: {
        ...(await app.bearer(agent, scopes)),
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'x-request-id': requestId,
      },
      body,
    });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as Answer };
  }
  const call = (name: string, argumentsJson: string) =>
    `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"${name}","arguments":${argumentsJson}}}`;

  const adminFetch = (path: string, init: RequestInit = {}) =>
    fetch(`${app.baseUrl}${path}`, { ...init, headers: { ...admin, ...(init.headers as object) } });

  async function rowsOf(requestId: string): Promise<AuditEventView[]> {
    const res = await adminFetch(`/admin/audit?limit=500&kind=tool_call`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: AuditEventView[] }).items.filter((r) => r.requestId === requestId);
  }

  describe('deeply nested arguments', () => {
    it('refuses 5,000 levels with JSON-RPC -32602 before the tool runs, and audits the refusal', async () => {
      const args = nested(5000);
      const { status, body } = await rpc('deep', ['tool:echo'], call('echo', args), 'deep-5000');
      expect(status).toBe(200);
      expect(body).toMatchObject({
        jsonrpc: '2.0',
        id: 7,
        error: { code: -32602, data: { code: 'ARGUMENTS_TOO_DEEP', maxDepth: 64 } },
      });
      expect(await rowsOf('deep-5000')).toEqual([
        expect.objectContaining({
          agentId: 'deep',
          toolName: 'echo',
          outcome: 'invalid_arguments',
          errorCode: 'ARGUMENTS_TOO_DEEP',
          paramBytes: Buffer.byteLength(args),
          paramsSha256: sha256(args),
        }),
      ]);
    });

    it('refuses them before the grant check too (an agent without a grant), audited', async () => {
      const { body } = await rpc('no-grant', ['tool:echo'], call('echo', nested(5000)), 'deep-ungranted');
      expect(body.error).toMatchObject({ code: -32602, data: { code: 'ARGUMENTS_TOO_DEEP' } });
      expect(await rowsOf('deep-ungranted')).toEqual([
        expect.objectContaining({ agentId: 'no-grant', errorCode: 'ARGUMENTS_TOO_DEEP' }),
      ]);
    });

    it('accepts 64 levels (the documented maximum) and refuses 65', async () => {
      const at = (levels: number) => `{"text":"ok","extra":${nested(levels - 1)}}`;
      const ok = await rpc('deep', ['tool:echo'], call('echo', at(64)), 'deep-64');
      expect(ok.body.result).toMatchObject({ structuredContent: { text: 'ok' } });
      const refused = await rpc('deep', ['tool:echo'], call('echo', at(65)), 'deep-65');
      expect(refused.body.error).toMatchObject({ code: -32602, data: { code: 'ARGUMENTS_TOO_DEEP' } });
      expect((await rowsOf('deep-64'))[0]).toMatchObject({ outcome: 'success' });
      expect((await rowsOf('deep-65'))[0]).toMatchObject({ outcome: 'invalid_arguments' });
    });
  });

  describe('text PostgreSQL refuses (NUL, unpaired surrogates)', () => {
    it('still audits calls whose raw arguments hold them, with U+FFFD in their place', async () => {
      const { body } = await rpc(
        'text',
        ['tool:echo'],
        call('echo', '{"text":"a\\ud800b\\u0000c\\udc00d","k\\u0000":"\\udbff"}'),
        'text-unstorable',
      );
      // Whatever the tool answers, it is not refused for want of an audit row.
      expect(JSON.stringify(body)).not.toContain('AUDIT_UNAVAILABLE');
      const [row] = await rowsOf('text-unstorable');
      expect(row).toMatchObject({ agentId: 'text', toolName: 'echo' });
      expect(row.detail).toEqual({ arguments: { text: 'a\uFFFDb\uFFFDc\uFFFDd', 'k\uFFFD': '\uFFFD' } });
    });

    async function counts() {
      const [row] = await db.query<{ grants: number; revoked: number; switches: number; admin: number }[]>(
        `SELECT (SELECT count(*)::int FROM permission_grant) AS grants,
                (SELECT count(*)::int FROM revoked_token) AS revoked,
                (SELECT count(*)::int FROM tool_switch) AS switches,
                (SELECT count(*)::int FROM audit_event WHERE kind = 'admin') AS admin`,
      );
      return row;
    }

    it.each([
      ['/admin/grants', '{"agentId":"a\\u0000b","toolName":"echo"}', 'agentId'],
      ['/admin/grants', '{"agentId":"a\\ud800","toolName":"echo"}', 'agentId'],
      ['/admin/grants', '{"agentId":"x","toolName":"echo\\u0000"}', 'toolName'],
      ['/admin/token-revocations', '{"jti":"j\\udc00"}', 'jti'],
      ['/admin/token-revocations', '{"jti":"j-nul","reason":"r\\u0000"}', 'reason'],
      ['/admin/tools/echo/disable', '{"reason":"\\ud800 why"}', 'reason'],
    ])('refuses POST %s %s with 400 INVALID_REQUEST before storing anything', async (path, body, field) => {
      const before = await counts();
      const res = await adminFetch(path, { method: 'POST', body });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({
        code: 'INVALID_REQUEST',
        message: expect.stringContaining(field),
      });
      expect(await counts()).toEqual(before);
    });

    it.each([
      '/admin/grants?agentId=a%00b',
      '/admin/grants?toolName=%00',
      '/admin/audit?agent=a%00',
      '/admin/audit?outcome=%00',
      '/admin/audit/export?tool=x%00',
    ])('answers GET %s with 400 INVALID_REQUEST (not 500), storing nothing', async (path) => {
      const before = await counts();
      const res = await adminFetch(path);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'INVALID_REQUEST' });
      expect(await counts()).toEqual(before);
    });

    it('never answers 5xx for an undecodable query parameter', async () => {
      expect((await adminFetch('/admin/grants?agentId=%ED%A0%80')).status).toBeLessThan(500);
      expect((await adminFetch('/admin/audit?agent=%ED%A0%80')).status).toBeLessThan(500);
    });
  });

  describe('one limit for agent ids (grants and tokens)', () => {
    it('accepts a 255-character agent id in a grant and refuses 256', async () => {
      const grant = (agentId: string) =>
        adminFetch('/admin/grants', { method: 'POST', body: JSON.stringify({ agentId, toolName: 'echo' }) });
      expect((await grant('a'.repeat(255))).status).toBe(201);
      const long = await grant('a'.repeat(256));
      expect(long.status).toBe(400);
      expect(await long.json()).toMatchObject({
        code: 'INVALID_REQUEST',
        message: expect.stringContaining('agentId'),
      });
    });
  });

  describe('an admin action and its audit row commit together', () => {
    async function auditRow(id: string) {
      const rows = await db.query<{ kind: string; outcome: string; agent_id: string; detail: unknown }[]>(
        `SELECT kind, outcome, agent_id, detail FROM audit_event WHERE id = $1`,
        [id],
      );
      return rows[0];
    }

    it('answers every action with the id of its audit row', async () => {
      const created = await adminFetch('/admin/grants', {
        method: 'POST',
        body: JSON.stringify({ agentId: 'audited-agent', toolName: 'echo' }),
      });
      expect(created.status).toBe(201);
      const grant = (await created.json()) as { id: string; auditId: string };
      expect(grant.auditId).toMatch(/^\d+$/);
      expect(created.headers.get('audit-id')).toBe(grant.auditId);
      expect(await auditRow(grant.auditId)).toMatchObject({
        kind: 'admin',
        outcome: 'grant.create',
        agent_id: 'hardening-ops',
        detail: expect.objectContaining({ grantId: grant.id }),
      });

      const revoked = await adminFetch(`/admin/grants/${grant.id}`, { method: 'DELETE' });
      expect(revoked.status).toBe(204);
      expect(await auditRow(revoked.headers.get('audit-id')!)).toMatchObject({
        outcome: 'grant.revoke',
        detail: { grantId: grant.id },
      });

      const token = await adminFetch('/admin/token-revocations', {
        method: 'POST',
        body: JSON.stringify({ jti: 'audited-jti', reason: 'test' }),
      });
      expect(token.status).toBe(201);
      const entry = (await token.json()) as { jti: string; auditId: string };
      expect(entry).toMatchObject({ jti: 'audited-jti', auditId: expect.stringMatching(/^\d+$/) });
      expect(await auditRow(entry.auditId)).toMatchObject({ outcome: 'token.revoke' });

      for (const action of ['disable', 'enable'] as const) {
        const res = await adminFetch(`/admin/tools/counter.increment/${action}`, {
          method: 'POST',
          body: '{}',
        });
        expect(res.status).toBe(200);
        const answer = (await res.json()) as { auditId: string };
        expect(await auditRow(answer.auditId)).toMatchObject({ outcome: `tool.${action}` });
      }
    });

    it('documents the audit row id of every action in the OpenAPI description', async () => {
      type Responses = Record<string, { headers?: object; content?: Record<string, { schema: object }> }>;
      const doc = (await (await fetch(`${app.baseUrl}/docs`)).json()) as {
        paths: Record<string, Record<string, { responses: Responses }>>;
      };
      const actions = [
        ['/admin/grants', 'post', '201'],
        ['/admin/grants/{id}', 'delete', '204'],
        ['/admin/token-revocations', 'post', '201'],
        ['/admin/tools/{name}/disable', 'post', '200'],
        ['/admin/tools/{name}/enable', 'post', '200'],
      ];
      for (const [path, method, status] of actions) {
        const response = doc.paths[path][method].responses[status];
        expect(response.headers).toHaveProperty('Audit-Id');
        if (status !== '204')
          expect(response.content?.['application/json'].schema).toMatchObject({
            properties: { auditId: expect.any(Object) },
          });
      }
    });

    it('stores no action whose audit row cannot be written (one transaction), and says so with 503', async () => {
      // This database refuses audit rows of one admin: the action must then not happen either.
      await db.query(
        `ALTER TABLE audit_event ADD CONSTRAINT hardening_refuse_evil CHECK (agent_id IS DISTINCT FROM 'evil-ops') NOT VALID`,
      );
      try {
        const evil = { ...(await app.bearer('evil-ops', ['mcp:admin'])), 'content-type': 'application/json' };
        const post = (path: string, body: object) =>
          fetch(`${app.baseUrl}${path}`, { method: 'POST', headers: evil, body: JSON.stringify(body) });
        expect(await counts()).toEqual({ grants: 0, revoked: 0, switches: 0 });
        const answers = [
          await post('/admin/grants', { agentId: 'evil-target', toolName: 'echo' }),
          await post('/admin/token-revocations', { jti: 'evil-jti' }),
          await post('/admin/tools/echo/disable', { reason: 'evil' }),
        ];
        expect(answers.map((a) => a.status)).toEqual([503, 503, 503]);
        for (const answer of answers)
          expect(await answer.json()).toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
        expect(await counts()).toEqual({ grants: 0, revoked: 0, switches: 0 });
      } finally {
        await db.query(`ALTER TABLE audit_event DROP CONSTRAINT hardening_refuse_evil`);
      }
    });

    /** What the refused admin could have stored. */
    async function counts() {
      const [row] = await db.query<{ grants: number; revoked: number; switches: number }[]>(
        `SELECT (SELECT count(*)::int FROM permission_grant WHERE granted_by = 'evil-ops') AS grants,
                (SELECT count(*)::int FROM revoked_token WHERE jti = 'evil-jti') AS revoked,
                (SELECT count(*)::int FROM tool_switch WHERE disabled_by = 'evil-ops') AS switches`,
      );
      return row;
    }
  });
});
