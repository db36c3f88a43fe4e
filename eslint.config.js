import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Types whose `.body` is a request body (Fastify's request, Node's HTTP/1 and HTTP/2 requests). */
const REQUEST_TYPES = new Set(['FastifyRequest', 'IncomingMessage', 'Http2ServerRequest']);

/**
 * `local/request-body-only-in-request-view` (docs/architecture.md): a request body is parsed and read in one
 * module, src/common/request-view.ts, so every guard and handler decides on the same view of it. Elsewhere it
 * reports reading `.body` of a request (found by type: renaming the variable is no way round), `.raw.body`,
 * destructuring `body` from a request, installing a body parser, and Nest's `@Body()` unless allowed (the admin
 * API's zod-validated DTOs).
 */
const requestBodyOnlyInRequestView = {
  meta: {
    type: 'problem',
    docs: { description: 'Request bodies are parsed and read only in src/common/request-view.ts' },
    schema: [
      {
        type: 'object',
        properties: { allowBodyDecorator: { type: 'boolean' } },
        additionalProperties: false,
      },
    ],
    messages: {
      read: 'request-body-only-in-request-view: read the request through src/common/request-view.ts (requestViewOf, sdkMessageOf), not its body',
      parser: 'request-body-only-in-request-view: body parsers are installed by src/common/request-view.ts',
      decorator: 'request-body-only-in-request-view: @Body() is for the admin API (src/admin/) only',
    },
  },
  create(context) {
    const services = context.sourceCode.parserServices;
    const allowBodyDecorator = context.options[0]?.allowBodyDecorator === true;
    const isRequest = (node) => {
      const type = services.getTypeAtLocation(node);
      const parts = type.isUnionOrIntersection() ? type.types : [type];
      return parts.some((part) => REQUEST_TYPES.has(part.getSymbol()?.getName()));
    };
    const keyOf = (node) => (node.computed ? node.property.value : node.property.name);
    // `(req as X).body`, `req!.body`: look through the cast at what is cast.
    const uncast = (node) => (node.type.startsWith('TS') && node.expression ? uncast(node.expression) : node);
    return {
      MemberExpression(node) {
        if (keyOf(node) !== 'body') return;
        const object = uncast(node.object);
        const ofRaw = object.type === 'MemberExpression' && keyOf(object) === 'raw';
        if (ofRaw || isRequest(object)) context.report({ node, messageId: 'read' });
      },
      ObjectPattern(node) {
        const body = node.properties.find(
          (p) => p.type === 'Property' && !p.computed && p.key.name === 'body',
        );
        if (body && isRequest(node)) context.report({ node: body, messageId: 'read' });
      },
      'CallExpression[callee.property.name=/^(addContentTypeParser|setDefaultJsonParser)$/]'(node) {
        context.report({ node, messageId: 'parser' });
      },
      'Decorator > CallExpression[callee.name="Body"]'(node) {
        if (!allowBodyDecorator) context.report({ node, messageId: 'decorator' });
      },
    };
  },
};

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'coverage/',
      'data/',
      '.tools/',
      'bench/results/',
      '*.js',
      '.dependency-cruiser.cjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  { plugins: { local: { rules: { 'request-body-only-in-request-view': requestBodyOnlyInRequestView } } } },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/common/request-view.ts'],
    rules: { 'local/request-body-only-in-request-view': 'error' },
  },
  {
    files: ['src/admin/**/*.ts'],
    rules: { 'local/request-body-only-in-request-view': ['error', { allowBodyDecorator: true }] },
  },
  {
    // The admin console: browser ES modules, type-checked by console/tsconfig.json (checkJs), which knows the
    // browser's globals (no-undef does not).
    files: ['console/**/*.js'],
    rules: { 'no-undef': 'off' },
  },
  {
    files: ['test/**/*.ts', '**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
