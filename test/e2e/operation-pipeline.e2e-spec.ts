import { jest } from '@jest/globals';
import type { AuditEventView } from '../../src/audit/audit-query.service.js';
import { DomainError } from '../../src/common/domain-error.js';
import { PromptRegistry } from '../../src/tools/prompt-registry.service.js';
import { ResourceRegistry } from '../../src/tools/resource-registry.service.js';
import { ToolRegistry } from '../../src/tools/tool-registry.service.js';
import { startApp } from '../utils/app.js';
import { rpc, type RpcAnswer } from '../utils/breaker-http.js';
import { databaseKind } from '../utils/database.js';

type App = Awaited<ReturnType<typeof startApp>>;

/**
 * Every kind of operation takes the one pipeline: a tool call, a resource read, a prompt get and a completion are
 * audited with the same columns, refused by the rate limit with the same answer, and their errors mapped by the
 * same code. Each scenario uses agents of its own: the per-agent limit is one call a minute.
 */
interface Kind {
  kind: string;
  /** The grant key and scope the operation needs. */
  key: string;
  method: string;
  params: Record<string, unknown>;
}

const KINDS: Kind[] = [
  { kind: 'tool', key: 'echo', method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } },
  {
    kind: 'resource',
    key: 'resource:test_static_text',
    method: 'resources/read',
    params: { uri: 'test://static-text' },
  },
  {
    kind: 'prompt',
    key: 'prompt:test_simple_prompt',
    method: 'prompts/get',
    params: { name: 'test_simple_prompt' },
  },
  {
    kind: 'completion',
    key: 'prompt:test_prompt_with_arguments',
    method: 'completion/complete',
    params: {
      ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' },
      argument: { name: 'arg1', value: '' },
    },
  },
];

const scopeOf = (key: string) => (key.includes(':') ? key : `tool:${key}`);

describe(`one operation pipeline for tools, resources, prompts and completions (${databaseKind})`, () => {
  let app: App;
  let admin: Record<string, string>;

  beforeAll(async () => {
    app = await startApp({ env: { TOOL_PACKS: 'echo,conformance', RATE_LIMIT_AGENT_PER_MINUTE: '1' } });
    admin = await app.bearer('auditor', ['mcp:admin']);
  });
  afterAll(() => app.close());

  async function call(agent: string, kind: Kind, requestId: string, grant = true): Promise<RpcAnswer> {
    if (grant) await app.grant(agent, kind.key);
    const auth = { ...(await app.bearer(agent, [scopeOf(kind.key)])), 'x-request-id': requestId };
    return rpc(app, auth, kind.method, kind.params);
  }

  async function rowOf(requestId: string): Promise<AuditEventView> {
    const res = await fetch(`${app.baseUrl}/admin/audit?limit=500`, { headers: admin });
    const rows = ((await res.json()) as { items: AuditEventView[] }).items.filter(
      (r) => r.requestId === requestId,
    );
    expect(rows).toHaveLength(1);
    return rows[0];
  }

  /** The columns a row fills. Only tools have versions. */
  const columnsOf = (row: AuditEventView) =>
    Object.entries(row)
      .filter(([column, value]) => value !== null && value !== undefined && column !== 'toolVersion')
      .map(([column]) => column)
      .sort();

  it('audits a success of every kind with the same columns', async () => {
    const rows = [];
    for (const kind of KINDS) {
      const answer = await call(`ok-${kind.kind}`, kind, `ok-${kind.kind}`);
      expect(answer.body?.result).toBeDefined();
      expect(answer.body?.result?.isError).toBeFalsy();
      rows.push(await rowOf(`ok-${kind.kind}`));
    }
    for (const row of rows) {
      expect(row).toMatchObject({ kind: 'tool_call', outcome: 'success' });
      expect(row.paramsSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(row.resultBytes).toBeGreaterThan(0);
      expect(columnsOf(row)).toEqual(columnsOf(rows[0]));
    }
    expect(rows.map((r) => r.toolName)).toEqual(KINDS.map((k) => k.key));
  });

  it('denies every kind without a grant with the same error and the same audit columns', async () => {
    const rows = [];
    for (const kind of KINDS) {
      const answer = await call(`no-${kind.kind}`, kind, `no-${kind.kind}`, false);
      expect(answer.body?.error).toMatchObject({ code: -32003, data: { code: 'GRANT_DENIED' } });
      rows.push(await rowOf(`no-${kind.kind}`));
    }
    for (const row of rows) {
      expect(row).toMatchObject({ kind: 'tool_call', outcome: 'denied_grant', errorCode: 'GRANT_DENIED' });
      expect(columnsOf(row)).toEqual(columnsOf(rows[0]));
    }
  });

  it('refuses every kind over the per-agent limit with the same 429 answer and audit columns', async () => {
    const answers: RpcAnswer[] = [];
    const rows = [];
    for (const kind of KINDS) {
      const agent = `rl-${kind.kind}`;
      expect((await call(agent, kind, `rl-first-${kind.kind}`)).status).toBe(200);
      answers.push(await call(agent, kind, `rl-${kind.kind}`));
      rows.push(await rowOf(`rl-${kind.kind}`));
    }
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(429);
      expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(answer.body?.error).toMatchObject({
        code: answers[0].body!.error!.code,
        data: { code: 'RATE_LIMITED', limit: 'agent', perMinute: 1 },
      });
      expect(rows[i]).toMatchObject({ kind: 'denied', outcome: 'rate_limited', errorCode: 'RATE_LIMITED' });
      expect(columnsOf(rows[i])).toEqual(columnsOf(rows[0]));
    }
  });

  it('maps a handler error the same way for every kind', async () => {
    const handlers = [
      app.app.get(ToolRegistry).get('echo')!,
      app.app.get(ResourceRegistry).resolve('test://static-text')!.resource,
      app.app.get(PromptRegistry).get('test_simple_prompt')!,
    ] as unknown as { handler: () => Promise<unknown> }[];
    const kinds = KINDS.slice(0, 3);
    // A protocol error (here a refused request state) is the same JSON-RPC error from every handler.
    const refused = new DomainError('REQUEST_STATE_INVALID', 'bad state');
    const spies = handlers.map((h) => jest.spyOn(h, 'handler').mockRejectedValue(refused));
    try {
      for (const kind of kinds) {
        const answer = await call(`err-${kind.kind}`, kind, `err-${kind.kind}`);
        expect(answer.body?.error).toEqual({
          code: -32602,
          message: 'bad state',
          data: { code: 'REQUEST_STATE_INVALID' },
        });
        expect(await rowOf(`err-${kind.kind}`)).toMatchObject({
          outcome: 'invalid_arguments',
          errorCode: 'REQUEST_STATE_INVALID',
        });
      }
      // A crash: the tool answers its generic error result, a resource or prompt the generic JSON-RPC error.
      for (const spy of spies) spy.mockRejectedValue(new Error('secret detail'));
      const crashes = [];
      for (const kind of kinds) crashes.push(await call(`crash-${kind.kind}`, kind, `crash-${kind.kind}`));
      expect(crashes[0].body?.result).toMatchObject({
        isError: true,
        _meta: { 'mcp-production/error-code': 'TOOL_FAILED' },
      });
      for (const crash of crashes.slice(1))
        expect(crash.body?.error).toEqual({ code: -32603, message: 'Internal error' });
      for (const kind of kinds) expect(await rowOf(`crash-${kind.kind}`)).toMatchObject({ outcome: 'error' });
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
