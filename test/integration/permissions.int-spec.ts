import type { Principal } from '../../src/common/principal.js';
import { AccessPolicy } from '../../src/permissions/access-policy.service.js';
import { PermissionsService } from '../../src/permissions/permissions.service.js';
import { startApp, type TestApp } from '../utils/app.js';
import { databaseKind } from '../utils/database.js';

const principal = (agentId: string, ...tools: string[]): Principal => ({
  agentId,
  scopes: new Set(tools.map((t) => `tool:${t}`)),
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`permissions (${databaseKind})`, () => {
  let app: TestApp;
  let permissions: PermissionsService;
  let policy: AccessPolicy;
  beforeAll(async () => {
    app = await startApp();
    permissions = app.app.get(PermissionsService);
    policy = app.app.get(AccessPolicy);
  });
  afterAll(() => app.close());

  const echo = { name: 'echo', version: '1.0.0' };

  it('needs the scope AND a grant', async () => {
    await permissions.grant({ agentId: 'p-both', toolName: 'echo', grantedBy: 'test' });
    expect(await policy.decide(principal('p-both', 'echo'), echo)).toEqual({ allowed: true });
    expect(await policy.decide(principal('p-both'), echo)).toEqual({ allowed: false, reason: 'scope' });
    expect(await policy.decide(principal('p-none', 'echo'), echo)).toEqual({
      allowed: false,
      reason: 'grant',
    });
  });

  it('stops honouring a grant the moment it expires', async () => {
    await permissions.grant({
      agentId: 'p-expiring',
      toolName: 'echo',
      grantedBy: 'test',
      expiresAt: new Date(Date.now() + 1000),
    });
    expect(await policy.decide(principal('p-expiring', 'echo'), echo)).toEqual({ allowed: true });
    await sleep(1100);
    expect(await policy.decide(principal('p-expiring', 'echo'), echo)).toEqual({
      allowed: false,
      reason: 'grant',
    });
    expect(await permissions.list({ agentId: 'p-expiring', active: true })).toEqual([]);
    expect(await permissions.list({ agentId: 'p-expiring' })).toHaveLength(1);
  });

  it('revokes on the next decision, and a new grant restores access', async () => {
    const grant = await permissions.grant({ agentId: 'p-revoked', toolName: 'echo', grantedBy: 'test' });
    expect((await policy.decide(principal('p-revoked', 'echo'), echo)).allowed).toBe(true);
    expect(await permissions.revoke(grant.id, 'admin')).toBe(true);
    expect(await permissions.revoke(grant.id, 'admin')).toBe(false);
    expect((await policy.decide(principal('p-revoked', 'echo'), echo)).allowed).toBe(false);
    expect(await permissions.find(grant.id)).toMatchObject({
      revokedBy: 'admin',
      revokedAt: expect.any(Date),
    });

    await permissions.grant({ agentId: 'p-revoked', toolName: 'echo', grantedBy: 'test' });
    expect((await policy.decide(principal('p-revoked', 'echo'), echo)).allowed).toBe(true);
  });

  it('honours a version-pinned grant only for that version', async () => {
    await permissions.grant({
      agentId: 'p-pinned',
      toolName: 'echo',
      toolVersion: '1.0.0',
      grantedBy: 'test',
    });
    expect((await policy.decide(principal('p-pinned', 'echo'), echo)).allowed).toBe(true);
    expect(
      (await policy.decide(principal('p-pinned', 'echo'), { name: 'echo', version: '2.0.0' })).allowed,
    ).toBe(false);
  });

  it('lists for an agent exactly what the call decision allows', async () => {
    await permissions.grant({ agentId: 'p-list', toolName: 'a.tool', grantedBy: 'test' });
    await permissions.grant({ agentId: 'p-list', toolName: 'b.tool', grantedBy: 'test' });
    const tools = ['a.tool', 'b.tool', 'c.tool'].map((name) => ({ name, version: '1.0.0' }));
    // b.tool is granted but not in the token's scopes; c.tool is in scope but not granted.
    const who = principal('p-list', 'a.tool', 'c.tool');
    const listed = await policy.callable(who, tools);
    expect(listed.map((t) => t.name)).toEqual(['a.tool']);
    for (const tool of tools) {
      expect((await policy.decide(who, tool)).allowed).toBe(listed.includes(tool));
    }
  });
});
