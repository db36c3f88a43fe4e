import { readdir, readFile } from 'node:fs/promises';
import { parse, parseAllDocuments } from 'yaml';

/** docker is only a client on CI machines and there is no cluster: deployment files are checked by parsing. */
describe('docker-compose.yml', () => {
  it('parses and wires the service to PostgreSQL and Redis with health checks', async () => {
    const compose = parse(await readFile('docker-compose.yml', 'utf8')) as {
      services: Record<
        string,
        { healthcheck?: unknown; environment?: Record<string, string>; depends_on?: object }
      >;
    };
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

interface K8sObject {
  kind: string;
  metadata: { name: string };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form manifest, checked by the assertions
  spec: any;
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  let objects: K8sObject[];
  beforeAll(async () => {
    const dir = 'deploy/k8s';
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    objects = [];
    for (const file of files) {
      for (const doc of parseAllDocuments(await readFile(`${dir}/${file}`, 'utf8'))) {
        expect(doc.errors).toEqual([]);
        objects.push(doc.toJS() as K8sObject);
      }
    }
  });
  const find = (kind: string) => objects.find((o) => o.kind === kind)!;

  it('has every object an operator needs', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(
      expect.arrayContaining([
        'ConfigMap',
        'Deployment',
        'HorizontalPodAutoscaler',
        'Job',
        'PodDisruptionBudget',
        'Secret',
        'Service',
      ]),
    );
  });

  it('points every probe at the real health paths, and the container port at PORT', () => {
    const container = find('Deployment').spec.template.spec.containers[0];
    expect(container.startupProbe.httpGet.path).toBe('/health/ready');
    expect(container.readinessProbe.httpGet.path).toBe('/health/ready');
    expect(container.livenessProbe.httpGet.path).toBe('/health/live');
    const config = objects.find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
    expect(container.ports[0].containerPort).toBe(Number(config.data.PORT));
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
  });

  it('selects the same pods in the Deployment, Service and PodDisruptionBudget, but not the migration Job', () => {
    const podLabels = find('Deployment').spec.template.metadata.labels as Record<string, string>;
    const matches = (selector: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => podLabels[k] === v);
    expect(matches(find('Deployment').spec.selector.matchLabels)).toBe(true);
    expect(matches(find('Service').spec.selector)).toBe(true);
    expect(matches(find('PodDisruptionBudget').spec.selector.matchLabels)).toBe(true);
    const jobLabels = (find('Job').spec.template.metadata?.labels ?? {}) as Record<string, string>;
    expect(Object.entries(find('Service').spec.selector).every(([k, v]) => jobLabels[k] === v)).toBe(false);
  });

  it('runs migrations with the CLI the image ships', () => {
    expect(find('Job').spec.template.spec.containers[0].command).toEqual([
      'node',
      'dist/src/database/cli.js',
      'run',
    ]);
  });
});
