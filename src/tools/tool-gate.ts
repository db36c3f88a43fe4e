import { Injectable } from '@nestjs/common';
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
 * AccessPolicy (the decision `tools/list` uses too) decides on scope and grant.
 */
@Injectable()
export class ToolGate {
  private static readonly READ: Statement = {
    name: 'tool_gate',
    text: `SELECT ${toolSwitchedOffSql('$1', '$2')} AS disabled, ${grantInForceSql('$3', '$1', '$2')} AS granted`,
  };

  constructor(private readonly sql: HotSql) {}

  async read(agentId: string, tool: Pick<ToolDefinition, 'name' | 'version'>): Promise<GateReading> {
    const [row] = await this.sql.rows<GateReading>(ToolGate.READ, [tool.name, tool.version, agentId]);
    return { disabled: row.disabled, granted: row.granted };
  }
}
