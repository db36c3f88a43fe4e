import { randomBytes } from 'node:crypto';
import type { AuditEventView } from '../../src/audit/audit-query.service.js';
import { startApp, type TestApp } from '../utils/app.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../utils/database.js';
import { TestIdp } from '../utils/idp.js';
import {
  answerOf,
  connectLegacy,
  connectModern,
  MODERN_VERSION,
  onWire,
  spreadFetch,
  textOf,
} from '../utils/mcp-eras.js';

/**
 * Issue #16, three replicas on one PostgreSQL database and one Redis, no affinity. A 2026-07-28 client needs
 * none: an input-required call's retry is answered by another replica than the one that asked (the signed
 * `requestState` carries the flow), `subscriptions/listen` on one replica hears of a grant changed on another,
 * and a tampered or another agent's `requestState` is refused everywhere. A 2025 session is sticky to the replica
 * that opened it: once that replica is gone the client gets 404 and initializes again.
 *
 * PostgreSQL is a real server whatever the rest of the suite runs on: LISTEN/NOTIFY carries changes between
 * replicas, which the embedded database (one process) does not.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = randomBytes(4).toString('hex'); // Redis counters outlive a run: fresh agents every run
const ELICIT = 'test_input_required_result_elicitation';
const BASE_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const CAPABLE = { elicitation: { form: {} }, sampling: {} };

describe('three replicas, no affinity (PostgreSQL + Redis)', () => {
  const replicas: TestApp[] = [];
  let idp: TestIdp;
  let database: TestDatabase;
  let admin: Record<string, string>;

  beforeAll(async () => {
    idp = await TestIdp.start();
    database = await createTestDatabase(postgresUrl);
    const env = {
      DATABASE_URL: database.url!,
      MIGRATIONS_RUN: 'true',
      REDIS_URL,
      TOOL_PACKS: 'echo,conformance',
      // Replicas must share the requestState key (production requires it; the dev default is per DATA_DIR).
      MCP_REQUEST_STATE_KEY: `base64:${randomBytes(32).toString('base64')}`,
    };
    // One after the other: the first applies the migrations.
    for (let i = 0; i < 3; i++) replicas.push(await startApp({ idp, env }));
    admin = await replicas[0].bearer(`admin-${run}`, ['mcp:admin']);
  }, 180_000);

  afterAll(async () => {
    for (const replica of replicas) await replica.close();
    await idp?.close();
    await database?.drop();
  });

  const urls = () => replicas.map((r) => r.mcpUrl);

  /** An agent granted `tools`, and its bearer header (with the matching tool scopes). */
  async function agent(name: string, tools: string[]) {
    const id = `${name}-${run}`;
    for (const tool of tools) await replicas[0].grant(id, tool);
    return {
      id,
      headers: await replicas[0].bearer(
        id,
        tools.map((t) => `tool:${t}`),
      ),
    };
  }

  /** Raw 2026-07-28 POST of `request` to replica `i`; answers the JSON-RPC answer to its id. */
  async function postModern(
    i: number,
    headers: Record<string, string>,
    request: { id: number; method: string; params: Record<string, unknown> },
  ) {
    const wire = onWire('modern', request, { capabilities: CAPABLE });
    const res = await fetch(replicas[i].mcpUrl, {
      method: 'POST',
      headers: { ...BASE_HEADERS, ...wire.headers, ...headers },
      body: JSON.stringify(wire.body),
    });
    return { status: res.status, ...answerOf(res.headers.get('content-type'), await res.text(), request.id) };
  }

  const callElicit = (id: number, extra: Record<string, unknown> = {}) => ({
    id,
    method: 'tools/call',
    params: { name: ELICIT, arguments: {}, ...extra },
  });
  const NAME_ANSWER = { user_name: { action: 'accept', content: { name: 'Grace' } } };

  async function auditOf(agentId: string, tool: string): Promise<AuditEventView[]> {
    const res = await fetch(
      `${replicas[2].baseUrl}/admin/audit?agent=${encodeURIComponent(agentId)}&tool=${tool}`,
      { headers: admin },
    );
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: AuditEventView[] }).items.reverse();
  }

  it('answers an input-required retry on another replica than the one that asked (SDK v2 client, round-robin)', async () => {
    const { id, headers } = await agent('rr', [ELICIT]);
    const spread = spreadFetch(urls());
    const client = await connectModern(replicas[0].mcpUrl, { headers, fetch: spread.fetch });
    try {
      spread.sent.length = 0;
      const result = await client.callTool(ELICIT);
      expect(textOf(result)).toBe('Hello, Ada!');
      expect(client.asked).toEqual(['What is your name?']);
      // Two POSTs of the call, no session anywhere: the first asked, the retry (answers + state) was answered on
      // another replica.
      const calls = spread.sent.filter((s) => s.method === 'tools/call');
      expect(calls.map((s) => s.retry)).toEqual([false, true]);
      expect(calls[1].target).not.toBe(calls[0].target);
      expect(spread.sent.every((s) => s.session === null && s.http === 'POST')).toBe(true);
    } finally {
      await client.close();
    }
    const rows = await auditOf(id, ELICIT);
    expect(rows.map((r) => r.outcome)).toEqual(['input_required', 'success']);
    expect(rows[0].flowId).toMatch(/^[0-9a-f-]{36}$/);
    expect(rows[1].flowId).toBe(rows[0].flowId);
    expect(rows.map((r) => r.protocolVersion)).toEqual([MODERN_VERSION, MODERN_VERSION]);
  });

  it('answers a retry sent explicitly to each other replica (raw HTTP: round 1 on A, round 2 on B and C)', async () => {
    const { headers } = await agent('raw', [ELICIT]);
    const asked = await postModern(0, headers, callElicit(1));
    expect(asked.result).toMatchObject({
      resultType: 'input_required',
      inputRequests: { user_name: { method: 'elicitation/create' } },
      requestState: expect.any(String),
    });
    const requestState = asked.result!.requestState as string;
    for (const i of [1, 2]) {
      const answered = await postModern(
        i,
        headers,
        callElicit(2, { inputResponses: NAME_ANSWER, requestState }),
      );
      expect(answered.error).toBeUndefined();
      expect(answered.result).toMatchObject({
        resultType: 'complete',
        content: [{ type: 'text', text: 'Hello, Grace!' }],
      });
    }
  });

  it('refuses a tampered requestState and another agent’s, on every replica (-32602 REQUEST_STATE_INVALID)', async () => {
    const owner = await agent('owner', [ELICIT]);
    const thief = await agent('thief', [ELICIT]);
    const asked = await postModern(0, owner.headers, callElicit(1));
    const requestState = asked.result!.requestState as string;
    const [payload, signature] = requestState.split('.');
    const tampered = [
      // One character of the signature changed.
      `${payload}.${signature.slice(0, -2)}${signature.at(-2) === 'A' ? 'B' : 'A'}${signature.at(-1)}`,
      // The payload re-encoded with a later expiry, the signature kept.
      `${reencode(payload, (claims) => ({ ...claims, exp: Number(claims.exp) + 3600 }))}.${signature}`,
      'not-a-state',
    ];
    for (const [i, state] of tampered.entries()) {
      const refused = await postModern(
        i % 3,
        owner.headers,
        callElicit(2, { inputResponses: NAME_ANSWER, requestState: state }),
      );
      expectStateRefused(refused);
    }
    // The owner's genuine state, presented by another agent (who may call the same tool), on each replica.
    for (const i of [0, 1, 2]) {
      const stolen = await postModern(
        i,
        thief.headers,
        callElicit(3, { inputResponses: NAME_ANSWER, requestState }),
      );
      expectStateRefused(stolen);
    }
    // And the genuine state still works for its owner.
    const answered = await postModern(
      1,
      owner.headers,
      callElicit(4, { inputResponses: NAME_ANSWER, requestState }),
    );
    expect(answered.result).toMatchObject({ content: [{ text: 'Hello, Grace!' }] });
  });

  it('delivers a tools list_changed on a listen stream held by replica A for a grant made through replica B', async () => {
    const listener = await agent('listener', ['echo']);
    const bystander = await agent('bystander', ['echo']);
    const onA = spreadFetch(urls(), () => 0);
    const onC = spreadFetch(urls(), () => 2);
    const client = await connectModern(replicas[0].mcpUrl, { headers: listener.headers, fetch: onA.fetch });
    const other = await connectModern(replicas[0].mcpUrl, { headers: bystander.headers, fetch: onC.fetch });
    const heard: string[] = [];
    const otherHeard: string[] = [];
    client.sdk.setNotificationHandler('notifications/tools/list_changed', () => void heard.push('tools'));
    other.sdk.setNotificationHandler('notifications/tools/list_changed', () => void otherHeard.push('tools'));
    try {
      const subscription = await client.sdk.listen({ toolsListChanged: true });
      const otherSubscription = await other.sdk.listen({ toolsListChanged: true });
      expect(subscription.honoredFilter).toMatchObject({ toolsListChanged: true });
      expect(await client.listTools()).toEqual(['echo']);

      // An admin grants the listener another tool through replica B.
      const res = await fetch(`${replicas[1].baseUrl}/admin/grants`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ agentId: listener.id, toolName: ELICIT }),
      });
      expect(res.status).toBe(201);
      await until(() => heard.length > 0);
      expect(heard).toEqual(['tools']);
      expect(onA.sent.every((s) => s.target === 0)).toBe(true);
      // The new list (scopes permitting) is what the agent sees now; the bystander heard nothing of it.
      const widened = await connectModern(replicas[0].mcpUrl, {
        headers: await replicas[0].bearer(listener.id, ['tool:echo', `tool:${ELICIT}`]),
      });
      expect((await widened.listTools()).sort()).toEqual([ELICIT, 'echo'].sort());
      await widened.close();
      await new Promise((r) => setTimeout(r, 500));
      expect(otherHeard).toEqual([]);
      await subscription.close();
      await otherSubscription.close();
    } finally {
      await client.close();
      await other.close();
    }
  });

  it('a 2025 session whose replica is gone: 404, and the client recovers by initializing again', async () => {
    const { headers } = await agent('sticky', ['echo']);
    // An ingress with sticky sessions: the session's requests go to replica `at`, which the test moves when the
    // replica goes away (replica 2 here, the last test to use it).
    let at = 2;
    const ingress = spreadFetch(urls(), () => at);
    const client = await connectLegacy(replicas[2].mcpUrl, { headers, fetch: ingress.fetch });
    expect((await client.callTool('echo', { text: 'before' })).structuredContent).toEqual({ text: 'before' });
    const session = ingress.sent.at(-1)!.session;
    expect(session).toEqual(expect.any(String));

    await replicas[2].stop();
    at = 1;
    await expect(client.callTool('echo', { text: 'after' })).rejects.toThrow(/404|not found/i);
    const again = await connectLegacy(replicas[0].mcpUrl, { headers, fetch: ingress.fetch });
    try {
      expect((await again.callTool('echo', { text: 'again' })).structuredContent).toEqual({ text: 'again' });
      const renewed = ingress.sent.at(-1)!.session;
      expect(renewed).toEqual(expect.any(String));
      expect(renewed).not.toBe(session);
    } finally {
      await again.close();
      await client.close().catch(() => undefined);
    }
  });
});

function expectStateRefused(answer: {
  status: number;
  error?: { code: number; data?: Record<string, unknown> };
}) {
  expect(answer.error).toMatchObject({ code: -32602, data: { code: 'REQUEST_STATE_INVALID' } });
}

/** A base64url JSON segment with `change` applied to its claims. */
function reencode(
  segment: string,
  change: (claims: Record<string, unknown>) => Record<string, unknown>,
): string {
  const claims = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;
  return Buffer.from(JSON.stringify(change(claims))).toString('base64url');
}

async function until(done: () => boolean, ms = 10_000): Promise<void> {
  for (let waited = 0; !done() && waited < ms; waited += 50) await new Promise((r) => setTimeout(r, 50));
}
