import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';

/** docker is only a client on CI machines: the compose file is checked by parsing, not by running it. */
describe('docker-compose.yml', () => {
  it('parses and wires the service to PostgreSQL and Redis with health checks', async () => {
    const compose = parse(await readFile('docker-compose.yml', 'utf8')) as {
      services: Record<
        string,
        { healthcheck?: unknown; environment?: Record<string, string>; depends_on?: object }
      >;
    };
    expect(Object.keys(compose.services).sort()).toEqual(['mcp', 'postgres', 'redis']);
    for (const service of Object.values(compose.services)) expect(service.healthcheck).toBeDefined();
    const env = compose.services.mcp.environment!;
    expect(env.DATABASE_URL).toMatch(/^postgresql:\/\/.+@postgres:5432\//);
    expect(env.REDIS_URL).toBe('redis://redis:6379');
    expect(compose.services.mcp.depends_on).toMatchObject({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
  });
});
