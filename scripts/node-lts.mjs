// Runs an npm script on a supported Node.js LTS line. This Node.js when it is
// one (24 or later); otherwise Node.js NODE_LTS from the npm registry (the
// `node-<platform>-<arch>` package), fetched once into .cache/node/ and put
// first on PATH, so that the script and every process it starts run on it.
//
//   node scripts/node-lts.mjs <npm script> [args...]
//
// Node.js 20 left support on 2026-04-30; 24 is the maintenance LTS, 26 the
// active LTS (README, "Two commands").
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE_LTS = '26.10.0';
const SUPPORTED_MAJOR = 24;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [script, ...args] = process.argv.slice(2);
if (script === undefined) {
  process.stderr.write('usage: node scripts/node-lts.mjs <npm script> [args...]\n');
  process.exit(2);
}

function fetchLts() {
  const pkg = `node-${process.platform}-${process.arch}`;
  const dir = join(root, '.cache', 'node', `${pkg}-${NODE_LTS}`);
  const bin = join(dir, 'bin');
  if (existsSync(join(bin, 'node'))) return bin;
  process.stderr.write(`Node.js ${process.versions.node} is past its support; fetching Node.js ${NODE_LTS} (${pkg}, about 57 MB) from the npm registry into .cache/node/ ...\n`);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    execFileSync('npm', ['pack', `${pkg}@${NODE_LTS}`, '--pack-destination', tmp, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (tgz === undefined) throw new Error('npm pack wrote no archive');
    execFileSync('tar', ['xzf', join(tmp, tgz), '-C', tmp, '--strip-components', '1']);
    rmSync(join(tmp, tgz));
    if (!existsSync(join(tmp, 'bin', 'node'))) throw new Error(`the ${pkg} package has no bin/node`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    process.stderr.write(
      `Could not fetch Node.js ${NODE_LTS}: ${err.message}\n` +
        `Install Node.js ${SUPPORTED_MAJOR} or later yourself (https://nodejs.org/), or check that the npm registry is reachable, then run the command again.\n`,
    );
    process.exit(1);
  }
  process.stderr.write(`Node.js ${NODE_LTS} is in ${dir}\n`);
  return bin;
}

const major = Number(process.versions.node.split('.')[0]);
const env = { ...process.env };
if (major < SUPPORTED_MAJOR) env.PATH = `${fetchLts()}:${env.PATH ?? ''}`;
const child = spawn('npm', ['run', '--silent', script, '--', ...args], { cwd: root, env, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 1)));
