// An older release's own code, to write upgrade fixtures (make-fixture.ts)
// and to run beside the current code in upgrade tests: its files from git
// (`git archive <tag>`: no worktree to register or clean up), this repo's
// node_modules (checked: every package the release runs with, its lock file's
// non-development entries, is there at the version it locked), started the
// way the release started them
// (`node --import tsx <entry>`: 0.1.0 ran its TypeScript sources).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../helpers/dist.ts';
import type { Code, Role } from '../kafka/processes.ts';

/** The first release, the one every upgrade test starts from. */
export const FIRST_RELEASE = 'v0.1.0';

/** The entry points of 0.1.0 (collector/, sinks/ before the layers of issue 14). */
const ENTRIES_0_1: Record<Role, string> = {
  'chdb-server': 'sinks/clickhouse/chdb-server.ts',
  collector: 'collector/server.ts',
  sink: 'sinks/server.ts',
};

export interface Release {
  tag: string;
  commit: string;
  /** Its files. */
  dir: string;
  /** Starts its processes with test/kafka/processes.ts. */
  code: Code;
  /** Deletes its files. */
  remove(): void;
}

const git = (args: string[]): string => execFileSync('git', args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The release's commit, or undefined when this clone does not have the tag (a shallow CI clone). */
export function releaseCommit(tag: string): string | undefined {
  try {
    return git(['rev-parse', '--verify', '--quiet', `${tag}^{commit}`]);
  } catch {
    return undefined;
  }
}

type Lock = { packages: Record<string, { version?: string; dev?: boolean }> };

/** Packages the release runs with (its lock file, less development-only ones) that this repo's node_modules lacks or has at another version. */
function missingPackages(tag: string): string[] {
  const theirs = JSON.parse(git(['show', `${tag}:package-lock.json`])) as Lock;
  const ours = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as Lock;
  return Object.entries(theirs.packages)
    .filter(([path, p]) => path !== '' && p.dev !== true && ours.packages[path]?.version !== p.version)
    .map(([path, p]) => `${path.replace(/^node_modules\//, '')}@${p.version ?? '?'}`);
}

/** Extracts the release's files into a temporary folder. Throws, saying what to do, when the tag or its packages are missing. */
export function checkoutRelease(tag: string): Release {
  const commit = releaseCommit(tag);
  if (commit === undefined) throw new Error(`this clone has no tag ${tag}: fetch it (git fetch --tags) to run its code`);
  const missing = missingPackages(tag);
  if (missing.length > 0) {
    throw new Error(`node_modules lacks packages ${tag} runs with, at the versions its lock file has (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}): install them in a checkout of ${tag} instead`);
  }
  const dir = mkdtempSync(join(tmpdir(), `consentry-${tag}-`));
  execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C '${dir}'`], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  return {
    tag,
    commit,
    dir,
    code: (role, args) => ({ argv: ['--import', 'tsx', ENTRIES_0_1[role], ...args], cwd: dir }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
