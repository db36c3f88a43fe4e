import { readdir, readFile } from 'node:fs/promises';
import { parse, parseAllDocuments } from 'yaml';

/** docker is only a client on CI machines and there is no cluster: deployment files are checked by parsing. */
describe('docker-compose.yml', () => {
  type Service = {
    healthcheck?: unknown;
    environment?: Record<string, string>;
    depends_on?: Record<string, { condition: string }> | string[];
    command?: string[];
    volumes?: string[];
    ports?: string[];
  };
  let services: Record<string, Service>;
  beforeAll(async () => {
    services = (
      parse(await readFile('docker-compose.yml', 'utf8'), { merge: true }) as {
        services: Record<string, Service>;
      }
    ).services;
  });

  it('runs the full stack: PostgreSQL, Redis, migrations, two replicas behind a proxy, Prometheus, Grafana', () => {
    expect(Object.keys(services).sort()).toEqual([
      'grafana',
      'mcp-1',
      'mcp-2',
      'migrate',
      'postgres',
      'prometheus',
      'proxy',
      'redis',
    ]);
    expect(services.migrate.command).toEqual(['node', 'dist/src/database/cli.js', 'run']);
    for (const name of ['mcp-1', 'mcp-2']) {
      const env = services[name].environment!;
      expect(env.DATABASE_URL).toMatch(/^postgresql:\/\/.+@postgres:5432\//);
      expect(env.REDIS_URL).toBe('redis://redis:6379');
      expect(env.MIGRATIONS_RUN).toBe('false'); // the migrate service applies them once
      expect(services[name].healthcheck).toBeDefined();
      expect(services[name].depends_on).toMatchObject({
        migrate: { condition: 'service_completed_successfully' },
      });
    }
    expect(services.proxy.depends_on).toMatchObject({ 'mcp-1': { condition: 'service_healthy' } });
  });

  it('mounts files that exist: the proxy config and the alert rules Prometheus loads', async () => {
    const mounts = [...services.proxy.volumes!, ...services.prometheus.volumes!].map((v) => v.split(':')[0]);
    for (const file of mounts) await expect(readFile(file, 'utf8')).resolves.toBeTruthy();
    const nginx = await readFile('deploy/compose/nginx.conf', 'utf8');
    expect(nginx).toMatch(/server mcp-1:3000/);
    expect(nginx).toMatch(/hash \$http_mcp_session_id consistent/);
    const prometheus = parse(await readFile('deploy/compose/prometheus.yml', 'utf8')) as {
      rule_files: string[];
      scrape_configs: { static_configs: { targets: string[] }[] }[];
    };
    expect(prometheus.rule_files).toEqual(['/etc/prometheus/alerts.yml']);
    expect(prometheus.scrape_configs[0].static_configs[0].targets).toEqual(['mcp-1:3000', 'mcp-2:3000']);
  });

  it('provisions Grafana with the dashboard from files that exist, on the Prometheus service', async () => {
    // Container path -> repository file.
    const mounts = new Map(services.grafana.volumes!.map((v) => [v.split(':')[1], v.split(':')[0]]));
    for (const file of mounts.values()) await expect(readFile(file, 'utf8')).resolves.toBeTruthy();
    const mounted = async (path: string): Promise<unknown> =>
      parse(await readFile(mounts.get(path)!, 'utf8'));

    // The dashboard provider reads the folder the dashboard JSON is mounted into.
    const provider = (
      (await mounted('/etc/grafana/provisioning/dashboards/mcp-production.yml')) as {
        providers: { type: string; options: { path: string } }[];
      }
    ).providers[0];
    expect(provider.type).toBe('file');
    const dashboardPath = `${provider.options.path}/mcp-production.json`;
    expect(mounts.get(dashboardPath)).toBe('./deploy/grafana/mcp-production.json');
    expect(services.grafana.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(dashboardPath);
    const dashboard = (await mounted(dashboardPath)) as {
      uid: string;
      templating: { list: { name: string }[] };
    };
    expect(dashboard.uid).toBe('mcp-production');

    // The data source is the compose Prometheus (service name and its port), and the dashboard's variable picks it.
    const datasource = (
      (await mounted('/etc/grafana/provisioning/datasources/prometheus.yml')) as {
        datasources: { type: string; url: string; isDefault: boolean }[];
      }
    ).datasources[0];
    expect(datasource).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true });
    expect(services.prometheus.ports).toContain('9090:9090');
    expect(dashboard.templating.list.map((v) => v.name)).toContain('datasource');
    expect(services.grafana.depends_on).toMatchObject({ prometheus: { condition: 'service_healthy' } });
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

  it("caps the image's V8 heap well under the pod's memory limit", async () => {
    const options = /^ENV NODE_OPTIONS=(.+)$/m.exec(await readFile('Dockerfile', 'utf8'))?.[1] ?? '';
    const heapMb = Number(/--max-old-space-size=(\d+)/.exec(options)?.[1]);
    const limit = String(find('Deployment').spec.template.spec.containers[0].resources.limits.memory);
    const limitMb = Number(/^(\d+)Mi$/.exec(limit)?.[1]);
    expect(heapMb).toBeGreaterThanOrEqual(128); // below that, GC costs throughput (README "Benchmark")
    // Old space + young generation, code, buffers and the rest of the process: at least twice the heap cap.
    expect(limitMb).toBeGreaterThanOrEqual(2 * heapMb);
  });

  it('runs migrations with the CLI the image ships', () => {
    expect(find('Job').spec.template.spec.containers[0].command).toEqual([
      'node',
      'dist/src/database/cli.js',
      'run',
    ]);
  });
});
