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

/**
 * The commits of the releases, as tagged: a clone without tags (CI clones main
 * only) still has them in main's history, so their code can run there too.
 */
const RELEASE_COMMITS: Record<string, string> = { 'v0.1.0': '371904455070f0af1d4649034d00852b5564bc10' };

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

const commitOf = (rev: string): string | undefined => {
  try {
    return git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  } catch {
    return undefined;
  }
};

/**
 * The release's commit: its tag's, else the recorded one when this clone's
 * history has it; undefined in a shallow clone without the tag. Throws when the
 * tag names another commit than the recorded one (a moved tag).
 */
export function releaseCommit(tag: string): string | undefined {
  const recorded = RELEASE_COMMITS[tag];
  const tagged = commitOf(tag);
  if (tagged !== undefined && recorded !== undefined && tagged !== recorded) {
    throw new Error(`tag ${tag} names ${tagged}, but release ${tag} is ${recorded} (test/upgrade/release.ts): the tag was moved; restore it (git tag -f ${tag} ${recorded})`);
  }
  return tagged ?? (recorded === undefined ? undefined : commitOf(recorded));
}

type Lock = { packages: Record<string, { version?: string; dev?: boolean }> };

/** Packages the release runs with (its lock file, less development-only ones) that this repo's node_modules lacks or has at another version. */
function missingPackages(commit: string): string[] {
  const theirs = JSON.parse(git(['show', `${commit}:package-lock.json`])) as Lock;
  const ours = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as Lock;
  return Object.entries(theirs.packages)
    .filter(([path, p]) => path !== '' && p.dev !== true && ours.packages[path]?.version !== p.version)
    .map(([path, p]) => `${path.replace(/^node_modules\//, '')}@${p.version ?? '?'}`);
}

/** Extracts the release's files into a temporary folder. Throws, saying what to do, when the tag or its packages are missing. */
export function checkoutRelease(tag: string): Release {
  const commit = releaseCommit(tag);
  if (commit === undefined) throw new Error(`this clone has neither the tag ${tag} nor its commit (a shallow clone?): fetch them (git fetch --tags --unshallow) to run its code`);
  const missing = missingPackages(commit);
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
