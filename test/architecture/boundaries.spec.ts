import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

/**
 * The checks of docs/architecture.md ("Rules the lint enforces") fail on a planted violation of each rule, naming
 * it, and pass on the real tree. Planted cases live in a scratch project (stubs for what they import, the repo's
 * configs and node_modules), never in src/: one depcruise and one ESLint run cover them all.
 */
const ROOT = process.cwd();
const run = promisify(execFile);
const depcruiseBin = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs');
const eslintBin = join(ROOT, 'node_modules/eslint/bin/eslint.js');
const BODY_RULE = 'local/request-body-only-in-request-view';

interface Planted {
  /** The planted file (path in the scratch project) and its import. */
  file: string;
  imports: string;
  /** The rules that must name it: exactly these. */
  rules: string[];
}

const importCases: Planted[] = [
  { file: 'src/unplaced/x.ts', imports: '../common/stub.js', rules: ['every-folder-placed'] },
  { file: 'src/tools/cycle-a.ts', imports: './cycle-b.js', rules: ['no-circular'] },
  { file: 'src/resilience/x.ts', imports: '../permissions/stub.js', rules: ['no-folder-cycles'] },
  { file: 'src/auth/x.ts', imports: '../tools/stub.js', rules: ['auth-only-leaves'] },
  { file: 'src/auth/y.ts', imports: '../database/stub.js', rules: ['auth-only-leaves'] },
  { file: 'src/state/to-mcp.ts', imports: '../mcp/mcp.controller.js', rules: ['domain-not-transport'] },
  { file: 'src/audit/to-admission.ts', imports: '../admission/stub.js', rules: ['domain-not-transport'] },
  { file: 'src/state/to-tools.ts', imports: '../tools/stub.js', rules: ['domain-not-pipeline'] },
  { file: 'src/admission/x.ts', imports: '../mcp/mcp.controller.js', rules: ['admission-not-transport'] },
  { file: 'src/tools/to-mcp.ts', imports: '../mcp/mcp.controller.js', rules: ['pipeline-not-upward'] },
  { file: 'src/tools/to-admission.ts', imports: '../admission/stub.js', rules: ['pipeline-not-upward'] },
  { file: 'src/tools/to-auth.ts', imports: '../auth/stub.js', rules: ['pipeline-not-upward'] },
  { file: 'src/metrics/x.ts', imports: '../tools/stub.js', rules: ['observability-not-upward'] },
  { file: 'src/tool-modules/a/to-auth.ts', imports: '../../auth/stub.js', rules: ['pack-only-tools-api'] },
  { file: 'src/tool-modules/a/to-db.ts', imports: '../../database/stub.js', rules: ['pack-only-tools-api'] },
  { file: 'src/tool-modules/a/to-tools.ts', imports: '../../tools/stub.js', rules: ['pack-only-tools-api'] },
  { file: 'src/tool-modules/a/ok.ts', imports: '../../tools/tool.decorator.js', rules: [] },
  { file: 'src/tool-modules/a/to-b.ts', imports: '../b/stub.js', rules: ['pack-not-other-pack'] },
  { file: 'src/common/x.ts', imports: '../tools/stub.js', rules: ['leaves-import-no-feature'] },
  { file: 'src/config/x.ts', imports: '../state/stub.js', rules: ['leaves-import-no-feature'] },
  { file: 'src/database/x.ts', imports: '../state/stub.js', rules: ['database-only-leaves'] },
  { file: 'src/tools/to-root.ts', imports: '../app.module.js', rules: ['roots-not-imported'] },
  { file: 'migrations/1-X.ts', imports: '../src/state/stub.js', rules: ['migrations-never-import-src'] },
  { file: 'src/mcp/to-test.ts', imports: '../../test/utils/stub.js', rules: ['src-not-tests'] },
  { file: 'src/mcp/to-sdk1.ts', imports: '@modelcontextprotocol/sdk/server', rules: ['no-sdk-v1'] },
  { file: 'src/mcp/to-nothing.ts', imports: './missing.js', rules: ['not-to-unresolvable'] },
];

