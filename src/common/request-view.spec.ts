import {
  classifyInboundRequest,
  createMcpHandler,
  fromJsonSchema,
  McpServer,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/server';
import type { FastifyRequest } from 'fastify';
import {
  MODERN_PROTOCOL_VERSIONS,
  ProtocolRequestError,
  checkModernRequest,
  requestViewOf,
  sdkMessageOf,
} from './request-view.js';

const V = '2026-07-28';
const META = {
  'io.modelcontextprotocol/protocolVersion': V,
  'io.modelcontextprotocol/clientCapabilities': {},
};
/** A tool that mirrors two arguments into headers (`x-mcp-header`). */
const SCHEMA = {
  type: 'object',
  properties: {
    region: { type: 'string', 'x-mcp-header': 'Region' },
    limit: { type: 'integer', 'x-mcp-header': 'Limit' },
    q: { type: 'string' },
  },
};

type Headers = Record<string, string>;

function fakeRequest(body: unknown, headers: Headers = {}, method = 'POST', url = '/mcp'): FastifyRequest {
  return { method, routeOptions: { url }, headers, body } as unknown as FastifyRequest;
}

const call = (name: string, args: Record<string, unknown> = {}, meta: object = META, id: unknown = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args, _meta: meta },
});
/** The headers a conforming 2026-07-28 client sends with a tools/call of `name`. */
const std = (name = 'search', extra: Headers = {}): Headers => ({
  'mcp-protocol-version': V,
  'mcp-method': 'tools/call',
  'mcp-name': name,
  ...extra,
});
const b64 = (text: string) => `=?base64?${Buffer.from(text).toString('base64')}?=`;

/** What our check answers: the JSON-RPC code and id of the 400, or 'pass'. */
function ours(body: unknown, headers: Headers, served: 'dual' | 'modern' | 'legacy' = 'dual') {
  try {
    checkModernRequest(fakeRequest(body, headers), served, (name) =>
      name === 'search' ? SCHEMA : undefined,
    );
    return 'pass';
  } catch (error) {
    if (!(error instanceof ProtocolRequestError)) throw error;
    const rpc = { HEADER_MISMATCH: -32020, INVALID_ENVELOPE: -32602, UNSUPPORTED_PROTOCOL_VERSION: -32022 };
    return { code: rpc[error.code as keyof typeof rpc], id: error.jsonRpcId, details: error.details };
  }
}

