import { jest } from '@jest/globals';
import type { ServerEvent } from '@modelcontextprotocol/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AdminAudit } from '../audit/admin-action.js';
import type { PermissionsService } from '../permissions/permissions.service.js';
import type { ToolSwitchService } from '../resilience/tool-switch.service.js';
import type { ChangeFeed } from '../tools/change-feed.service.js';
import type { PromptRegistry } from '../tools/prompt-registry.service.js';
import type { ResourceRegistry } from '../tools/resource-registry.service.js';
import type { ToolRegistry } from '../tools/tool-registry.service.js';
import { GrantsController } from './grants.controller.js';
import { ToolSwitchController } from './tool-switch.controller.js';

/** Admin actions that change what agents see tell their listen streams, once committed. */
describe('admin actions announce list changes', () => {
  const sent: { event: ServerEvent; agentId?: string }[] = [];
  const changes = {
    send: async (event: ServerEvent, agentId?: string) => void sent.push({ event, agentId }),
    grantChanged: async (agentId: string, key: string) =>
      void sent.push({
        event: { kind: key.startsWith('prompt:') ? 'prompts_list_changed' : 'tools_list_changed' },
        agentId,
      }),
  } as unknown as ChangeFeed;
  const committed = {
    act: async (_actor: unknown, _action: string, work: (m: never) => Promise<unknown>) => ({
      result: await work(undefined as never),
      auditId: 'audit-1',
    }),
  } as unknown as AdminAudit;
  const failing = { act: async () => Promise.reject(new Error('rolled back')) } as unknown as AdminAudit;
  const req = { id: 'r1', ip: '127.0.0.1', headers: {} } as unknown as FastifyRequest;
  const reply = { header: () => reply } as unknown as FastifyReply;
  const grant = { id: 'g1', agentId: 'alice', toolName: 'prompt:greeting' };
  const permissions = {
    grant: async () => grant,
    find: async () => grant,
    revoke: async () => true,
  } as unknown as PermissionsService;
  const prompts = { get: () => ({}) } as unknown as PromptRegistry;
  const tools = { get: () => ({}) } as unknown as ToolRegistry;
  const grants = (audit: AdminAudit) =>
    new GrantsController(permissions, tools, {} as ResourceRegistry, prompts, audit, changes);

  beforeEach(() => (sent.length = 0));

  it('tells the agent whose grant was created or revoked, and nobody else', async () => {
    await grants(committed).create(req, reply, { agentId: 'alice', toolName: 'prompt:greeting' });
    await grants(committed).revoke(req, reply, 'g1');
    expect(sent).toEqual([
      { event: { kind: 'prompts_list_changed' }, agentId: 'alice' },
      { event: { kind: 'prompts_list_changed' }, agentId: 'alice' },
    ]);
  });

  it('announces nothing when the action did not commit', async () => {
    await expect(grants(failing).revoke(req, reply, 'g1')).rejects.toThrow('rolled back');
    expect(sent).toEqual([]);
  });

  it('tells every agent when a tool is switched off, or back on', async () => {
    const switches = { disable: async () => undefined, enable: jest.fn(async () => true) };
    const controller = new ToolSwitchController(
      switches as unknown as ToolSwitchService,
      tools,
      committed,
      changes,
    );
    await controller.disable(req, reply, 'echo', {});
    await controller.enable(req, reply, 'echo', {});
    switches.enable.mockResolvedValueOnce(false); // was not off: nothing changed
    await controller.enable(req, reply, 'echo', {});
    expect(sent).toEqual([
      { event: { kind: 'tools_list_changed' } },
      { event: { kind: 'tools_list_changed' } },
    ]);
  });
});