/** The targets the cases import: empty modules. */
const stubs = [
  'src/common/stub.ts',
  'src/tools/stub.ts',
  'src/tools/tool.decorator.ts',
  'src/database/stub.ts',
  'src/state/stub.ts',
  'src/permissions/stub.ts',
  'src/auth/stub.ts',
  'src/resilience/stub.ts',
  'src/admission/stub.ts',
  'src/mcp/mcp.controller.ts',
  'src/tool-modules/b/stub.ts',
  'src/app.module.ts',
  'test/utils/stub.ts',
];
/** The other halves of the planted cycles (of files, of folders). */
const otherHalves = [
  { file: 'src/tools/cycle-b.ts', text: `import './cycle-a.js';\nexport {};\n` },
  { file: 'src/permissions/y.ts', text: `import '../resilience/stub.js';\nexport {};\n` },
];

/** Files for the body rule, and the messages (their check's name) each must get. */
const bodyCases: { file: string; source: string; reported: number }[] = [
  {
    file: 'src/mcp/read.ts',
    source: `export const f = (req: FastifyRequest): unknown => req.body;`,
    reported: 1,
  },
  {
    file: 'src/mcp/renamed.ts',
    source: `export const f = (r: FastifyRequest | undefined): unknown => (r as FastifyRequest).body;`,
    reported: 1,
  },
  {
    file: 'src/mcp/raw.ts',
    source: `export const f = (req: FastifyRequest): unknown => (req.raw as unknown as { body: unknown }).body;`,
    reported: 1,
  },
  {
    file: 'src/mcp/destructured.ts',
    source: `export function f(req: FastifyRequest): unknown {\n  const { body } = req;\n  return body;\n}`,
    reported: 1,
  },
  {
    file: 'src/app.factory.ts',
    source:
      `export function install(fastify: FastifyInstance): void {\n` +
      `  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) =>\n` +
      `    done(null, JSON.parse(body as string)),\n  );\n}`,
    reported: 1,
  },
  {
    file: 'src/mcp/decorated.ts',
    source: `export class C {\n  post(@Body() input: unknown): unknown {\n    return input;\n  }\n}`,
    reported: 1,
  },
  {
    // The admin API takes its validated DTOs through @Body(); only there.
    file: 'src/admin/decorated.ts',
    source: `export class C {\n  post(@Body() input: unknown): unknown {\n    return input;\n  }\n}`,
    reported: 0,
  },
  {
    // Bodies that are not requests' (a fetch Response, a plain object) are nobody's business.
    file: 'src/mcp/response.ts',
    source: `export const f = (res: Response, o: { body: string }) => [res.body, o.body];`,
    reported: 0,
  },
  {
    file: 'src/common/request-view.ts',
    source:
      `export const f = (req: FastifyRequest): unknown => req.body;\n` +
      `export const g = (fastify: FastifyInstance) => fastify.addContentTypeParser('x', () => undefined);`,
    reported: 0,
  },
];

const HEADER = `import { Body } from '@nestjs/common';\nimport type { FastifyInstance, FastifyRequest } from 'fastify';\n`;
/** Enough TypeScript for type-aware linting of the cases (decorators, Node and Fastify types). */
const TSCONFIG = {
  compilerOptions: {
    target: 'ES2023',
    module: 'nodenext',
    strict: true,
    experimentalDecorators: true,
    skipLibCheck: true,
    types: ['node'],
  },
  include: ['src'],
};

async function put(dir: string, file: string, text: string): Promise<void> {
  await mkdir(dirname(join(dir, file)), { recursive: true });
  await writeFile(join(dir, file), text);
}

/** A scratch project that sees the repository's configs and node_modules. */
async function scratch(configs: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'boundaries-'));
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  for (const config of configs) await copyFile(join(ROOT, config), join(dir, config));
  return dir;
}

