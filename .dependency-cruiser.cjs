/**
 * Module boundaries of src/ (docs/architecture.md, "Rules the lint enforces"), checked by `npm run check`:
 *   depcruise src migrations --config .dependency-cruiser.cjs
 * Every folder of src/ sits in one layer; each rule below forbids one kind of import and is named in the docs and in
 * test/architecture/boundaries.spec.ts, which plants a violation of each. Specs are not cruised: like the build
 * (tsconfig.build.json), the rules hold for the code that ships; tests may reach across layers to set things up.
 */

/** Regexes of the layers (paths relative to the repository root). */
const layer = {
  /**
   * What wires everything: the app (module, factory, main), its CLIs (and their admin client), the list of packs,
   * the storage's parts (every entity and migration) and the list of core migrations.
   */
  roots:
    '^src/(app\\.module|app\\.factory|main|persistence)\\.ts$|^src/tool-modules/tool-packs\\.module\\.ts$|' +
    '^src/cli/|^src/.+\\.cli\\.ts$|^src/database/cli\\.ts$|^migrations/index\\.ts$',
  /** HTTP in and out: MCP, the admin API, health, and the metrics endpoint (not the metrics service). */
  transport: '^src/(mcp|admin|health)/|^src/metrics/metrics\\.(controller|module)\\.ts$',
  /** The admission decision between authentication and the pipeline (revocation, kill switch, grant, scope). */
  admission: '^src/admission/',
  /** Token verification only: yields a Principal. */
  auth: '^src/auth/',
  /** The operation pipeline and the tool-author API. */
  pipeline: '^src/tools/',
  domain: '^src/(permissions|state|audit|resilience)/',
  /** Metrics and tracing, recorded by every layer above the leaves (the HTTP side is transport). */
  observability: '^src/metrics/',
  infrastructure: '^src/database/',
  leaves: '^src/(common|config)/',
  common: '^src/common/',
  /** One folder per tool pack. */
  packs: '^src/tool-modules/[^/]+/',
};

/** What a pack may use of the pipeline: the tool-author API (decorators, types, errors, input, change feed). */
const toolsApi =
  '^src/tools/(tool\\.decorator|tool\\.types|resource\\.decorator|prompt\\.decorator|resource-prompt\\.types|' +
  'tool-errors|input|change-feed\\.service|tools\\.module)\\.ts$';

const shipped = '^(src|migrations)/';