describe('requestViewOf', () => {
  it('views a 2026-07-28 tools/call: era, name, id, envelope fields; no session', () => {
    const meta = {
      ...META,
      progressToken: 'p1',
      'io.modelcontextprotocol/clientCapabilities': { roots: {} },
    };
    const req = fakeRequest(call('search', { q: 'x' }, meta, 7), { ...std(), 'mcp-session-id': 'sid' });
    expect(requestViewOf(req)).toEqual({
      era: 'modern',
      batch: false,
      kind: 'request',
      method: 'tools/call',
      id: 7,
      name: 'search',
      meta,
      progressToken: 'p1',
      protocolVersion: V,
      clientCapabilities: { roots: {} },
    });
  });

  it('views a 2025 request: protocol version from the header, the session id', () => {
    const body = { jsonrpc: '2.0', id: 'a', method: 'resources/read', params: { uri: 'file:///x' } };
    const req = fakeRequest(body, { 'mcp-protocol-version': '2025-11-25', 'mcp-session-id': 'sid' });
    expect(requestViewOf(req)).toEqual({
      era: 'legacy',
      batch: false,
      kind: 'request',
      method: 'resources/read',
      id: 'a',
      uri: 'file:///x',
      protocolVersion: '2025-11-25',
      sessionId: 'sid',
    });
  });

  it('names prompts and subscribed resources, and nothing for other methods', () => {
    const view = (method: string, params: object) =>
      requestViewOf(fakeRequest({ jsonrpc: '2.0', id: 1, method, params }));
    expect(view('prompts/get', { name: 'p' })?.name).toBe('p');
    expect(view('resources/subscribe', { uri: 'u' })?.uri).toBe('u');
    const list = view('tools/list', { name: 'x', uri: 'y' });
    expect(list).not.toHaveProperty('name');
    expect(list).not.toHaveProperty('uri');
  });

  it("carries initialize's params and a listen's resource subscriptions (strings only)", () => {
    const params = {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'c', version: '1' },
    };
    const init = requestViewOf(fakeRequest({ jsonrpc: '2.0', id: 1, method: 'initialize', params }));
    expect(init?.initialize).toEqual(params);
    const invalid = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 1 } };
    expect(requestViewOf(fakeRequest(invalid))).not.toHaveProperty('initialize');
    const listen = (notifications: unknown) =>
      requestViewOf(
        fakeRequest({ jsonrpc: '2.0', id: 2, method: 'subscriptions/listen', params: { notifications } }),
      )?.resourceSubscriptions;
    expect(listen({ resourceSubscriptions: ['file:///a', 7, 'file:///b'] })).toEqual([
      'file:///a',
      'file:///b',
    ]);
    expect(listen(undefined)).toEqual([]);
  });

  it('hands the SDK transports the body as parsed, for POST /mcp only', () => {
    const body = [call('a'), call('b')];
    expect(sdkMessageOf(fakeRequest(body))).toBe(body);
    expect(sdkMessageOf(fakeRequest(body, {}, 'GET'))).toBeUndefined();
  });

  it('views each message of a batch on its own', () => {
    const body = [call('a', {}, {}), { jsonrpc: '2.0', method: 'notifications/initialized' }];
    const view = requestViewOf(fakeRequest(body))!;
    expect(view).toMatchObject({ era: 'legacy', batch: true, kind: 'request' });
    expect(view).not.toHaveProperty('method');
    expect(view.messages).toMatchObject([
      { kind: 'request', method: 'tools/call', name: 'a' },
      { kind: 'notification', method: 'notifications/initialized' },
    ]);
  });

  it('reads the shape of what is not JSON-RPC (guards still see the tool), marked invalid', () => {
    const body = { method: 'tools/call', params: { name: 'echo' } }; // no jsonrpc, no id
    expect(requestViewOf(fakeRequest(body))).toMatchObject({ kind: 'invalid', name: 'echo' });
    expect(requestViewOf(fakeRequest(null))).toMatchObject({ kind: 'invalid', batch: false });
  });

  it('is built once per request, and only for POST /mcp', () => {
    const body = call('search');
    const req = fakeRequest(body, std());
    const first = requestViewOf(req);
    body.params.name = 'other';
    expect(requestViewOf(req)).toBe(first);
    expect(first?.name).toBe('search');
    expect(requestViewOf(fakeRequest(body, std(), 'GET'))).toBeUndefined();
    expect(requestViewOf(fakeRequest(body, std(), 'POST', '/admin/tools'))).toBeUndefined();
  });

  describe('agrees with the SDK on the era (classifyInboundRequest, behind isLegacyRequest)', () => {
    const legacyCall = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo' } };
    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } },
    };
    const bodies: [string, unknown][] = [
      ['a 2025 call', legacyCall],
      ['initialize', initialize],
      ['initialize with a modern envelope', { ...initialize, params: { ...initialize.params, _meta: META } }],
      ['a notification', { jsonrpc: '2.0', method: 'notifications/initialized' }],
      ['a modern call', call('search')],
      [
        'a call claiming 2099',
        call('search', {}, { ...META, 'io.modelcontextprotocol/protocolVersion': '2099' }),
      ],
      [
        'a call claiming 2025-11-25',
        call('s', {}, { ...META, 'io.modelcontextprotocol/protocolVersion': '2025-11-25' }),
      ],
      ['a malformed envelope', call('search', {}, { 'io.modelcontextprotocol/protocolVersion': V })],
      ['a claim that is not a string', call('s', {}, { 'io.modelcontextprotocol/protocolVersion': 1 })],
      ['server/discover without envelope', { jsonrpc: '2.0', id: 1, method: 'server/discover' }],
      ['a posted result', { jsonrpc: '2.0', id: 1, result: {} }],
      ['a posted error', { jsonrpc: '2.0', id: 1, error: { code: 1, message: 'x' } }],
      ['a 2025 batch', [legacyCall, legacyCall]],
      ['a batch with a modern call', [legacyCall, call('search')]],
      ['an empty batch', []],
      ['null', null],
      ['a string', 'tools/call'],
      ['an object that is no message', { hello: 1 }],
      ['a fractional id', { ...legacyCall, id: 1.5 }],
      ['an extra top-level key', { ...legacyCall, extra: true }],
      ['no jsonrpc', { id: 1, method: 'tools/call' }],
      ['no body', undefined],
    ];
    const headerSets: [string, Headers][] = [
      ['no headers', {}],
      ['2025 header', { 'mcp-protocol-version': '2025-11-25' }],
      ['2026 header', { 'mcp-protocol-version': V }],
      ['2026 header with OWS', { 'mcp-protocol-version': ` ${V}\t` }],
      ['future header', { 'mcp-protocol-version': '2099-01-01' }],
      ['2026 header, wrong method', { 'mcp-protocol-version': V, 'mcp-method': 'tools/list' }],
    ];
    const cases = bodies.flatMap(([b, body]) =>
      headerSets.map(([h, headers]) => [`${b}, ${h}`, body, headers]),
    );

    it.each(cases)('%s', (_name, body, headers) => {
      const sdk =
        body === undefined
          ? 'legacy' // the SDK's "no JSON body" step: legacy serving
          : classifyInboundRequest({
                httpMethod: 'POST',
                protocolVersionHeader: (headers as Headers)['mcp-protocol-version'],
                mcpMethodHeader: (headers as Headers)['mcp-method'],
                body,
              }).kind === 'legacy'
            ? 'legacy'
            : 'modern';
      expect(requestViewOf(fakeRequest(body, headers as Headers))?.era).toBe(sdk);
    });
  });
});