interface CruiseReport {
  summary: {
    violations: { from: string; to: string; rule: { name: string }; cycle?: { name: string }[] }[];
  };
}

async function depcruise(cwd: string): Promise<CruiseReport> {
  const args = [depcruiseBin, 'src', 'migrations', '--config', '.dependency-cruiser.cjs', '-T', 'json'];
  // Violations exit non-zero; the report is on stdout either way.
  const { stdout } = await run(process.execPath, args, { cwd, maxBuffer: 64 << 20 }).catch(
    (error: { stdout?: string; stderr?: string }) => {
      if (!error.stdout) throw new Error(error.stderr);
      return { stdout: error.stdout };
    },
  );
  return JSON.parse(stdout) as CruiseReport;
}

describe('module boundaries (dependency-cruiser)', () => {
  let dir: string;
  let report: CruiseReport;

  beforeAll(async () => {
    dir = await scratch(['.dependency-cruiser.cjs', 'tsconfig.json']);
    for (const stub of stubs) await put(dir, stub, 'export {};\n');
    for (const { file, text } of otherHalves) await put(dir, file, text);
    for (const { file, imports } of importCases) await put(dir, file, `import '${imports}';\nexport {};\n`);
    report = await depcruise(dir);
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('has a planted case for every rule of the config', () => {
    const require = createRequire(import.meta.url);
    const config = require(resolve(ROOT, '.dependency-cruiser.cjs')) as { forbidden: { name: string }[] };
    const planted = new Set(importCases.flatMap(({ rules }) => rules));
    expect(config.forbidden.map(({ name }) => name).filter((name) => !planted.has(name))).toEqual([]);
  });

  it.each(importCases)('$file → $imports: $rules', ({ file, rules }) => {
    // A cycle is reported once, from whichever of its files the cruiser met first; a folder rule from the folder.
    // The planted cases make folder cycles among themselves (auth → tools → auth): only its own case checks them.
    const named = report.summary.violations
      .filter(
        ({ from, cycle }) => [file, dirname(file)].includes(from) || cycle?.some(({ name }) => name === file),
      )
      .filter(({ rule }) => rule.name !== 'no-folder-cycles' || rules.includes(rule.name))
      .map(({ rule }) => rule.name);
    expect([...new Set(named)].sort()).toEqual([...rules].sort());
  });

  it('passes on the real tree', async () => {
    const violations = (await depcruise(ROOT)).summary.violations;
    expect(violations.map(({ rule, from, to }) => `${rule.name}: ${from} → ${to}`)).toEqual([]);
  });
});

describe('request bodies are read in the request view only (ESLint)', () => {
  let dir: string;
  let reported: Map<string, string[]>;

  beforeAll(async () => {
    dir = await scratch(['eslint.config.js', 'package.json']);
    await put(dir, 'tsconfig.json', JSON.stringify(TSCONFIG));
    for (const { file, source } of bodyCases) await put(dir, file, `${HEADER}${source}\n`);
    const args = [eslintBin, '--format', 'json', 'src'];
    const { stdout } = await run(process.execPath, args, { cwd: dir, maxBuffer: 64 << 20 }).catch(
      (error: { stdout?: string; stderr?: string }) => {
        if (!error.stdout) throw new Error(error.stderr);
        return { stdout: error.stdout };
      },
    );
    const results = JSON.parse(stdout) as {
      filePath: string;
      messages: { ruleId: string | null; message: string }[];
    }[];
    reported = new Map(
      results.map(({ filePath, messages }) => [
        filePath.slice(dir.length + 1),
        messages.filter(({ ruleId }) => ruleId === BODY_RULE).map(({ message }) => message),
      ]),
    );
  }, 60_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each(bodyCases)('$file: $reported report(s)', ({ file, reported: count }) => {
    const messages = reported.get(file) ?? [];
    expect(messages).toHaveLength(count);
    for (const message of messages) expect(message).toMatch(/^request-body-only-in-request-view: /);
  });
});
