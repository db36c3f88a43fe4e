import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  type LoggingMessageNotification,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { PermissionsService } from '../../src/permissions/permissions.service.js';
import { ResourceSubscriptions } from '../../src/tools/resource-subscriptions.service.js';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { toolError } from '../utils/mcp-client.js';

/**
 * Resources, prompts, completions, progress, logging, subscriptions, elicitation and sampling through the real SDK
 * client, with the `conformance` pack's fixtures (the ones the official conformance suite uses).
 */
const PACKS = { TOOL_PACKS: 'echo,conformance' };
const ALICE = 'alice';
const ALICE_SCOPES = [
  'resource:test_static_text',
  'resource:test_static_binary', // in scope but never granted
  'resource:test_template',
  'resource:test_watched_resource',
  'prompt:test_simple_prompt',
  'prompt:test_prompt_with_arguments',
  'prompt:test_prompt_with_image', // in scope but never granted
  'tool:test_tool_with_progress',
  'tool:test_tool_with_logging',
  'tool:test_reconnection',
  'tool:test_elicitation',
  'tool:test_sampling',
  'tool:json_schema_2020_12_tool',
];
const ALICE_GRANTS = [
  'resource:test_static_text',
  'resource:test_template',
  'resource:test_watched_resource',
  'resource:test_simple_text', // a grant without the scope shows nothing
  'prompt:test_simple_prompt',
  'prompt:test_prompt_with_arguments',
  'test_tool_with_progress',
  'test_tool_with_logging',
  'test_reconnection',
  'test_elicitation',
  'test_sampling',
  'json_schema_2020_12_tool',
];

async function grantAlice(app: TestApp): Promise<void> {
  for (const key of ALICE_GRANTS) await app.grant(ALICE, key);
}

/** An SDK client that declares elicitation and sampling, and answers them like a user and an LLM would. */
async function connect(app: TestApp, scopes: string[], agent = ALICE): Promise<Client> {
  const client = new Client(
    { name: 'protocol-e2e', version: '1.0.0' },
    { capabilities: { elicitation: {}, sampling: {} } },
  );
  client.setRequestHandler(ElicitRequestSchema, (request) => ({
    action: 'accept',
    content: { username: 'ada', email: `ada@example.com (asked: ${request.params.message})` },
  }));
  client.setRequestHandler(CreateMessageRequestSchema, (request) => {
    const content = request.params.messages[0].content;
    return {
      role: 'assistant',
      model: 'test-model',
      content: { type: 'text', text: `echo of ${'text' in content ? content.text : '?'}` },
    };
  });
  const headers = await app.bearer(agent, scopes);
  await client.connect(new StreamableHTTPClientTransport(app.mcpUrl, { requestInit: { headers } }));
  return client;
}

const textOf = (result: unknown) => (result as { content: { type: string; text: string }[] }).content[0].text;

