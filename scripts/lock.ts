/**
 * One process at a time builds or fetches a cached tool (vitest runs test
 * files in parallel workers, and several ask for the same Kafka jars or
 * Python environment). The lock is a file holding the owner's pid; a lock
 * whose owner is gone is taken over, so a killed run does not block the next.
 */
import { open, readFile, rm } from 'node:fs/promises';

export interface LockOptions {
  path: string;
  /** What the owner is doing, for the waiting message. */
  what: string;
  progress: (line: string) => void;
  /** Give up after this long; default 15 minutes (a cold pip install on a loaded machine). */
  waitMs?: number;
  /** The error thrown when waiting gave up, given what to tell the user. */
  timedOut: (message: string) => Error;
}

/** Runs `fn` holding the lock at `path`. */
export async function withLock<T>(opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + (opts.waitMs ?? 15 * 60_000);
  let told = false;
  for (;;) {
    try {
      const fh = await open(opts.path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number((await readFile(opts.path, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(owner) || owner <= 0 || !alive(owner)) {
      await rm(opts.path, { force: true });
      continue;
    }
    if (!told) opts.progress(`waiting for process ${owner}, which is ${opts.what}`);
    told = true;
    if (Date.now() > deadline) {
      throw opts.timedOut(`process ${owner} is still ${opts.what}; if it is stuck, stop it and delete ${opts.path}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  try {
    return await fn();
  } finally {
    await rm(opts.path, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
