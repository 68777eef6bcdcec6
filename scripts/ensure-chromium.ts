// Makes sure Debian's Chromium is on the machine for the browser tests, like
// scripts/kafka fetches the broker: never a browser build downloaded by a test
// tool, only the distribution's package, installed with apt-get when missing.
// Used by test/ui/*.test.ts (beforeAll); also runnable: `npx tsx scripts/ensure-chromium.ts`.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Launch arguments for tests: no sandbox (root), nothing that reaches the network by itself. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export type EnsureResult = { ok: true; path: string; installed: boolean } | { ok: false; message: string };

export interface EnsureChromiumOptions {
  /** Binary to look for; default CHROMIUM_PATH. */
  path?: string;
  /** Progress lines; default: written to stderr with a `[chromium]` prefix. */
  log?: (line: string) => void;
}

/** Returns the Chromium path, installing the Debian package first when it is missing. Failures are values. */
export async function ensureChromium(opts: EnsureChromiumOptions = {}): Promise<EnsureResult> {
  const path = opts.path ?? CHROMIUM_PATH;
  const log = opts.log ?? ((line: string) => process.stderr.write(`[chromium] ${line}\n`));
  if (existsSync(path)) return { ok: true, path, installed: false };
  if (process.platform !== 'linux' || !existsSync('/usr/bin/apt-get')) {
    return { ok: false, message: `${path} is missing and there is no apt-get here: install Debian's chromium package (or a Chromium at ${path}) and run the tests again` };
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, message: `${path} is missing and installing it needs root: run \`sudo apt-get update && sudo apt-get install -y chromium\` and run the tests again` };
  }
  log(`${path} is missing: installing Debian's chromium package (apt-get; the first time takes a minute or two)`);
  for (const args of [['update'], ['install', '-y', 'chromium']]) {
    log(`apt-get ${args.join(' ')}`);
    const r = await run('apt-get', args, log);
    if (r.code !== 0) {
      return { ok: false, message: `apt-get ${args.join(' ')} failed (exit ${r.code}): ${r.tail.trim().split('\n').slice(-5).join(' | ')}; install Debian's chromium package by hand and run the tests again` };
    }
  }
  if (!existsSync(path)) return { ok: false, message: `apt-get installed chromium but ${path} does not exist: check \`dpkg -L chromium\`` };
  log(`installed ${path}`);
  return { ok: true, path, installed: true };
}

/** Runs a command; progress lines go to `log` (every 20th line, apt is chatty), the last output is kept for the error. */
function run(cmd: string, args: string[], log: (line: string) => void): Promise<{ code: number; tail: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    let lines = 0;
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      tail = (tail + text).slice(-4000);
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        if (lines++ % 20 === 0 || /^(E:|Err|Setting up chromium)/.test(line)) log(`  ${line.trim()}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => resolve({ code: -1, tail: err.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, tail }));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await ensureChromium();
  if (r.ok) {
    process.stdout.write(`${r.path}\n`);
  } else {
    process.stderr.write(`[chromium] ${r.message}\n`);
    process.exitCode = 1;
  }
}
