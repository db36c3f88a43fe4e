import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository, type EntityManager } from 'typeorm';
import { PermissionGrantEntity } from './permission-grant.entity.js';

export interface GrantInput {
  agentId: string;
  toolName: string;
  toolVersion?: string | null;
  expiresAt?: Date | null;
  grantedBy: string;
}

export interface GrantFilter {
  agentId?: string;
  toolName?: string;
  /** Only grants that are neither revoked nor expired. */
  active?: boolean;
}

/** A condition for SQL: the grant is in force now (database clock, so every replica agrees). */
const ACTIVE = `g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > now())`;

/**
 * SQL boolean: does agent `agent` hold a grant in force for tool `name` at version `version` (placeholders such as
 * `$1`)? Without `version`: for any version of the tool (the name-level check made before a version is resolved).
 * The one definition of "granted", used by `isGranted` and by statements that fold this check into a
 * per-call query of their own (ToolGate), so that a call pays one round trip for its checks.
 */
export function grantInForceSql(agent: string, name: string, version?: string): string {
  const versioned =
    version === undefined ? '' : ` AND (g.tool_version IS NULL OR g.tool_version = ${version})`;
  return `EXISTS (SELECT 1 FROM permission_grant g
    WHERE g.agent_id = ${agent} AND g.tool_name = ${name}${versioned}
      AND ${ACTIVE})`;
}

/**
 * Grants live in PostgreSQL and are read on every decision: never cached, so an expiry, a revocation or a new
 * grant takes effect on the very next call on every replica.
 */
@Injectable()
export class PermissionsService {
  constructor(
    @InjectRepository(PermissionGrantEntity) private readonly grants: Repository<PermissionGrantEntity>,
  ) {}

  /** `manager`: inside the caller's transaction (an admin action commits with its audit row, AdminAudit). */
  async grant(input: GrantInput, manager?: EntityManager): Promise<PermissionGrantEntity> {
    const grants = this.repository(manager);
    return grants.save(
      grants.create({
        agentId: input.agentId,
        toolName: input.toolName,
        toolVersion: input.toolVersion ?? null,
        expiresAt: input.expiresAt ?? null,
        grantedBy: input.grantedBy,
      }),
    );
  }

  /** Revokes one grant; false when it does not exist or was already revoked. */
  async revoke(id: string, revokedBy: string, manager?: EntityManager): Promise<boolean> {
    const { affected } = await this.repository(manager)
      .createQueryBuilder()
      .update()
      .set({ revokedAt: () => 'now()', revokedBy })
      .where('id = :id AND revoked_at IS NULL', { id })
      .execute();
    return (affected ?? 0) > 0;
  }

  async find(id: string): Promise<PermissionGrantEntity | null> {
    return this.grants.findOneBy({ id });
  }

  async list(filter: GrantFilter = {}, limit = 500): Promise<PermissionGrantEntity[]> {
    const query = this.grants.createQueryBuilder('g').orderBy('g.granted_at', 'DESC').limit(limit);
    if (filter.agentId) query.andWhere('g.agent_id = :agentId', { agentId: filter.agentId });
    if (filter.toolName) query.andWhere('g.tool_name = :toolName', { toolName: filter.toolName });
    if (filter.active) query.andWhere(ACTIVE);
    return query.getMany();
  }

  /** Is there a grant in force for this agent, tool and version? One indexed query. */
  async isGranted(agentId: string, toolName: string, toolVersion: string): Promise<boolean> {
    const rows: { granted: boolean }[] = await this.grants.query(
      `SELECT ${grantInForceSql('$1', '$2', '$3')} AS granted`,
      [agentId, toolName, toolVersion],
    );
    return rows[0].granted;
  }

  /** The `name@version` pairs (version null = any) this agent holds a grant for now. */
  async grantedTools(agentId: string): Promise<{ toolName: string; toolVersion: string | null }[]> {
    const rows: { tool_name: string; tool_version: string | null }[] = await this.grants.query(
      `SELECT DISTINCT g.tool_name, g.tool_version FROM permission_grant g WHERE g.agent_id = $1 AND ${ACTIVE}`,
      [agentId],
    );
    return rows.map((r) => ({ toolName: r.tool_name, toolVersion: r.tool_version }));
  }

  private repository(manager: EntityManager | undefined): Repository<PermissionGrantEntity> {
    return manager ? manager.getRepository(PermissionGrantEntity) : this.grants;
  }
}
