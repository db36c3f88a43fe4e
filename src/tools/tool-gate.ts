import { Injectable } from '@nestjs/common';
import { CoalescedLookup } from '../database/coalesced-lookup.js';
import { HotSql, type Statement } from '../database/hot-sql.js';
import { grantInForceSql } from '../permissions/permissions.service.js';
import { toolSwitchedOffSql } from '../resilience/tool-switch.service.js';
import type { ToolDefinition } from './tool.types.js';

/** The database's answers for one call: is this version switched off, and does the agent hold a grant for it? */
export interface GateReading {
  disabled: boolean;
  granted: boolean;
}

/**
 * The per-call reads of `tools/call` in ONE statement (one round trip instead of two): the kill switch (owned by
 * resilience/) and the grant (owned by permissions/), both read from PostgreSQL on every call, never cached.
 * It lives here, in the tools pipeline, because only the pipeline needs both answers at once; each module keeps
 * the one definition of its condition (`toolSwitchedOffSql`, `grantInForceSql`), and permissions/ stays free of
 * resilience/ and tools/. What the answers mean stays where it was: ResolveStep refuses a disabled tool, and
 * AccessPolicy (the decision `tools/list` uses too) decides on scope and grant. Concurrent calls share the
 * statement (CoalescedLookup): one row per call, each read after its call arrived.
 */
@Injectable()
export class ToolGate {
  /** One row per (agent, tool, version) asked for; `$1`, `$2`, `$3` are parallel arrays. */
  private static readonly READ: Statement = {
    name: 'tool_gate',
    text: `SELECT k.i, ${toolSwitchedOffSql('k.name', 'k.version')} AS disabled,
                 ${grantInForceSql('k.agent', 'k.name', 'k.version')} AS granted
             FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(agent, name, version, i)`,
  };

  /** Concurrent calls share a statement, each read after its call arrived; unanswered = refused. */
  readonly lookups = new CoalescedLookup<string, GateReading>((keys) => this.readMany(keys), {
    disabled: false,
    granted: false,
  });

  constructor(private readonly sql: HotSql) {}

  read(agentId: string, tool: Pick<ToolDefinition, 'name' | 'version'>): Promise<GateReading> {
    // JSON, not a joined string: an agent id may hold any character, and must never spill into the tool name.
    return this.lookups.get(JSON.stringify([agentId, tool.name, tool.version]));
  }

  private async readMany(keys: string[]): Promise<Map<string, GateReading>> {
    const parts = keys.map((key) => JSON.parse(key) as [string, string, string]);
    const rows = await this.sql.rows<GateReading & { i: string }>(ToolGate.READ, [
      parts.map((p) => p[0]),
      parts.map((p) => p[1]),
      parts.map((p) => p[2]),
    ]);
    // WITH ORDINALITY numbers the keys from 1 (as a bigint, which pg returns as a string).
    return new Map(rows.map((r) => [keys[Number(r.i) - 1], { disabled: r.disabled, granted: r.granted }]));
  }
}
