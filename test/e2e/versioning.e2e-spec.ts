import { randomUUID } from 'node:crypto';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { connectClient, toolError } from '../utils/mcp-client.js';

const TOOL = 'testing.versioned';
const pin = (version: string) => ({ 'mcp-production/version': version });

describe(`Tool versioning, deprecation and sunset (${databaseKind})`, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ env: { TOOL_PACKS: 'echo,testing' } });
  });
  afterAll(() => app.close());

  async function clientFor(grant: { toolVersion?: string } = {}) {
    const agentId = `agent-${randomUUID()}`;
    await app.grant(agentId, TOOL, grant);
    return connectClient(app.mcpUrl, await app.bearer(agentId, [`tool:${TOOL}`]));
  }

  it('lists only the latest version under the plain name, with the versions one may pin', async () => {
    const client = await clientFor();
    const { tools } = await client.listTools();
    const listed = tools.filter((t) => t.name === TOOL);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      description: 'Version 2.0.0.',
      _meta: { 'mcp-production/version': '2.0.0', 'mcp-production/versions': ['2.0.0', '1.0.0', '0.9.0'] },
    });
    expect(listed[0]._meta).not.toHaveProperty('mcp-production/deprecated');
    await client.close();
  });

  it('routes the plain name to the latest version and a pinned version to that version', async () => {
    const client = await clientFor();
    expect((await client.callTool({ name: TOOL, arguments: {} })).structuredContent).toEqual({
      version: '2.0.0',
    });
    const v2 = await client.callTool({ name: TOOL, arguments: {}, _meta: pin('2.0.0') });
    expect(v2.structuredContent).toEqual({ version: '2.0.0' });
    expect(v2._meta ?? {}).not.toHaveProperty('mcp-production/deprecated');
    await expect(client.callTool({ name: TOOL, arguments: {}, _meta: pin('7.0.0') })).rejects.toBeInstanceOf(
      McpError,
    );
    await client.close();
  });

  it('runs a deprecated version before its sunset, says so in the result, and counts the call', async () => {
    const client = await clientFor();
    const v1 = await client.callTool({ name: TOOL, arguments: {}, _meta: pin('1.0.0') });
    expect(v1.isError).toBeFalsy();
    expect(v1.structuredContent).toEqual({ version: '1.0.0' });
    expect(v1._meta).toMatchObject({
      'mcp-production/deprecated': { sunset: '2999-01-01T00:00:00Z', replacement: 'testing.versioned@2.0.0' },
    });
    const metrics = await (await fetch(`${app.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /mcp_deprecated_tool_calls_total\{tool="testing\.versioned",version="1\.0\.0"\} [1-9]/,
    );
    await client.close();
  });

  it('refuses a version past its sunset with TOOL_SUNSET naming the replacement', async () => {
    const client = await clientFor();
    const retired = await client.callTool({ name: TOOL, arguments: {}, _meta: pin('0.9.0') });
    expect(retired.isError).toBe(true);
    expect(toolError(retired)).toMatchObject({
      code: 'TOOL_SUNSET',
      message: expect.stringContaining('testing.versioned@2.0.0'),
      details: { sunset: '2020-01-01T00:00:00Z', replacement: 'testing.versioned@2.0.0', version: '0.9.0' },
    });
    await client.close();
  });

  it('honours a grant that names one version', async () => {
    const client = await clientFor({ toolVersion: '1.0.0' });
    // The plain name means 2.0.0, which this agent may not call: not listed, and refused.
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain(TOOL);
    await expect(client.callTool({ name: TOOL, arguments: {} })).rejects.toMatchObject({
      data: { code: 'GRANT_DENIED' },
    });
    const v1 = await client.callTool({ name: TOOL, arguments: {}, _meta: pin('1.0.0') });
    expect(v1.structuredContent).toEqual({ version: '1.0.0' });
    await client.close();
  });

  it('switches off one version: the others keep working', async () => {
    const admin = await app.bearer('ops-versions', ['mcp:admin']);
    const post = (action: string) =>
      fetch(`${app.baseUrl}/admin/tools/${TOOL}/${action}`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ version: '1.0.0' }),
      });
    expect((await post('disable')).status).toBe(200);
    const client = await clientFor();
    expect(toolError(await client.callTool({ name: TOOL, arguments: {}, _meta: pin('1.0.0') })).code).toBe(
      'TOOL_DISABLED',
    );
    expect((await client.callTool({ name: TOOL, arguments: {} })).structuredContent).toEqual({
      version: '2.0.0',
    });
    expect((await client.listTools()).tools.map((t) => t.name)).toContain(TOOL);

    const catalog = (await (await fetch(`${app.baseUrl}/admin/tools`, { headers: admin })).json()) as {
      name: string;
      version: string;
      disabled: boolean;
      latest: boolean;
      deprecated?: { sunset: string };
    }[];
    expect(catalog.filter((t) => t.name === TOOL)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ version: '2.0.0', latest: true, disabled: false }),
        expect.objectContaining({
          version: '1.0.0',
          latest: false,
          disabled: true,
          deprecated: expect.any(Object),
        }),
      ]),
    );
    expect((await post('enable')).status).toBe(200);
    expect((await client.callTool({ name: TOOL, arguments: {}, _meta: pin('1.0.0') })).isError).toBeFalsy();
    await client.close();
  });
});
