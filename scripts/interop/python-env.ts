/**
 * The Python virtual environment of the interop clients: created by the test
 * run itself under `.cache/interop/venv` from the checked-in, fully pinned
 * `test/interop/clients/requirements.txt`, and reused while that file and the
 * Python minor version are unchanged (their hash is in `.interop-ready`,
 * written last, so a half-built environment is never used).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InteropSetupError, InteropSetupErrorCode } from './errors.ts';
import { withLock } from '../lock.ts';
import { INTEROP_CACHE, REPO_ROOT, defaultProgress } from './paths.ts';
import { runLogged } from './run-logged.ts';

export const REQUIREMENTS = join(REPO_ROOT, 'test', 'interop', 'clients', 'requirements.txt');
const MARKER = '.interop-ready';
/** The clients' oldest supported Python (LiteLLM, openai-v2); 3.11 is what CI has. */
const MIN_PYTHON: [number, number] = [3, 10];

export interface PythonEnv {
  /** The environment's interpreter. */
  python: string;
  venvDir: string;
  /** True when this call built the environment. */
  created: boolean;
  elapsedMs: number;
}

export interface PythonEnvOptions {
  /** Default `<repo>/.cache/interop`. */
  cacheDir?: string;
  /** Default INTEROP_PYTHON, else `python3`. */
  basePython?: string;
  progress?: (line: string) => void;
}

/** The base interpreter's `major.minor`, or a PythonMissing error saying how to get one. */
function pythonVersion(python: string): string {
  const r = spawnSync(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
  const version = r.status === 0 ? r.stdout.trim() : '';
  const [major, minor] = version.split('.').map(Number);
  if (major === undefined || minor === undefined || Number.isNaN(minor)) {
    throw new InteropSetupError(
      InteropSetupErrorCode.PythonMissing,
      `could not run "${python}" (${r.error?.message ?? r.stderr?.trim() ?? `exit ${r.status}`}). The interop tests need Python ${MIN_PYTHON.join('.')}+ with the venv module ` +
        `(Debian: apt-get install python3 python3-venv); point INTEROP_PYTHON at another interpreter if python3 is not it.`,
    );
  }
  if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
    throw new InteropSetupError(InteropSetupErrorCode.PythonMissing, `"${python}" is Python ${version}; the interop clients need ${MIN_PYTHON.join('.')}+: set INTEROP_PYTHON to a newer interpreter.`);
  }
  return version;
}

/** Creates the environment when missing or stale; otherwise returns at once. */
export async function ensurePythonEnv(opts: PythonEnvOptions = {}): Promise<PythonEnv> {
  const started = Date.now();
  const progress = opts.progress ?? defaultProgress;
  const cacheDir = opts.cacheDir ?? INTEROP_CACHE;
  const basePython = opts.basePython ?? process.env['INTEROP_PYTHON'] ?? 'python3';
  const venvDir = join(cacheDir, 'venv');
  const python = join(venvDir, 'bin', 'python');
  const version = pythonVersion(basePython);
  const key = createHash('sha256').update(`python ${version}\n`).update(readFileSync(REQUIREMENTS)).digest('hex');
  const ready = (): boolean => existsSync(python) && existsSync(join(venvDir, MARKER)) && readFileSync(join(venvDir, MARKER), 'utf8').trim() === key;
  const result = (created: boolean): PythonEnv => ({ python, venvDir, created, elapsedMs: Date.now() - started });
  if (ready()) return result(false);

  await mkdir(cacheDir, { recursive: true });
  return withLock({ path: join(cacheDir, 'venv.lock'), what: `creating the interop Python environment in ${venvDir}`, progress, timedOut: (message) => new InteropSetupError(InteropSetupErrorCode.LockTimeout, message) }, async () => {
    if (ready()) return result(false);
    await rm(venvDir, { recursive: true, force: true }); // stale: other requirements, or a build that was stopped
    progress(`creating the interop Python environment (Python ${version}) in ${venvDir} from ${REQUIREMENTS}; about 30 s when PyPI is close, done once`);
    const logPath = join(cacheDir, 'pip.log');
    await rm(logPath, { force: true });
    const env = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1', PYTHONNOUSERSITE: '1' };
    const steps: Array<{ label: string; command: string; args: string[] }> = [
      { label: 'python -m venv', command: basePython, args: ['-m', 'venv', venvDir] },
      { label: 'pip install', command: python, args: ['-m', 'pip', 'install', '--progress-bar', 'off', '-r', REQUIREMENTS] },
      { label: 'pip check', command: python, args: ['-m', 'pip', 'check'] },
    ];
    for (const step of steps) {
      const run = await runLogged({ ...step, env, logPath, progress, interesting: (l) => /^(Collecting|Downloading|Installing|Building)/.test(l) }).catch((err: Error) => {
        throw new InteropSetupError(InteropSetupErrorCode.PipFailed, `could not run ${step.command}: ${err.message}`, { cause: err });
      });
      if (run.code !== 0) {
        throw new InteropSetupError(
          InteropSetupErrorCode.PipFailed,
          `${step.label} exited with ${run.code} while creating ${venvDir}:\n  ${run.tail.slice(-12).join('\n  ')}\n` +
            `Check that PyPI is reachable (pip config list shows the index) and that the pins in ${REQUIREMENTS} exist; ` +
            `the run starts over next time. Full output: ${logPath}`,
        );
      }
    }
    await writeFile(join(venvDir, MARKER), `${key}\n`);
    progress(`interop Python environment ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return result(true);
  });
}
