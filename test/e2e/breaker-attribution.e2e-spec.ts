import { startApp, type TestApp } from '../utils/app.js';
import {
  breakers,
  callTool,
  newAgent,
  toolErrorCode,
  toolErrorOf,
  type RpcAnswer,
} from '../utils/breaker-http.js';
import { databaseKind } from '../utils/database.js';

/**
 * Issue #15 class 1: no agent can open a shared circuit breaker for everyone. Black-box over HTTP: only status
 * codes, JSON-RPC bodies and `/admin/tools` are looked at.
 */
const BUILT_IN = ['echo', 'counter.increment', 'state.get', 'state.set', 'state.delete', 'state.list'];

/** A cursor that decodes to `text` (the service's cursors are base64url of the last key). */
const cursorOf = (text: string | Buffer) =>
  (typeof text === 'string' ? Buffer.from(text, 'utf8') : text).toString('base64url');

/** What an answer to hostile input must never be: a 5xx, a JSON-RPC internal error, or a generic failure. */
function badAnswer(answer: RpcAnswer): string | undefined {
  if (answer.status >= 500) return `HTTP ${answer.status}`;
  if (answer.body?.error?.code === -32603) return `JSON-RPC internal error: ${answer.body.error.message}`;
  if (!answer.body) return `HTTP ${answer.status} without a JSON-RPC body`;
  const code = toolErrorCode(answer);
  if (code && ['TOOL_FAILED', 'INTERNAL_ERROR', 'CIRCUIT_OPEN', 'TOOL_UNAVAILABLE'].includes(code))
    return `tool error ${code}`;
  // Built-in tools validate before SQL: the database never has to refuse their input.
  if (code && (toolErrorOf(answer).details as { sqlstate?: string } | undefined)?.sqlstate)
    return `input reached the database (${code})`;
  return undefined;
}

const deep = (levels: number): unknown => {
  let value: unknown = 'bottom';
  for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { nested: value };
  return value;
};

/** Hostile values for any field: control characters, NUL, lone surrogates, huge/odd numbers, wrong types. */
const HOSTILE: unknown[] = [
  '',
  ' ',
  'a\u0000b',
  '\u0000',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u0085',
  '\ud800',
  '\udfff',
  'x\ud83d',
  '\u2028\u2029',
  '%_\\',
  "'; DROP TABLE agent_state; --",
  '😀'.repeat(300),
  'k'.repeat(5000),
  'long'.repeat(25_000),
  0,
  -1,
  1.5,
  2 ** 31,
  2 ** 31 - 1,
  -(2 ** 31) - 1,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  1e308,
  -1e308,
  true,
  null,
  [],
  ['\u0000'],
  {},
  { '\u0000': '\ud800' },
  deep(40),
];

/** Cursors a client may forge: decoding to NUL, control characters, broken UTF-8, a too long key, garbage. */
const BAD_CURSORS = [
  cursorOf('\u0000'),
  cursorOf('a\u0000'),
  cursorOf('\u0001'),
  cursorOf('\u007f'),
  cursorOf(Buffer.from([0xed, 0xa0, 0x80])), // a UTF-8-encoded lone surrogate
  cursorOf(Buffer.from([0xff, 0xfe])),
  cursorOf('k'.repeat(5000)),
  cursorOf(''),
  'AA',
  'AA==',
  '!!!',
  '%00',
  '\u0000',
  '\ud800',
  'A'.repeat(100_000),
];

/** Valid arguments of each built-in tool, and the fields the fuzz replaces. */
const VALID: Record<string, Record<string, unknown>> = {
  echo: { text: 'hi' },
  'counter.increment': { name: 'fuzz', by: 1 },
  'state.get': { key: 'fuzz' },
  'state.set': { key: 'fuzz', value: 1 },
  'state.delete': { key: 'fuzz-absent' },
  'state.list': { limit: 5 },
};
const FIELDS: Record<string, string[]> = {
  echo: ['text'],
  'counter.increment': ['name', 'by'],
  'state.get': ['key'],
  'state.set': ['key', 'value', 'expectedVersion'],
  'state.delete': ['key', 'expectedVersion'],
  'state.list': ['prefix', 'cursor', 'limit'],
};