describe('checkModernRequest (SECURITY.md F4/F5)', () => {
  it('passes a conforming request, header whitespace and Base64 names included', () => {
    expect(ours(call('search', { q: 'x' }), std())).toBe('pass');
    expect(ours(call('search'), std('  search\t'))).toBe('pass');
    expect(ours(call('search'), std(b64('search')))).toBe('pass');
    const read = {
      jsonrpc: '2.0',
      id: 2,
      method: 'resources/read',
      params: { uri: 'file:///é ü', _meta: META },
    };
    const headers = {
      'mcp-protocol-version': V,
      'mcp-method': 'resources/read',
      'mcp-name': b64('file:///é ü'),
    };
    expect(ours(read, headers)).toBe('pass');
  });

  it('refuses a Mcp-Name that is not the body name, answering with the request id (-32020)', () => {
    expect(ours(call('search', {}, META, 9), std('other_tool'))).toEqual({
      code: -32020,
      id: 9,
      details: { header: 'Mcp-Name', problem: 'mismatch', field: 'params.name' },
    });
  });

  it.each([
    [
      'MCP-Protocol-Version missing',
      { 'mcp-method': 'tools/call', 'mcp-name': 'search' },
      'MCP-Protocol-Version',
    ],
    ['Mcp-Method missing', { 'mcp-protocol-version': V, 'mcp-name': 'search' }, 'Mcp-Method'],
    ['Mcp-Method another method', std('search', { 'mcp-method': 'tools/list' }), 'Mcp-Method'],
    ['Mcp-Method in another case', std('search', { 'mcp-method': 'TOOLS/CALL' }), 'Mcp-Method'],
    [
      'version header not the envelope',
      std('search', { 'mcp-protocol-version': '2099-01-01' }),
      'MCP-Protocol-Version',
    ],
    ['Mcp-Name missing', { 'mcp-protocol-version': V, 'mcp-method': 'tools/call' }, 'Mcp-Name'],
    ['Mcp-Name bad Base64 padding', std('=?base64?c2VhcmNo?='.replace('c2VhcmNo', 'c2VhcmN')), 'Mcp-Name'],
    ['Mcp-Name bad Base64 characters', std('=?base64?c2Vh!!!cmNo?='), 'Mcp-Name'],
    ['Mcp-Name Base64 of another name', std(b64('other')), 'Mcp-Name'],
    ['Mcp-Name not ASCII', std('séarch'), 'Mcp-Name'],
    ['Mcp-Name oversized', std(`${'x'.repeat(8193)}`), 'Mcp-Name'],
  ])('refuses: %s (-32020)', (_name, headers, header) => {
    expect(ours(call('search'), headers)).toMatchObject({ code: -32020, details: { header } });
  });

  it('refuses a missing or malformed envelope (-32602)', () => {
    const noCapabilities = call('search', {}, { 'io.modelcontextprotocol/protocolVersion': V });
    expect(ours(noCapabilities, std())).toMatchObject({ code: -32602 });
    const noEnvelope = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'search' } };
    expect(ours(noEnvelope, std())).toMatchObject({ code: -32602, id: 3 });
  });

  it('refuses an unsupported revision with the supported ones (-32022), per MCP_ERA', () => {
    const future = call('search', {}, { ...META, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' });
    const headers = std('search', { 'mcp-protocol-version': '2099-01-01' });
    const supported = (served: 'dual' | 'modern') =>
      (ours(future, headers, served) as { details?: { supported?: unknown } }).details?.supported;
    expect(ours(future, headers)).toMatchObject({ code: -32022, details: { requested: '2099-01-01' } });
    // Only what server/discover lists, in either mode (2025 clients learn theirs from initialize).
    expect(supported('dual')).toEqual(MODERN_PROTOCOL_VERSIONS);
    expect(supported('modern')).toEqual(MODERN_PROTOCOL_VERSIONS);
    // MCP_ERA=legacy: every 2026-07-28 request learns the 2025 versions, whatever its headers.
    expect(ours(call('search'), std('other'), 'legacy')).toMatchObject({
      code: -32022,
      details: { supported: SUPPORTED_PROTOCOL_VERSIONS, requested: V },
    });
  });

  it('checks the Mcp-Param-* headers the called tool declares', () => {
    const args = { region: 'eu west', limit: 42, q: 'x' };
    const ok = std('search', { 'mcp-param-region': b64('eu west'), 'mcp-param-limit': '42.0' });
    expect(ours(call('search', args), ok)).toBe('pass');
    // null or absent arguments need no header; a header nobody declared is ignored.
    expect(ours(call('search', { region: null }), std('search', { 'mcp-param-other': '\u00ff' }))).toBe(
      'pass',
    );
    const problems: [Headers, string, string][] = [
      [{ 'mcp-param-limit': '42' }, 'Mcp-Param-Region', 'missing'],
      [{ 'mcp-param-region': 'eu west', 'mcp-param-limit': '43' }, 'Mcp-Param-Limit', 'mismatch'],
      [{ 'mcp-param-region': 'us', 'mcp-param-limit': '42' }, 'Mcp-Param-Region', 'mismatch'],
      [
        { 'mcp-param-region': '=?base64?ZXUgd2VzdA?=', 'mcp-param-limit': '42' },
        'Mcp-Param-Region',
        'invalid',
      ],
    ];
    for (const [extra, header, problem] of problems)
      expect(ours(call('search', args), std('search', extra))).toMatchObject({
        code: -32020,
        details: { header, problem },
      });
    // a tool without the schema (unknown here) has no Mcp-Param-* to check
    expect(ours(call('other', args), std('other'))).toBe('pass');
  });

  it('leaves legacy traffic, notifications and non-JSON-RPC bodies to the transport', () => {
    const legacy = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search' } };
    expect(ours(legacy, { 'mcp-name': 'other', 'mcp-method': 'nope' })).toBe('pass');
    const note = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { _meta: META } };
    expect(ours(note, {})).toBe('pass');
    expect(ours({ hello: 1 }, { 'mcp-protocol-version': V })).toBe('pass');
    expect(ours([call('search')], std())).toBe('pass');
  });

  it('answers every header/envelope case as the SDK handler does (which runs after our guards)', async () => {
    const handler = createMcpHandler(
      () => {
        const server = new McpServer({ name: 't', version: '1' });
        server.registerTool('search', { inputSchema: fromJsonSchema(SCHEMA) }, () => ({ content: [] }));
        return server;
      },
      { legacy: 'reject' },
    );
    const future = { ...META, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' };
    const cases: [unknown, Headers][] = [
      [call('search', { q: 'x' }), std()],
      [call('search'), std('  search ')],
      [call('search'), std(b64('search'))],
      [call('search'), std('other_tool')],
      [call('search'), std(b64('other'))],
      [call('search'), std('=?base64?c2Vh!!!cmNo?=')],
      [call('search'), { 'mcp-method': 'tools/call', 'mcp-name': 'search' }],
      [call('search'), { 'mcp-protocol-version': V, 'mcp-name': 'search' }],
      [call('search'), { 'mcp-protocol-version': V, 'mcp-method': 'tools/call' }],
      [call('search'), std('search', { 'mcp-method': 'tools/list' })],
      [call('search'), std('search', { 'mcp-protocol-version': '2099-01-01' })],
      [call('search', {}, future, 5), std('search', { 'mcp-protocol-version': '2099-01-01' })],
      [call('search', {}, { 'io.modelcontextprotocol/protocolVersion': V }), std()],
      [{ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'search' } }, std()],
      [
        call('search', { region: 'eu', limit: 3 }),
        std('search', { 'mcp-param-region': 'eu', 'mcp-param-limit': '3' }),
      ],
      [call('search', { region: 'eu' }), std()],
      [call('search', { region: 'eu' }), std('search', { 'mcp-param-region': 'us' })],
      [call('search', { region: 'eu' }), std('search', { 'mcp-param-region': '=?base64?ZX?=' })],
      [call('search', { limit: 7 }), std('search', { 'mcp-param-limit': '7.0' })],
    ];
    try {
      for (const [body, headers] of cases) {
        const response = await handler.fetch(
          new Request('http://localhost/mcp', {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              ...headers,
            },
            body: JSON.stringify(body),
          }),
        );
        const answer = (await response.json()) as { id?: unknown; error?: { code: number; data?: unknown } };
        const sdk = response.status === 200 ? 'pass' : { code: answer.error?.code, id: answer.id };
        const mine = ours(body, headers, 'modern');
        expect({
          headers,
          answer: typeof mine === 'string' ? mine : { code: mine.code, id: mine.id },
        }).toEqual({
          headers,
          answer: sdk,
        });
        if (answer.error?.code === -32022)
          expect(answer.error.data).toMatchObject({ supported: MODERN_PROTOCOL_VERSIONS });
      }
    } finally {
      await handler.close();
    }
  });
});