describe(`MCP resources, prompts and completions, stateless (${databaseKind})`, () => {
  let app: TestApp;
  let alice: Client;
  let nobody: Client;
  beforeAll(async () => {
    app = await startApp({ env: PACKS });
    await grantAlice(app);
    alice = await connect(app, ALICE_SCOPES);
    nobody = await connect(app, [], 'nobody');
  });
  afterAll(async () => {
    await alice?.close();
    await nobody?.close();
    await app?.close();
  });

  it('declares the resources, prompts, completions and logging capabilities', () => {
    expect(alice.getServerCapabilities()).toMatchObject({
      resources: { subscribe: true },
      prompts: {},
      completions: {},
      logging: {},
    });
  });

  it('advertises resource and prompt scopes in the protected-resource metadata, and grants them by admin API', async () => {
    const doc = (await (await fetch(`${app.baseUrl}/.well-known/oauth-protected-resource/mcp`)).json()) as {
      scopes_supported: string[];
    };
    expect(doc.scopes_supported).toEqual(
      expect.arrayContaining([
        'resource:test_static_text',
        'resource:test_template',
        'prompt:test_simple_prompt',
      ]),
    );
    const admin = { ...(await app.bearer('ops', ['mcp:admin'])), 'content-type': 'application/json' };
    const grant = (toolName: string) =>
      fetch(`${app.baseUrl}/admin/grants`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ agentId: 'x', toolName }),
      });
    expect((await grant('resource:test_static_text')).status).toBe(201);
    expect((await grant('prompt:test_simple_prompt')).status).toBe(201);
    expect((await grant('prompt:no_such_prompt')).status).toBe(400);
  });

  it('lists only the resources and templates the agent holds a scope and a grant for', async () => {
    const { resources } = await alice.listResources();
    expect(resources.map((r) => r.uri).sort()).toEqual(['test://static-text', 'test://watched-resource']);
    expect(resources.find((r) => r.uri === 'test://static-text')).toEqual({
      uri: 'test://static-text',
      name: 'test_static_text',
      description: 'A static text resource',
      mimeType: 'text/plain',
    });
    const { resourceTemplates } = await alice.listResourceTemplates();
    expect(resourceTemplates).toEqual([
      expect.objectContaining({ uriTemplate: 'test://template/{id}/data', name: 'test_template' }),
    ]);

    expect((await nobody.listResources()).resources).toEqual([]);
    expect((await nobody.listResourceTemplates()).resourceTemplates).toEqual([]);
  });

  it('reads fixed and templated resources', async () => {
    expect(await alice.readResource({ uri: 'test://static-text' })).toEqual({
      contents: [
        {
          uri: 'test://static-text',
          mimeType: 'text/plain',
          text: 'This is the content of the static text resource.',
        },
      ],
    });
    const { contents } = await alice.readResource({ uri: 'test://template/42/data' });
    expect(contents).toEqual([
      { uri: 'test://template/42/data', mimeType: 'application/json', text: expect.any(String) },
    ]);
    expect(JSON.parse((contents[0] as { text: string }).text)).toEqual({
      id: '42',
      templateTest: true,
      data: 'Data for ID: 42',
    });
  });

  it('refuses reads without a grant, without a scope, and of unknown URIs', async () => {
    await expect(alice.readResource({ uri: 'test://static-binary' })).rejects.toMatchObject({
      code: -32003,
      data: { code: 'GRANT_DENIED' },
    });
    await expect(nobody.readResource({ uri: 'test://static-text' })).rejects.toMatchObject({
      code: -32003,
      data: { code: 'INSUFFICIENT_SCOPE', scope: 'resource:test_static_text' },
    });
    // -32602 on every revision: 2026-07-28 makes it a MUST (the SDK maps the older -32002 to it).
    await expect(alice.readResource({ uri: 'test://no-such-resource' })).rejects.toMatchObject({
      code: -32602,
    });
  });

  it('follows grants as they change: a revoked grant hides and denies at once', async () => {
    await app.grant(ALICE, 'resource:test_static_binary', { expiresAt: new Date(Date.now() + 60_000) });
    expect((await alice.listResources()).resources.map((r) => r.uri)).toContain('test://static-binary');
    const { contents } = await alice.readResource({ uri: 'test://static-binary' });
    expect(contents[0]).toMatchObject({ mimeType: 'image/png', blob: expect.stringMatching(/^iVBOR/) });

    const permissions = app.app.get(PermissionsService);
    for (const grant of await permissions.list({ agentId: ALICE, toolName: 'resource:test_static_binary' }))
      await permissions.revoke(grant.id, 'test');
    expect((await alice.listResources()).resources.map((r) => r.uri)).not.toContain('test://static-binary');
    await expect(alice.readResource({ uri: 'test://static-binary' })).rejects.toMatchObject({ code: -32003 });
  });

  it('lists and gets prompts under the same rules', async () => {
    const { prompts } = await alice.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual(['test_prompt_with_arguments', 'test_simple_prompt']);
    expect(prompts.find((p) => p.name === 'test_prompt_with_arguments')).toEqual({
      name: 'test_prompt_with_arguments',
      description: 'A prompt with two required arguments',
      arguments: [
        { name: 'arg1', description: 'First test argument', required: true },
        { name: 'arg2', description: 'Second test argument', required: true },
      ],
    });
    expect((await nobody.listPrompts()).prompts).toEqual([]);

    const got = await alice.getPrompt({
      name: 'test_prompt_with_arguments',
      arguments: { arg1: 'a', arg2: 'b' },
    });
    expect(got.messages).toEqual([
      { role: 'user', content: { type: 'text', text: "Prompt with arguments: arg1='a', arg2='b'" } },
    ]);
    await expect(
      alice.getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'a' } }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidParams, message: expect.stringContaining('arg2') });
    await expect(alice.getPrompt({ name: 'test_prompt_with_image' })).rejects.toMatchObject({
      code: -32003,
      data: { code: 'GRANT_DENIED' },
    });
    await expect(nobody.getPrompt({ name: 'test_simple_prompt' })).rejects.toMatchObject({
      code: -32003,
      data: { code: 'INSUFFICIENT_SCOPE' },
    });
    await expect(alice.getPrompt({ name: 'no_such_prompt' })).rejects.toMatchObject({
      code: ErrorCode.InvalidParams,
    });
  });

  it('audits every resource read and prompt get, denials and unknown names included, before answering', async () => {
    const agent = 'feature-auditor';
    await app.grant(agent, 'resource:test_static_text');
    await app.grant(agent, 'prompt:test_prompt_with_arguments');
    const client = await connect(
      app,
      ['resource:test_static_text', 'resource:test_static_binary', 'prompt:test_prompt_with_arguments'],
      agent,
    );
    try {
      await client.readResource({ uri: 'test://static-text' });
      await client.readResource({ uri: 'test://static-binary' }).catch(() => undefined); // no grant
      await client.readResource({ uri: 'test://template/7/data' }).catch(() => undefined); // no scope
      await client.readResource({ uri: 'test://no-such-resource' }).catch(() => undefined);
      await client.getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'a', arg2: 'b' } });
      await client
        .getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'a' } })
        .catch(() => undefined);
    } finally {
      await client.close();
    }
    const rows = await app.app.get(DataSource).query<Record<string, unknown>[]>(
      `SELECT kind, tool_name, outcome, error_code, param_bytes, params_sha256, result_bytes > 0 AS has_result
         FROM audit_event WHERE agent_id = $1 AND kind = 'tool_call' ORDER BY id`,
      [agent],
    );
    const sha = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex');
    expect(rows.map((r) => [r.tool_name, r.outcome, r.error_code])).toEqual([
      ['resource:test_static_text', 'success', null],
      ['resource:test_static_binary', 'denied_grant', 'GRANT_DENIED'],
      ['resource:test_template', 'denied_scope', 'INSUFFICIENT_SCOPE'],
      ['resource:test://no-such-resource', 'unknown_tool', 'NOT_FOUND'],
      ['prompt:test_prompt_with_arguments', 'success', null],
      ['prompt:test_prompt_with_arguments', 'invalid_arguments', 'INVALID_ARGUMENTS'],
    ]);
    expect(rows[0]).toMatchObject({ params_sha256: sha({ uri: 'test://static-text' }), has_result: true });
    expect(rows[1]).toMatchObject({ has_result: null });
    expect(rows[4]).toMatchObject({ params_sha256: sha({ arg1: 'a', arg2: 'b' }), param_bytes: 23 }); // {"arg1":"a","arg2":"b"}
  });

  it('completes prompt arguments and template variables for agents allowed to use them', async () => {
    const prompt = await alice.complete({
      ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' },
      argument: { name: 'arg1', value: 'pa' },
    });
    expect(prompt.completion).toEqual({ values: ['paris', 'park', 'party'], total: 3, hasMore: false });
    const template = await alice.complete({
      ref: { type: 'ref/resource', uri: 'test://template/{id}/data' },
      argument: { name: 'id', value: '4' },
    });
    expect(template.completion.values).toEqual(['456']);
    const none = await alice.complete({
      ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' },
      argument: { name: 'arg2', value: 'x' },
    });
    expect(none.completion.values).toEqual([]);
    await expect(
      nobody.complete({
        ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' },
        argument: { name: 'arg1', value: 'pa' },
      }),
    ).rejects.toMatchObject({ code: -32003 });
  });

  it('advertises a tool’s hand-written JSON Schema verbatim and still validates with its zod schema', async () => {
    const { tools } = await alice.listTools();
    expect(tools.find((t) => t.name === 'json_schema_2020_12_tool')?.inputSchema).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $defs: { address: { type: 'object' } },
      properties: { address: { $ref: '#/$defs/address' } },
      additionalProperties: false,
    });
    const ok = await alice.callTool({
      name: 'json_schema_2020_12_tool',
      arguments: { name: 'n', email: 'n@example.com' },
    });
    expect(ok.isError).toBeFalsy();
    const bad = await alice.callTool({ name: 'json_schema_2020_12_tool', arguments: { extra: 1 } });
    expect(toolError(bad).code).toBe('INVALID_ARGUMENTS');
  });

  it('streams progress notifications when the request carries a progress token', async () => {
    const seen: Progress[] = [];
    const result = await alice.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, {
      onprogress: (progress) => seen.push(progress),
    });
    expect(result.isError).toBeFalsy();
    expect(seen).toEqual([
      { progress: 0, total: 100 },
      { progress: 50, total: 100 },
      { progress: 100, total: 100 },
    ]);
  });

  it('answers a tool that ends its stream on the POST itself: without a session there is nothing to resume', async () => {
    const result = await alice.callTool({ name: 'test_reconnection', arguments: {} });
    expect(textOf(result)).toBe('Reconnection test completed');
  });

  it('answers elicitation and sampling without a session with a clear tool error (2025 clients need one)', async () => {
    const headers = {
      ...(await app.bearer(ALICE, ALICE_SCOPES)),
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
    };
    const call = async (name: string, args: object) => {
      const res = await fetch(app.mcpUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name, arguments: args },
        }),
      });
      expect(res.headers.get('mcp-session-id')).toBeNull();
      return ((await res.json()) as { result: { isError?: boolean } }).result;
    };
    const result = await call('test_elicitation', { message: 'who?' });
    expect(result.isError).toBe(true);
    expect(toolError(result)).toMatchObject({
      code: 'CLIENT_UNSUPPORTED',
      message: expect.stringContaining('initialize first'),
    });
    expect(toolError(await call('test_sampling', { prompt: 'hi' })).code).toBe('CLIENT_UNSUPPORTED');
  });
});

