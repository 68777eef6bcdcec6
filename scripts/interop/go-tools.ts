/**
 * telemetrygen, the OpenTelemetry Collector's load generator, built once with
 * `go install` into `.cache/interop/go/<version>/` (its go.sum pins every
 * dependency of that version; measured here: about 40 s on a cold module
 * cache, 2 cores). The binary is used only when the marker written after it
 * exists.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InteropSetupError, InteropSetupErrorCode } from './errors.ts';
import { withLock } from '../lock.ts';
import { INTEROP_CACHE, defaultProgress } from './paths.ts';
import { runLogged } from './run-logged.ts';

export const TELEMETRYGEN_MODULE = 'github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen';
/** Newest release the Go module proxy listed when written; builds with Go 1.26. */
export const TELEMETRYGEN_VERSION = 'v0.161.0';
const MARKER = '.interop-ready';

export interface GoTool {
  path: string;
  created: boolean;
  elapsedMs: number;
}

export async function ensureTelemetrygen(opts: { cacheDir?: string; progress?: (line: string) => void } = {}): Promise<GoTool> {
  const started = Date.now();
  const progress = opts.progress ?? defaultProgress;
  const binDir = join(opts.cacheDir ?? INTEROP_CACHE, 'go', TELEMETRYGEN_VERSION);
  const path = join(binDir, 'telemetrygen');
  const ready = (): boolean => existsSync(path) && existsSync(join(binDir, MARKER));
  const result = (created: boolean): GoTool => ({ path, created, elapsedMs: Date.now() - started });
  if (ready()) return result(false);

  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) {
    throw new InteropSetupError(
      InteropSetupErrorCode.GoMissing,
      `could not run "go version" (${go.error?.message ?? go.stderr.trim()}): the interop tests build telemetrygen with Go 1.25+; install Go and put it on PATH.`,
    );
  }
  await mkdir(binDir, { recursive: true });
  return withLock({ path: join(binDir, '..', `${TELEMETRYGEN_VERSION}.lock`), what: `building telemetrygen ${TELEMETRYGEN_VERSION}`, progress, timedOut: (message) => new InteropSetupError(InteropSetupErrorCode.LockTimeout, message) }, async () => {
    if (ready()) return result(false);
    await rm(path, { force: true });
    progress(`building telemetrygen ${TELEMETRYGEN_VERSION} with ${go.stdout.trim()} into ${binDir}; about 40 s, done once`);
    const logPath = join(binDir, 'go-install.log');
    await rm(logPath, { force: true });
    // GOTOOLCHAIN=local: use the machine's Go, never fetch another toolchain behind the user's back.
    const env = { ...process.env, GOBIN: binDir, GOTOOLCHAIN: 'local', CGO_ENABLED: '0' };
    const run = await runLogged({ command: 'go', args: ['install', `${TELEMETRYGEN_MODULE}@${TELEMETRYGEN_VERSION}`], env, logPath, progress, label: 'go install telemetrygen' });
    if (run.code !== 0 || !existsSync(path)) {
      throw new InteropSetupError(
        InteropSetupErrorCode.GoBuildFailed,
        `go install ${TELEMETRYGEN_MODULE}@${TELEMETRYGEN_VERSION} exited with ${run.code}:\n  ${run.tail.slice(-12).join('\n  ')}\n` +
          `Check that the Go module proxy is reachable (go env GOPROXY) and that Go is recent enough for this version. Full output: ${logPath}`,
      );
    }
    await writeFile(join(binDir, MARKER), `${TELEMETRYGEN_VERSION}\n`);
    progress(`telemetrygen ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return result(true);
  });
}