module.exports = {
  forbidden: [
    {
      name: 'every-folder-placed',
      comment: 'A new folder of src/ must first be placed in a layer here, so that the rules below cover it.',
      severity: 'error',
      from: { path: '^src/', pathNot: Object.values(layer) },
      to: {},
    },
    {
      name: 'no-circular',
      comment: 'A file cycle has no order to read, test or initialise in (Nest providers, ESM evaluation).',
      severity: 'error',
      from: { path: shipped },
      to: { circular: true },
    },
    {
      name: 'no-folder-cycles',
      comment:
        'Two folders that import each other are one module in two places (auth ↔ tools once was): ' +
        'the layers are only layers if the folder graph has no cycle either.',
      severity: 'error',
      scope: 'folder',
      from: { path: shipped },
      to: { circular: true },
    },
    {
      name: 'auth-only-leaves',
      comment:
        'auth/ only authenticates: token in, Principal out. What a principal may do is decided elsewhere.',
      severity: 'error',
      from: { path: layer.auth, pathNot: layer.roots },
      to: { path: shipped, pathNot: [layer.auth, layer.leaves] },
    },
    {
      name: 'domain-not-transport',
      comment:
        'permissions/, state/, audit/, resilience/ serve every entry point: they import no transport or admission.',
      severity: 'error',
      from: { path: layer.domain, pathNot: layer.roots },
      to: { path: [layer.transport, layer.admission] },
    },
    {
      name: 'domain-not-pipeline',
      comment: 'The pipeline calls the domain, never the other way round (data flows down only).',
      severity: 'error',
      from: { path: layer.domain, pathNot: layer.roots },
      to: { path: layer.pipeline },
    },
    {
      name: 'admission-not-transport',
      comment: 'Admission decides on a Principal and a request view, whichever transport brought them.',
      severity: 'error',
      from: { path: layer.admission },
      to: { path: layer.transport },
    },
    {
      name: 'pipeline-not-upward',
      comment:
        'tools/ runs every operation the same way whoever calls it: the admission and principal are passed in, ' +
        'never looked up in transport, admission or auth.',
      severity: 'error',
      from: { path: layer.pipeline },
      to: { path: [layer.transport, layer.admission, layer.auth] },
    },
    {
      name: 'observability-not-upward',
      comment:
        'Metrics and tracing are recorded from every layer, so they may depend on none of the upper ones.',
      severity: 'error',
      from: { path: layer.observability, pathNot: layer.transport },
      to: { path: [layer.transport, layer.admission, layer.auth, layer.pipeline] },
    },
    {
      name: 'pack-only-tools-api',
      comment:
        'A pack is one folder on the tool-author API and common/: never auth/, database/, permissions/, ' +
        'admission/ or the pipeline internals, so packs can be added and removed freely.',
      severity: 'error',
      from: { path: layer.packs },
      to: { path: shipped, pathNot: [toolsApi, layer.common, '^src/tool-modules/'] },
    },
    {
      name: 'pack-not-other-pack',
      comment:
        'Packs are independent: one pack never imports another (shared code belongs in common/ or tools/).',
      severity: 'error',
      from: { path: '^src/tool-modules/([^/]+)/' },
      to: { path: '^src/tool-modules/', pathNot: '^src/tool-modules/$1/' },
    },
    {
      name: 'leaves-import-no-feature',
      comment: 'common/ and config/ are imported by everything, so they import no feature folder.',
      severity: 'error',
      from: { path: layer.leaves },
      to: { path: shipped, pathNot: layer.leaves },
    },
    {
      name: 'database-only-leaves',
      comment: 'The storage setup knows no feature: features bring their entities and migrations to it.',
      severity: 'error',
      from: { path: layer.infrastructure, pathNot: layer.roots },
      to: { path: shipped, pathNot: [layer.infrastructure, layer.leaves] },
    },
    {
      name: 'roots-not-imported',
      comment:
        'Composition roots (app, CLIs, packs, storage parts, migrations) wire features; no feature wires them.',
      severity: 'error',
      from: { path: shipped, pathNot: layer.roots },
      to: { path: layer.roots },
    },
    {
      name: 'migrations-never-import-src',
      comment:
        'A migration is a frozen step of the schema: it must not change when an entity or constant does.',
      severity: 'error',
      from: { path: '^migrations/', pathNot: layer.roots },
      to: { path: '^src/' },
    },
    {
      name: 'src-not-tests',
      comment: 'Shipped code never loads test or benchmark code (not in the build, not in the image).',
      severity: 'error',
      from: { path: shipped },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-sdk-v1',
      comment: "The server is on MCP SDK v2; the 1.x SDK is a devDependency for the tests' 2025 client only.",
      severity: 'error',
      from: { path: shipped },
      to: { path: '(^|/)node_modules/@modelcontextprotocol/sdk/' },
    },
    {
      name: 'not-to-unresolvable',
      comment:
        'An import the cruiser cannot resolve would escape every rule above (e.g. a broken .js→.ts mapping).',
      severity: 'error',
      from: { path: shipped },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.spec\\.ts$' },
    tsConfig: { fileName: 'tsconfig.json' },
    // Type-only imports are dependencies too: a domain file naming a transport type is coupled to it.
    tsPreCompilationDeps: true,
    // Packages with an `exports` map only (the MCP SDK v2) resolve through it, as Node does.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