describe(`MCP logging, subscriptions, elicitation and sampling, stateful (${databaseKind})`, () => {
  let app: TestApp;
  let alice: Client;
  const logs: LoggingMessageNotification['params'][] = [];
  const updated: string[] = [];
  beforeAll(async () => {
    app = await startApp({ env: { ...PACKS } });
    await grantAlice(app);
    alice = await connect(app, ALICE_SCOPES);
    alice.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
    alice.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updated.push(n.params.uri));
  });
  afterAll(async () => {
    await alice?.close();
    await app?.close();
  });

  it('sends a tool’s log messages, filtered by logging/setLevel', async () => {
    await alice.setLoggingLevel('info');
    await alice.callTool({ name: 'test_tool_with_logging', arguments: {} });
    expect(logs).toEqual([
      { level: 'info', data: 'Tool execution started' },
      { level: 'info', data: 'Tool processing data' },
      { level: 'info', data: 'Tool execution completed' },
    ]);
    await alice.setLoggingLevel('warning');
    await alice.callTool({ name: 'test_tool_with_logging', arguments: {} });
    expect(logs).toHaveLength(3);
  });

  it('notifies subscribers of resource updates until they unsubscribe', async () => {
    const subscriptions = app.app.get(ResourceSubscriptions);
    await alice.subscribeResource({ uri: 'test://watched-resource' });
    // The update travels on the session's GET stream, which the client opens right after initialize.
    for (let i = 0; i < 50 && updated.length === 0; i++) {
      expect(await subscriptions.updated('test://watched-resource')).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(updated[0]).toBe('test://watched-resource');

    await alice.unsubscribeResource({ uri: 'test://watched-resource' });
    expect(await subscriptions.updated('test://watched-resource')).toBe(0);
    await expect(alice.subscribeResource({ uri: 'test://static-binary' })).rejects.toMatchObject({
      code: -32003,
    });
  });

  it('resumes a response stream a tool ended mid-call: the client reconnects with Last-Event-ID', async () => {
    const requests: { method: string; lastEventId: string | null }[] = [];
    const recording: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      requests.push({ method: init?.method ?? 'GET', lastEventId: headers.get('last-event-id') });
      return fetch(input, init);
    };
    const client = new Client({ name: 'resume-e2e', version: '1.0.0' });
    const headers = await app.bearer(ALICE, ALICE_SCOPES);
    await client.connect(
      new StreamableHTTPClientTransport(app.mcpUrl, { requestInit: { headers }, fetch: recording }),
    );
    try {
      expect(client.getServerVersion()).toBeDefined();
      requests.length = 0;
      const result = await client.callTool({ name: 'test_reconnection', arguments: {} });
      expect(textOf(result)).toBe('Reconnection test completed');
      // The POST's stream ended before the result (after its priming event); the result came on a GET that
      // named the last event the client had seen.
      expect(requests[0]).toEqual({ method: 'POST', lastEventId: null });
      expect(requests).toContainEqual({ method: 'GET', lastEventId: expect.stringMatching(/^\d+$/) });
    } finally {
      await client.close();
    }
  });

  it('lets a tool ask the user (elicitation) and the client’s LLM (sampling)', async () => {
    const elicited = await alice.callTool({
      name: 'test_elicitation',
      arguments: { message: 'who are you?' },
    });
    expect(elicited.isError).toBeFalsy();
    expect(textOf(elicited)).toBe(
      'User response: action=accept, content={"username":"ada","email":"ada@example.com (asked: who are you?)"}',
    );
    const sampled = await alice.callTool({ name: 'test_sampling', arguments: { prompt: 'hello' } });
    expect(textOf(sampled)).toBe('LLM response: echo of hello');
  });

  it('refuses elicitation to a client that did not declare the capability', async () => {
    const plain = new Client({ name: 'no-capabilities', version: '1.0.0' });
    const headers = await app.bearer(ALICE, ALICE_SCOPES);
    await plain.connect(new StreamableHTTPClientTransport(app.mcpUrl, { requestInit: { headers } }));
    const result = await plain.callTool({ name: 'test_elicitation', arguments: { message: 'x' } });
    expect(toolError(result)).toMatchObject({
      code: 'CLIENT_UNSUPPORTED',
      message: expect.stringContaining('elicitation capability'),
    });
    await plain.close();
  });
});

describe(`docs/extending.md "Testing a pack" (${databaseKind})`, () => {
  it('runs as written', async () => {
    // Keep in step with the snippet in docs/extending.md.
    const app = await startApp({ env: { TOOL_PACKS: 'echo,conformance' } });
    await app.grant('alice', 'resource:test_static_text');
    const headers = await app.bearer('alice', ['resource:test_static_text']);
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(app.mcpUrl, { requestInit: { headers } }));
    expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(['test://static-text']);
    await client.close();
    await app.close();
  });
});
