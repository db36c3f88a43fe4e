import { cpSync, rmSync } from 'node:fs';

/**
 * `npm run build`: the admin console's files (plain ES modules, CSS, HTML: served as they are, no bundler) into
 * dist/console, where the built server serves them from (src/admin/console-assets.ts). Its type declarations and
 * tsconfig stay behind.
 */
rmSync('dist/console', { recursive: true, force: true });
cpSync('console', 'dist/console', { recursive: true, filter: (path) => !/\.(d\.ts|json)$/.test(path) });