describe(`Breaker attribution: one agent cannot open a shared breaker (${databaseKind})`, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({
      env: {
        TOOL_PACKS: 'echo,counter,state,testing',
        RATE_LIMIT_AGENT_PER_MINUTE: '1000000',
        BREAKER_FAILURES: '5',
      },
    });
  });
  afterAll(() => app.close());

  it('a state.list cursor that decodes to a control character is a specific tool error, and never opens the breaker', async () => {
    const mallory = await newAgent(app, ['state.list']);
    for (let i = 0; i < 10; i++) {
      const answer = await callTool(app, mallory.auth, 'state.list', { cursor: cursorOf('\u0000') });
      expect(answer.status).toBe(200);
      expect(toolErrorCode(answer)).toBe('INVALID_ARGUMENTS');
    }
    expect((await breakers(app)).get('state.list@1.0.0')).toMatchObject({ state: 'closed' });

    const bob = await newAgent(app, ['state.list']);
    const answer = await callTool(app, bob.auth, 'state.list', {});
    expect(answer.status).toBe(200);
    expect(answer.body?.result?.isError).toBeFalsy();
  });

  it("one agent's dependency failures alone never open a breaker; failures of two agents do", async () => {
    // testing.flaky opens after 3 consecutive failures.
    const mallory = await newAgent(app, ['testing.flaky']);
    for (let i = 0; i < 8; i++) {
      const answer = await callTool(app, mallory.auth, 'testing.flaky', { fail: true });
      expect(toolErrorCode(answer)).toBe('TOOL_FAILED');
    }
    expect((await breakers(app)).get('testing.flaky@1.0.0')).toMatchObject({ state: 'closed' });
    const bob = await newAgent(app, ['testing.flaky']);
    expect(
      (await callTool(app, bob.auth, 'testing.flaky', { fail: false })).body?.result?.isError,
    ).toBeFalsy();

    // A real outage: two agents see the tool fail.
    const carol = await newAgent(app, ['testing.flaky']);
    for (const who of [mallory, carol, mallory, carol])
      await callTool(app, who.auth, 'testing.flaky', { fail: true });
    expect((await breakers(app)).get('testing.flaky@1.0.0')).toMatchObject({ state: 'open' });
    expect(toolErrorCode(await callTool(app, bob.auth, 'testing.flaky', { fail: false }))).toBe(
      'CIRCUIT_OPEN',
    );
  });

  it('a hostile-input fuzz pass over every built-in tool by one agent: no 5xx, no generic failure, and every tool still works for another agent', async () => {
    const mallory = await newAgent(app, BUILT_IN);
    const problems: string[] = [];
    const tryCall = async (tool: string, args: unknown) => {
      const answer = await callTool(app, mallory.auth, tool, args);
      const bad = badAnswer(answer);
      if (bad) problems.push(`${tool} ${JSON.stringify(args).slice(0, 80)}: ${bad}`);
    };
    let calls = 0;
    for (const tool of BUILT_IN) {
      for (const args of [
        undefined,
        null,
        [],
        'text',
        42,
        { unexpected: true },
        { ...VALID[tool], extra: 1 },
      ]) {
        await tryCall(tool, args);
        calls++;
      }
      for (const field of FIELDS[tool]) {
        const values = field === 'cursor' ? [...BAD_CURSORS, ...HOSTILE] : HOSTILE;
        for (const value of values) {
          await tryCall(tool, { ...VALID[tool], [field]: value });
          calls++;
        }
      }
    }
    expect(calls).toBeGreaterThan(250);
    expect(problems).toEqual([]);

    // Every breaker is still closed, and another agent's calls of each tool succeed.
    const states = await breakers(app);
    for (const tool of BUILT_IN) expect(states.get(`${tool}@1.0.0`)).toMatchObject({ state: 'closed' });
    const bob = await newAgent(app, BUILT_IN);
    const calls2: [string, unknown][] = [
      ['echo', { text: 'still here' }],
      ['counter.increment', { name: 'bob' }],
      ['state.set', { key: 'bob', value: { ok: true } }],
      ['state.get', { key: 'bob' }],
      ['state.list', {}],
      ['state.delete', { key: 'bob' }],
    ];
    for (const [tool, args] of calls2) {
      const answer = await callTool(app, bob.auth, tool, args);
      expect([tool, answer.status, answer.body?.result?.isError ?? false]).toEqual([tool, 200, false]);
    }
  });
});
