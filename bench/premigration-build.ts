/**
 * A built copy of the service at another commit (the pre-migration build for the A/B), made from the repository's
 * own history without touching the work tree or git state: `git archive <commit>` unpacked into a directory
 * outside the repository, `npm ci`, `npm run build`. Cached per commit (a marker file written last, so an
 * interrupted build is redone); BENCH_PREMIGRATION_DIR overrides the location.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const READY = '.bench-ready';

export function premigrationBuild(ref: string): { dir: string; commit: string } {
  const commit = execFileSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], {
    encoding: 'utf8',
  }).trim();
  const dir = process.env.BENCH_PREMIGRATION_DIR ?? join(tmpdir(), `mcp-bench-build-${commit.slice(0, 12)}`);
  if (existsSync(join(dir, READY))) return { dir, commit };

  console.error(`Building ${commit.slice(0, 7)} in ${dir} (once per commit; later runs reuse it)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const archive = `${dir}.tar`;
  execFileSync('git', ['archive', '--output', archive, commit]);
  execFileSync('tar', ['-x', '-f', archive, '-C', dir]);
  rmSync(archive);
  // npm and the build scripts run on the Node that runs the benchmark.
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  const stdio: ['ignore', 'ignore', 'inherit'] = ['ignore', 'ignore', 'inherit'];
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, env, stdio });
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: dir, env, stdio });
  writeFileSync(join(dir, READY), commit);
  return { dir, commit };
}
