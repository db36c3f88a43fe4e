import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { DataSource } from 'typeorm';
import type { AuditEventView } from '../../src/audit/audit-query.service.js';
import { NOTE_MAX_LENGTH } from '../../src/tool-modules/notes/notes.tools.js';
import { ERROR_CODE_META } from '../../src/tools/tool-errors.js';
import { startApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';
import { connectClient, toolError } from '../utils/mcp-client.js';

type App = Awaited<ReturnType<typeof startApp>>;
const NOTES_TOOLS = ['notes.add', 'notes.list'];

/** The columns of `table` in the app's database (none when it does not exist). */
async function columnsOf(app: App, table: string): Promise<string[]> {
  const rows: { column_name: string }[] = await app.app
    .get(DataSource)
    .query(`SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY column_name`, [
      table,
    ]);
  return rows.map((r) => r.column_name);
}

/**
 * The `notes` pack (src/tool-modules/notes/) brings its own table, migration and error code from its folder, and is
 * listed once in the pack list: the walkthrough of docs/extending.md, run for real.
 */
describe(`a tool pack with its own table, migration and error code (${databaseKind})`, () => {
  describe('enabled by TOOL_PACKS', () => {
    let app: App;
    beforeAll(async () => {
      app = await startApp({ env: { TOOL_PACKS: 'echo,notes' } });
    });
    afterAll(() => app.close());

    async function notesClient(agentId: string, requestId = `${agentId}-calls`): Promise<Client> {
      for (const tool of NOTES_TOOLS) await app.grant(agentId, tool);
      const headers = await app.bearer(
        agentId,
        NOTES_TOOLS.map((t) => `tool:${t}`),
      );
      return connectClient(app.mcpUrl, { ...headers, 'x-request-id': requestId });
    }
    const call = async (client: Client, name: string, args: Record<string, unknown>) =>
      (await client.callTool({ name, arguments: args })) as CallToolResult;

    it("applied the pack's migration: the table exists and the migration is recorded", async () => {
      expect(await columnsOf(app, 'pack_notes')).toEqual(['agent_id', 'created_at', 'id', 'text']);
      const applied: unknown[] = await app.app
        .get(DataSource)
        .query(`SELECT 1 FROM migrations WHERE name = 'PackNotes1764200008000'`);
      expect(applied).toHaveLength(1);
    });

    it("writes and reads the pack's table, each agent seeing only its own notes", async () => {
      const alice = await notesClient('notes-alice');
      const bob = await notesClient('notes-bob');
      for (const text of ['first', 'second'])
        expect((await call(alice, 'notes.add', { text })).isError).toBeFalsy();
      expect((await call(bob, 'notes.add', { text: "bob's" })).isError).toBeFalsy();

      const texts = async (client: Client) =>
        ((await call(client, 'notes.list', {})).structuredContent as { items: { text: string }[] }).items.map(
          (n) => n.text,
        );
      expect(await texts(alice)).toEqual(['first', 'second']);
      expect(await texts(bob)).toEqual(["bob's"]);
      const rows: { agent_id: string; text: string }[] = await app.app
        .get(DataSource)
        .query(`SELECT agent_id, text FROM pack_notes WHERE agent_id LIKE 'notes-%' ORDER BY id`);
      expect(rows).toEqual([
        { agent_id: 'notes-alice', text: 'first' },
        { agent_id: 'notes-alice', text: 'second' },
        { agent_id: 'notes-bob', text: "bob's" },
      ]);
      await Promise.all([alice.close(), bob.close()]);
    });

    it("reports the pack's own error code as a tool error, and audits it", async () => {
      const client = await notesClient('notes-carol', 'notes-too-long');
      const result = await call(client, 'notes.add', { text: 'x'.repeat(NOTE_MAX_LENGTH + 1) });
      await client.close();
      expect(result.isError).toBe(true);
      expect(result._meta?.[ERROR_CODE_META]).toBe('NOTE_TOO_LONG');
      expect(toolError(result)).toMatchObject({ code: 'NOTE_TOO_LONG' });
      expect(JSON.parse((result.content[0] as { text: string }).text).error.details).toEqual({
        length: NOTE_MAX_LENGTH + 1,
        maxLength: NOTE_MAX_LENGTH,
      });

      const admin = await app.bearer('auditor', ['mcp:admin']);
      const res = await fetch(`${app.baseUrl}/admin/audit?agent=notes-carol&limit=500`, { headers: admin });
      expect(res.status).toBe(200);
      const { items } = (await res.json()) as { items: AuditEventView[] };
      expect(items.filter((r) => r.requestId === 'notes-too-long')).toEqual([
        expect.objectContaining({
          kind: 'tool_call',
          toolName: 'notes.add',
          outcome: 'tool_error',
          errorCode: 'NOTE_TOO_LONG',
        }),
      ]);
      const stored: unknown[] = await app.app
        .get(DataSource)
        .query(`SELECT 1 FROM pack_notes WHERE agent_id = 'notes-carol'`);
      expect(stored).toHaveLength(0);
    });
  });

  it('is opt-in: by default the app boots without its tools (its table is migrated all the same)', async () => {
    const app = await startApp();
    try {
      for (const tool of ['echo', 'notes.add']) await app.grant('notes-dave', tool);
      const client = await connectClient(
        app.mcpUrl,
        await app.bearer('notes-dave', ['tool:echo', 'tool:notes.add']),
      );
      const { tools } = await client.listTools();
      // Granted and in scope, yet not there: the pack is not loaded.
      expect(tools.map((t) => t.name)).toEqual(['echo']);
      await expect(client.callTool({ name: 'notes.add', arguments: { text: 'x' } })).rejects.toThrow(
        /notes\.add/,
      );
      await client.close();
      expect(await columnsOf(app, 'pack_notes')).toContain('text');
    } finally {
      await app.close();
    }
  });
});
