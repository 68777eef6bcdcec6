// Summarises a V8 .cpuprofile (node --cpu-prof) as text: the top functions by
// self time, their inclusive time, and busy time by component (collector/,
// processors/, sinks/, each npm package, node internals, GC, idle).
//
//   npx tsx bench/profile-summary.ts <file.cpuprofile> [--top 10] [--from-us N --to-us N]
//
// --from-us/--to-us keep samples within a window of the profile's own clock
// (microseconds of CLOCK_MONOTONIC, the clock of process.hrtime in any process
// of the machine), so the bench can keep only the time under load.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FunctionCost {
  name: string;
  /** Where it is: repo-relative file:line, package/file:line, or a V8 pseudo-frame. */
  where: string;
  selfMs: number;
  /** Share of busy (non-idle) time, 0..1. */
  selfShare: number;
  /** Time with the function anywhere on the stack, ms. */
  totalMs: number;
  totalShare: number;
}

export interface ProfileSummary {
  /** Sampled time in the window, ms, and the busy (non-idle) part. */
  sampledMs: number;
  busyMs: number;
  idleMs: number;
  samples: number;
  /** True when a window was asked for but no sample fell in it: the whole profile is summarised. */
  windowIgnored: boolean;
  top: FunctionCost[];
  /** Busy time by component (self time), largest first. */
  components: { component: string; ms: number; share: number }[];
}

const PSEUDO = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** Repo-relative path, `pkg/path`, `node:...`, or '' for native frames. */
export function shortUrl(url: string, repoDir = process.cwd()): string {
  if (url === '') return '';
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm !== -1) return u.slice(nm + '/node_modules/'.length);
  if (u.startsWith(repoDir + '/')) u = u.slice(repoDir.length + 1);
  return u;
}

function componentOf(frame: CallFrame, repoDir: string): string {
  if (PSEUDO.has(frame.functionName) && frame.url === '') return frame.functionName;
  const u = shortUrl(frame.url, repoDir);
  if (u === '') return '(native)';
  if (u.startsWith('node:')) return 'node internals';
  if (frame.url.includes('/node_modules/')) {
    const parts = u.split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const top = u.split('/')[0]!;
  return ['collector', 'processors', 'sinks', 'bench', 'scripts'].includes(top) ? `${top}/${u.split('/')[1] ?? ''}` : top;
}

export function summarizeProfile(profile: CpuProfile, opts: { top?: number; fromUs?: number; toUs?: number; repoDir?: string } = {}): ProfileSummary {
  const repoDir = opts.repoDir ?? process.cwd();
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) byId.set(n.id, n);
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];

  // Sample i lasts until sample i+1 (DevTools' convention); the last one gets the mean.
  const times: number[] = [];
  let t = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    times.push(t);
  }
  const mean = samples.length > 1 ? (times[times.length - 1]! - times[0]!) / (samples.length - 1) : 0;
  const duration = (i: number): number => Math.max(0, i + 1 < samples.length ? (deltas[i + 1] ?? 0) : mean);

  const windowed = opts.fromUs !== undefined || opts.toUs !== undefined;
  const inWindow = (i: number): boolean => (opts.fromUs === undefined || times[i]! >= opts.fromUs) && (opts.toUs === undefined || times[i]! <= opts.toUs);
  let any = false;
  if (windowed) for (let i = 0; i < samples.length && !any; i++) any = inWindow(i);
  const windowIgnored = windowed && !any;
  const keep = (i: number): boolean => !windowed || windowIgnored || inWindow(i);

  const keyOf = (f: CallFrame): string => `${f.functionName}\u0000${f.url}\u0000${f.lineNumber}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const frames = new Map<string, CallFrame>();
  const components = new Map<string, number>();
  let sampled = 0;
  let idle = 0;
  let count = 0;
  for (let i = 0; i < samples.length; i++) {
    if (!keep(i)) continue;
    const node = byId.get(samples[i]!);
    if (node === undefined) continue;
    const d = duration(i) / 1000;
    count++;
    sampled += d;
    if (node.callFrame.functionName === '(idle)') {
      idle += d;
      continue;
    }
    const k = keyOf(node.callFrame);
    frames.set(k, node.callFrame);
    self.set(k, (self.get(k) ?? 0) + d);
    const comp = componentOf(node.callFrame, repoDir);
    components.set(comp, (components.get(comp) ?? 0) + d);
    // Inclusive: each function once per sample, however deep it recurses.
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      if (f.functionName === '(root)') break;
      const fk = keyOf(f);
      if (seen.has(fk)) continue;
      seen.add(fk);
      frames.set(fk, f);
      total.set(fk, (total.get(fk) ?? 0) + d);
    }
  }
  const busy = sampled - idle;
  const share = (ms: number): number => (busy > 0 ? ms / busy : 0);
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, opts.top ?? 10)
    .map(([k, ms]) => {
      const f = frames.get(k)!;
      const file = shortUrl(f.url, repoDir);
      const totalMs = total.get(k) ?? ms;
      return {
        name: f.functionName === '' ? '(anonymous)' : f.functionName,
        // Line 0 is what tsx-transpiled modules report for every function: the file alone then.
        where: file === '' ? '' : f.lineNumber > 0 ? `${file}:${f.lineNumber + 1}` : file,
        selfMs: ms,
        selfShare: share(ms),
        totalMs,
        totalShare: share(totalMs),
      };
    });
  return {
    sampledMs: sampled,
    busyMs: busy,
    idleMs: idle,
    samples: count,
    windowIgnored,
    top,
    components: [...components.entries()].sort((a, b) => b[1] - a[1]).map(([component, ms]) => ({ component, ms, share: share(ms) })),
  };
}

export function formatSummary(s: ProfileSummary, title = 'profile'): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`.padStart(6);
  const lines = [
    `${title}: ${(s.sampledMs / 1000).toFixed(1)} s sampled, ${(s.busyMs / 1000).toFixed(1)} s busy (${pct(s.sampledMs > 0 ? s.busyMs / s.sampledMs : 0).trim()} of the thread)` +
      (s.windowIgnored ? ' [window matched no sample: whole profile]' : ''),
    `  top by self time (% of busy time):`,
    ...s.top.map((f, i) => `  ${String(i + 1).padStart(2)}. ${pct(f.selfShare)} self ${pct(f.totalShare)} total  ${f.name}  ${f.where}`),
    `  busy time by component: ${s.components
      .slice(0, 10)
      .map((c) => `${c.component} ${(c.share * 100).toFixed(0)}%`)
      .join(', ')}`,
  ];
  return lines.join('\n');
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string' }, 'from-us': { type: 'string' }, 'to-us': { type: 'string' } },
  });
  if (positionals.length === 0) {
    process.stderr.write('usage: npx tsx bench/profile-summary.ts <file.cpuprofile>... [--top 10] [--from-us N --to-us N]\n');
    process.exitCode = 2;
    return;
  }
  for (const file of positionals) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const s = summarizeProfile(profile, {
      top: values.top === undefined ? 10 : Number(values.top),
      fromUs: values['from-us'] === undefined ? undefined : Number(values['from-us']),
      toUs: values['to-us'] === undefined ? undefined : Number(values['to-us']),
    });
    process.stdout.write(formatSummary(s, file) + '\n');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
