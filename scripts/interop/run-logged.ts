/**
 * Runs a setup command (pip, go) with its output in a log file and a progress
 * line every few seconds, so a first run that takes a minute shows it is alive
 * without filling the test output.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export interface LoggedRun {
  /** Exit code; null when killed by a signal. */
  code: number | null;
  /** The last lines of the output, for error messages. */
  tail: string[];
}

export interface RunLoggedOptions {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Output of the command is appended here. */
  logPath: string;
  /** Receives `label: N s, <last line>` every `everyMs`. */
  progress: (line: string) => void;
  label: string;
  /** Lines of output worth showing as progress (e.g. pip's "Collecting x"); default every line. */
  interesting?: (line: string) => boolean;
  everyMs?: number;
}

/** Resolves with the exit; rejects only when the command cannot be started (ENOENT etc.). */
export function runLogged(opts: RunLoggedOptions): Promise<LoggedRun> {
  const started = Date.now();
  const log = createWriteStream(opts.logPath, { flags: 'a' });
  const tail: string[] = [];
  let last = '';
  const ticker = setInterval(() => opts.progress(`${opts.label}: ${Math.round((Date.now() - started) / 1000)} s${last === '' ? '' : `, ${last}`}`), opts.everyMs ?? 5000);
  return new Promise<LoggedRun>((resolve, reject) => {
    const child = spawn(opts.command, opts.args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer): void => {
      log.write(chunk);
      for (const line of chunk.toString('utf8').split('\n')) {
        const trimmed = line.trim();
        if (trimmed === '') continue;
        tail.push(trimmed);
        if (tail.length > 25) tail.shift();
        if (opts.interesting === undefined || opts.interesting(trimmed)) last = trimmed.slice(0, 120);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const done = (): void => {
      clearInterval(ticker);
      log.end();
    };
    child.on('error', (err) => {
      done();
      reject(err);
    });
    child.on('close', (code) => {
      done();
      resolve({ code, tail });
    });
  });
}
