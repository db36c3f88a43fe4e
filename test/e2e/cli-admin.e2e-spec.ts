import { execFile } from 'node:child_process';
import { databaseKind } from '../utils/database.js';
import { freePort, ServerProcess } from '../utils/server-process.js';

/**
 * The operator CLIs (issue #18) as an operator runs them: the built `npm run admin` and `npm run grant` scripts as
 * child processes against the built service, itself a child process on a fresh database with dev auth. Only
 * exit codes, stdout/stderr and plain HTTP are asserted.
 */

const ADMIN_CLI = 'dist/src/admin/admin.cli.js';
const GRANT_CLI = 'dist/src/permissions/grant.cli.js';
const TOKEN_CLI = 'dist/src/auth/mint-token.cli.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function node(script: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe(`admin CLI against a running service (${databaseKind})`, () => {
  let server: ServerProcess;
  const admin = (args: string[], env: Record<string, string> = {}) =>
    node(ADMIN_CLI, args, { ...server.env, ...env });
  const grantCli = (args: string[]) => node(GRANT_CLI, args, server.env);
  /** `npm run token`: a dev token on stdout. */
  const token = async (agent: string, scope: string) => {
    const run = await node(TOKEN_CLI, ['--agent', agent, '--scope', scope], server.env);
    expect(run).toMatchObject({ code: 0 });
    return run.stdout.trim();
  };
  /** JSON of a successful admin CLI run. */
  const ok = async <T = Record<string, unknown>>(args: string[], env?: Record<string, string>) => {
    const run = await admin(args, env);
    if (run.code !== 0) throw new Error(`admin ${args.join(' ')} → ${run.code}\n${run.stderr}`);
    return JSON.parse(run.stdout) as T;
  };
  /** `tools/call echo` over plain HTTP: the status and the raw body. */
  const callEcho = async (bearer: string) => {
    const res = await fetch(`${server.baseUrl}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${bearer}`,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'hi from the cli test' } },
      }),
    });
    return { status: res.status, body: await res.text() };
  };
  const echoWorks = (answer: { status: number; body: string }) => {
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('hi from the cli test');
    expect(answer.body).not.toContain('"isError":true');
  };

  beforeAll(async () => {
    server = await ServerProcess.prepare('bootstrap', ['echo']);
    await server.start();
  }, 240_000);
  afterAll(() => server?.dispose());

  it('grants create / list / revoke, each change with its audit row, in force on the next call', async () => {
    const alice = await token('alice', 'tool:echo');
    expect((await callEcho(alice)).body).toContain('GRANT_DENIED');

    const created = await ok(['grants', 'create', '--agent', 'alice', '--tool', 'echo']);
    expect(created).toMatchObject({ agentId: 'alice', toolName: 'echo', grantedBy: 'cli' });
    expect(created.auditId).toMatch(/^\d+$/);
    echoWorks(await callEcho(alice));

    const listed = await ok<{ id: string }[]>(['grants', 'list', '--agent', 'alice']);
    expect(listed.map((g) => g.id)).toEqual([created.id]);
    const table = await admin(['grants', 'list', '--agent', 'alice', '--table']);
    expect(table.stdout.split('\n')[0]).toMatch(/^id\s+agentId\s+toolName/);
    expect(table.stdout).toContain(String(created.id));

    const revoked = await ok(['grants', 'revoke', String(created.id)]);
    expect(revoked).toMatchObject({ grantId: created.id, revoked: true });
    expect(revoked.auditId).toMatch(/^\d+$/);
    expect(Number(revoked.auditId)).toBeGreaterThan(Number(created.auditId));
    expect(await ok(['grants', 'list', '--agent', 'alice'])).toEqual([]);
    expect(await ok<unknown[]>(['grants', 'list', '--agent', 'alice', '--all'])).toHaveLength(1);
    expect((await callEcho(alice)).body).toContain('GRANT_DENIED');

    // Revoking it again: the service's 404 and code, exit 1.
    const again = await admin(['grants', 'revoke', String(created.id)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('HTTP 404 NOT_FOUND');
  });

  it('revocations add refuses the token from its next request; revocations list shows it', async () => {
    await ok(['grants', 'create', '--agent', 'rob', '--tool', 'echo']);
    const rob = await token('rob', 'tool:echo');
    echoWorks(await callEcho(rob));
    const { jti, exp } = JSON.parse(Buffer.from(rob.split('.')[1], 'base64url').toString()) as {
      jti: string;
      exp: number;
    };
    const expires = new Date(exp * 1000).toISOString();
    const added = await ok(['revocations', 'add', '--jti', jti, '--reason', 'leaked', '--expires', expires]);
    expect(added).toMatchObject({ jti, reason: 'leaked' });
    expect(added.auditId).toMatch(/^\d+$/);
    expect((await callEcho(rob)).status).toBe(401);
    const list = await ok<{ jti: string }[]>(['revocations', 'list']);
    expect(list.map((r) => r.jti)).toContain(jti);
  });

  it('audit --agent --since follows the cursor up to --limit', async () => {
    await ok(['grants', 'create', '--agent', 'audra', '--tool', 'echo']);
    const audra = await token('audra', 'tool:echo');
    for (let i = 0; i < 5; i++) echoWorks(await callEcho(audra));

    const rows = await ok<{ agentId: string; toolName: string; outcome: string; kind: string }[]>([
      'audit',
      '--agent',
      'audra',
      '--since',
      '1h',
    ]);
    expect(rows).toHaveLength(5);
    for (const row of rows)
      expect(row).toMatchObject({ agentId: 'audra', toolName: 'echo', kind: 'tool_call' });
    // Pages of 2, up to 3 rows: two requests, three rows, newest first.
    const paged = await ok<{ id: string }[]>([
      'audit',
      '--agent',
      'audra',
      '--limit',
      '3',
      '--page-size',
      '2',
    ]);
    expect(paged.map((r) => r.id)).toEqual(rows.slice(0, 3).map((r) => (r as unknown as { id: string }).id));
    const future = await ok([
      'audit',
      '--agent',
      'audra',
      '--since',
      new Date(Date.now() + 60_000).toISOString(),
    ]);
    expect(future).toEqual([]);
  });

  it('tools disable refuses calls of the tool; tools enable brings it back', async () => {
    await ok(['grants', 'create', '--agent', 'tina', '--tool', 'echo']);
    const tina = await token('tina', 'tool:echo');
    echoWorks(await callEcho(tina));

    const off = await ok(['tools', 'disable', 'echo', '--reason', 'incident 42']);
    expect(off).toMatchObject({ tool: 'echo', disabled: true });
    expect(off.auditId).toMatch(/^\d+$/);
    expect((await callEcho(tina)).body).toContain('TOOL_DISABLED');
    const tools = await ok<{ name: string; disabled: boolean }[]>(['tools', 'list']);
    expect(tools.find((t) => t.name === 'echo')).toMatchObject({ disabled: true });

    const on = await ok(['tools', 'enable', 'echo']);
    expect(on).toMatchObject({ tool: 'echo', disabled: false, removed: true });
    expect(on.auditId).toMatch(/^\d+$/);
    echoWorks(await callEcho(tina));
  });

  it('a read-only token reads, and its writes are refused with 403 INSUFFICIENT_SCOPE; no token is printed', async () => {
    const reader = await token('ops-rita', 'mcp:admin:read');
    const env = { MCP_ADMIN_TOKEN: reader };
    expect(Array.isArray(await ok(['grants', 'list'], env))).toBe(true);
    for (const args of [
      ['grants', 'create', '--agent', 'mallory', '--tool', 'echo'],
      ['tools', 'disable', 'echo', '--reason', 'read-only tries'],
      ['revocations', 'add', '--jti', 'some-jti'],
    ]) {
      const run = await admin(args, env);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('HTTP 403 INSUFFICIENT_SCOPE');
      expect(run.stdout + run.stderr).not.toContain(reader);
    }
    expect(await ok(['grants', 'list', '--agent', 'mallory', '--all'])).toEqual([]);
    // A refused token: 401 with a hint, and still never echoed.
    const bad = await admin(['grants', 'list'], { MCP_ADMIN_TOKEN: `${reader}x` });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('HTTP 401');
    expect(bad.stdout + bad.stderr).not.toContain(reader);
  });

  it('prints hostile strings inert: control characters escaped in JSON, tables and errors', async () => {
    const hostile = 'evil\u001b[31m\u009b2J\u0007';
    await ok(['grants', 'create', '--agent', hostile, '--tool', 'echo']);
    const json = await admin(['grants', 'list', '--agent', hostile]);
    const table = await admin(['grants', 'list', '--agent', hostile, '--table']);
    const error = await admin(['grants', 'create', '--agent', 'x', '--tool', hostile]);
    expect(error.stderr).toContain('HTTP 400');
    for (const out of [json.stdout, table.stdout, error.stderr]) {
      // eslint-disable-next-line no-control-regex
      expect(out).not.toMatch(/[\u001b\u0007\u009b]/);
      expect(out).toContain('evil\\u001b[31m\\u009b2J\\u0007');
    }
    expect((JSON.parse(json.stdout) as { agentId: string }[])[0].agentId).toBe(hostile);
  });

  it.each([
    [[]],
    [['frobnicate']],
    [['constructor']],
    [['grants', 'create', '--agent', 'alice']],
    [['grants', 'revoke']],
    [['grants', 'list', '--colour']],
    [['audit', '--limit', 'lots']],
    [['audit', '--since', 'yesterday-ish']],
    [['tools', 'disable', 'echo']],
    [['grants', 'create', '--agent', 'a', '--tool', 'echo', '--expires', 'soon']],
  ])('bad arguments %j: usage on stderr, exit 2', async (args) => {
    const run = await admin(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('usage: npm run admin');
    expect(run.stdout).toBe('');
  });

  it('an unreachable service: a clear error, exit 1', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const run = await admin(['grants', 'list'], { MCP_ADMIN_URL: nowhere });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot reach the service at ${nowhere} (ECONNREFUSED)`);
  });

  it('README quick start with the service running: grant (npm run grant) → token → call; audited as an admin action', async () => {
    const granted = await grantCli(['--agent', 'erin', '--tool', 'echo']);
    expect(granted.code).toBe(0);
    expect(granted.stderr).toContain('granting through its admin API');
    const grant = JSON.parse(granted.stdout) as { id: string; agentId: string; auditId: string };
    expect(grant).toMatchObject({ agentId: 'erin', toolName: 'echo', grantedBy: 'cli' });
    echoWorks(await callEcho(await token('erin', 'tool:echo')));

    const trail = await ok<
      { id: string; agentId: string; outcome: string; detail: Record<string, unknown> }[]
    >(['audit', '--kind', 'admin', '--outcome', 'grant.create', '--agent', 'cli']);
    expect(trail.find((row) => row.id === grant.auditId)).toMatchObject({
      agentId: 'cli',
      outcome: 'grant.create',
      detail: expect.objectContaining({ grantId: grant.id, agent: 'erin', tool: 'echo' }),
    });

    const listed = await grantCli(['--list', '--agent', 'erin']);
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((g) => g.id)).toEqual([grant.id]);
    const revoked = await grantCli(['--revoke', grant.id]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(new RegExp(`^Revoked ${grant.id} \\(audit row \\d+\\)`));
  });

  it('npm run grant pointed elsewhere while the service holds the embedded database: says so, exit 1', async () => {
    if (databaseKind !== 'embedded') return; // PostgreSQL has no single owner
    const port = String(await freePort());
    const run = await node(GRANT_CLI, ['--agent', 'x', '--tool', 'echo'], { ...server.env, PORT: port });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is in use by process');
    expect(run.stderr).toContain(`no service answers at http://127.0.0.1:${port}`);
  });

  it('with the service stopped, npm run grant writes the database directly; the grant holds after start', async () => {
    await server.stop('SIGTERM');
    const granted = await grantCli(['--agent', 'dora', '--tool', 'echo']);
    expect(granted.code).toBe(0);
    expect(granted.stderr).not.toContain('admin API');
    const grant = JSON.parse(granted.stdout) as { id: string; auditId: string };
    expect(grant).toMatchObject({ agentId: 'dora', toolName: 'echo', grantedBy: 'cli' });
    expect(grant.auditId).toMatch(/^\d+$/);

    const dora = await token('dora', 'tool:echo'); // grant → token → start → call
    await server.start();
    echoWorks(await callEcho(dora));
    const listed = await ok<{ id: string }[]>(['grants', 'list', '--agent', 'dora']);
    expect(listed.map((g) => g.id)).toEqual([grant.id]);
  }, 120_000);
});
