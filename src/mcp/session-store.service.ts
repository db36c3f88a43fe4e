import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { McpSessionEntity } from './mcp-session.entity.js';

/** The shared half of sessions (PostgreSQL): existence, owner agent and idle expiry, the same on every replica. */
@Injectable()
export class SessionStore {
  constructor(
    @InjectRepository(McpSessionEntity) private readonly sessions: Repository<McpSessionEntity>,
    private readonly config: AppConfig,
  ) {}

  async create(id: string, agentId: string, protocolVersion?: string, clientInfo?: Record<string, unknown>) {
    await this.sessions.query(
      `INSERT INTO mcp_session (id, agent_id, protocol_version, client_info) VALUES ($1, $2, $3, $4)`,
      [id, agentId, protocolVersion ?? null, clientInfo ? JSON.stringify(clientInfo) : null],
    );
  }

  /** True when the session exists, belongs to `agentId` and is not idle-expired; marks it seen. */
  async touch(id: string, agentId: string): Promise<boolean> {
    // As a CTE so that query() returns the SELECT's rows (for a bare UPDATE TypeORM returns [rows, count]).
    const [{ n }]: { n: number }[] = await this.sessions.query(
      `WITH seen AS (
         UPDATE mcp_session SET last_seen_at = now()
          WHERE id = $1 AND agent_id = $2 AND last_seen_at > now() - make_interval(secs => $3)
          RETURNING 1)
       SELECT count(*)::int AS n FROM seen`,
      [id, agentId, this.config.mcp.sessionIdleTimeoutMs / 1000],
    );
    return n > 0;
  }

  /** Seen within the idle timeout (by any replica)? */
  async isActive(id: string): Promise<boolean> {
    const rows: unknown[] = await this.sessions.query(
      `SELECT 1 FROM mcp_session WHERE id = $1 AND last_seen_at > now() - make_interval(secs => $2)`,
      [id, this.config.mcp.sessionIdleTimeoutMs / 1000],
    );
    return rows.length > 0;
  }

  async delete(id: string): Promise<void> {
    await this.sessions.delete({ id });
  }

  async deleteMany(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.sessions.query(`DELETE FROM mcp_session WHERE id = ANY($1)`, [ids]);
  }

  /** Deletes sessions idle for longer than the timeout; returns how many. */
  async deleteIdle(): Promise<number> {
    const result = await this.sessions
      .createQueryBuilder()
      .delete()
      .where('last_seen_at < now() - make_interval(secs => :secs)', {
        secs: this.config.mcp.sessionIdleTimeoutMs / 1000,
      })
      .execute();
    return result.affected ?? 0;
  }
}
