// Child processes of a bench run, and what the kernel says about them.
//
// Every process the bench starts is registered here and stopped by `stopAll()`
// (SIGTERM, then SIGKILL after a grace period); `killAllNow()` is the
// synchronous last resort for process 'exit'. Node children are wrapped in
// `setpriv --pdeathsig SIGTERM` where available, so that they also stop when
// the runner is killed outright (SIGKILL, a test worker timing out).
//
// CPU and memory come from /proc: utime+stime of /proc/<pid>/stat (clock
// ticks), VmRSS and VmHWM (peak RSS) of /proc/<pid>/status; writing "5" to
// /proc/<pid>/clear_refs resets VmHWM, so a peak can be taken per step.
import { spawn, fork, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  /** What it is, for reports: `collector`, `sink`, `clickhouse`, `kafka`, `generator`. */
  name: string;
  pid: number;
  proc: ChildProcess | undefined;
  logFile: string | undefined;
  exited: Promise<Exit>;
  /** SIGTERM, SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<Exit>;
}

let clockTicks: number | undefined;
/** Kernel clock ticks per second (USER_HZ), the unit of /proc CPU times. */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds of a live process; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the command.
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/** CPU seconds of a process's main thread (task id = pid): for Node, the JavaScript thread. */
export function mainThreadCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds per thread name (/proc/<pid>/task/<tid>/comm, digits folded to
 * `#`) of a live process: which pools spend the CPU (`node` main thread, `V8
 * Worker` GC helpers, `libuv-worker`, chdb's `QueryPipelineEx`, `MergeMutate`...).
 * Threads that ended before the call are not counted.
 */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = tid === String(pid) ? '(main thread)' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+/g, '#');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / ticksPerSecond());
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Current and peak resident memory, MB; of the current, anonymous pages (heaps, buffers) and file pages (mapped code, libraries). */
export function memory(pid: number): { rssMb: number; peakMb: number; anonMb: number; fileMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024, anonMb: kb('RssAnon') / 1024, fileMb: kb('RssFile') / 1024 };
  } catch {
    return undefined;
  }
}

/**
 * Resident MB of the file mappings of a process whose path contains `pathPart`
 * (/proc/<pid>/smaps), e.g. the pages of libchdb.so it holds; undefined when
 * the process is gone or nothing matches.
 */
export function mappedRssMb(pid: number, pathPart: string): number | undefined {
  let smaps: string;
  try {
    smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return undefined;
  }
  let kb = 0;
  let matched = false;
  let inside = false;
  for (const line of smaps.split('\n')) {
    // A mapping's header starts with its address range; its fields (Rss: ...) follow.
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      inside = line.includes(pathPart);
      matched ||= inside;
    } else if (inside && line.startsWith('Rss:')) kb += Number(/(\d+) kB/.exec(line)?.[1] ?? 0);
  }
  return matched ? kb / 1024 : undefined;
}

/** Resets the peak RSS (VmHWM) of a process to its current RSS; false when the kernel refused. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export class Processes {
  private readonly children = new Set<Child>();

  private track(name: string, proc: ChildProcess, logFile: string | undefined): Child {
    if (proc.pid === undefined) throw new Error(`could not start ${name}`);
    const exited = new Promise<Exit>((resolve) => {
      proc.once('exit', (code, signal) => resolve({ code, signal }));
      proc.once('error', () => resolve({ code: null, signal: null }));
    });
    let stopping: Promise<Exit> | undefined;
    const child: Child = {
      name,
      pid: proc.pid,
      proc,
      logFile,
      exited,
      stop: (graceMs = 20_000) =>
        (stopping ??= (async () => {
          if (proc.exitCode === null && proc.signalCode === null) {
            proc.kill('SIGTERM');
            let timer: NodeJS.Timeout | undefined;
            const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
            clearTimeout(timer);
            if (timedOut) proc.kill('SIGKILL');
          }
          const exit = await exited;
          this.children.delete(child);
          return exit;
        })()),
    };
    this.children.add(child);
    void exited.then(() => this.children.delete(child));
    return child;
  }

  /**
   * `node [nodeFlags] --import tsx <script> [args]` from `cwd`, output appended
   * to `logFile`. Its own process: the pid is node's.
   */
  spawnNode(opts: { name: string; script: string; args?: string[]; nodeFlags?: string[]; env: NodeJS.ProcessEnv; cwd: string; logFile: string }): Child {
    // TypeScript (the generator) through tsx; the services run compiled (dist/), as in production.
    const argv = [...(opts.nodeFlags ?? []), ...(opts.script.endsWith('.ts') ? ['--import', 'tsx'] : []), opts.script, ...(opts.args ?? [])];
    const fd = openSync(opts.logFile, 'a');
    try {
      const stdio: ['ignore', number, number] = ['ignore', fd, fd];
      const proc =
        process.platform === 'linux' && existsSync('/usr/bin/setpriv')
          ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'SIGTERM', '--', process.execPath, ...argv], { cwd: opts.cwd, env: opts.env, stdio })
          : spawn(process.execPath, argv, { cwd: opts.cwd, env: opts.env, stdio });
      return this.track(opts.name, proc, opts.logFile);
    } finally {
      closeSync(fd);
    }
  }

  /** A TypeScript module as a forked child with an IPC channel. */
  forkNode(opts: { name: string; script: string; cwd: string; logFile?: string }): Child {
    const fd = opts.logFile === undefined ? undefined : openSync(opts.logFile, 'a');
    try {
      const proc = fork(opts.script, [], {
        cwd: opts.cwd,
        execArgv: ['--import', 'tsx'],
        stdio: fd === undefined ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', fd, fd, 'ipc'],
      });
      return this.track(opts.name, proc, opts.logFile);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** A process started by someone else (a Kafka broker's JVM) that should be measured and reported. */
  adopt(name: string, pid: number, exited: Promise<Exit>, stop: () => Promise<void>): Child {
    const child: Child = {
      name,
      pid,
      proc: undefined,
      logFile: undefined,
      exited,
      stop: async () => {
        await stop();
        this.children.delete(child);
        return exited;
      },
    };
    this.children.add(child);
    return child;
  }

  /** Stops every child still running, in reverse start order. */
  async stopAll(graceMs = 20_000): Promise<void> {
    for (const c of [...this.children].reverse()) await c.stop(graceMs).catch(() => undefined);
  }

  /** SIGKILL to every child at once (for process 'exit', where nothing async runs). */
  killAllNow(): void {
    for (const c of this.children) {
      try {
        if (c.proc !== undefined) c.proc.kill('SIGKILL');
        else process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/**
 * The entry of a bench that measures each variant in a child process of its
 * own (bench/insert.ts, bench/content-retention.ts): started as
 * `<script> --child <JSON spec>`, runs `child` and prints `RESULT <JSON>` for
 * the parent to read, then exits (chdb's background threads would keep the
 * process alive); otherwise runs `parent`.
 */
export async function childOrParent<S, R>(child: (spec: S) => Promise<R>, parent: () => Promise<void>): Promise<void> {
  if (process.argv[2] !== '--child') return parent();
  const result = await child(JSON.parse(process.argv[3]!) as S);
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}
