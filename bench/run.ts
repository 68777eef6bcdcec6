// `npm run bench`: end-to-end benchmark of Consentry on this machine.
//
//   npm run bench                              every scenario (embedded and Kafka), ~10 s per step
//   npm run bench -- --quick                   seconds, small numbers, embedded only
//   npm run bench -- --scenario embedded-full  scenarios by name or prefix (comma-separated or repeated)
//   npm run bench -- --duration 20             seconds of load per step
//   npm run bench -- --rate 30000              a fixed rate instead of the saturation search
//   npm run bench -- --scenario embedded-full-soak   10 minutes at twice the sustainable rate, RSS every 10 s
//   npm run bench -- --profile                 collector under --cpu-prof, top functions printed
//   npm run bench -- --list                    the scenarios
//
// Load only ever targets 127.0.0.1, in bounded steps; every process the bench
// starts is stopped when it ends, on Ctrl-C too. Results: bench/results/
// latest.md (committable) and JSON (latest.json, <date>.json; git-ignored);
// --quick writes quick.md / quick.json instead, --out <dir> elsewhere.
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { runBench } from './harness.ts';
import { writeReport, markdown } from './report.ts';
import { catalogue } from './scenarios.ts';
import { kafkaAvailability } from './deployments.ts';
import { SETTINGS } from '../core/settings.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

const USAGE = `usage: npm run bench -- [--quick] [--scenario NAME[,NAME]] [--duration S] [--rate SPANS_PER_S] [--profile]
                        [--max-p99-ms MS] [--steps N] [--seed N] [--out DIR] [--keep] [--list]
                        [--set CONSENTRY_NAME=VALUE ...]   settings for the collector and sink (README, Settings)
                        [--node-flag=--FLAG[=VALUE] ...]    Node.js flags for the collector and sink, after npm start's`;

/** `--set CONSENTRY_NAME=VALUE` flags, each naming a known setting. */
function parseSets(raw: string[] | undefined): Record<string, string> {
  const known = new Set(SETTINGS.map((s) => s.env));
  const out: Record<string, string> = {};
  for (const item of raw ?? []) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    if (eq < 0 || !known.has(name)) throw new Error(`--set ${item}: expected CONSENTRY_NAME=VALUE with a setting from the README's Settings table`);
    out[name] = item.slice(eq + 1);
  }
  return out;
}

/** `--node-flag=--FLAG[=VALUE]` values: each a Node.js or V8 flag (Node.js itself refuses an unknown one at start). */
function parseNodeFlags(raw: string[] | undefined): string[] {
  for (const f of raw ?? []) if (!f.startsWith('--')) throw new Error(`--node-flag ${f}: expected a flag such as --node-flag=--max-old-space-size=256`);
  return raw ?? [];
}

function positive(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!(v > 0) || !Number.isFinite(v)) throw new Error(`${flag} must be a positive number, got "${raw}"`);
  return v;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      scenario: { type: 'string', multiple: true },
      duration: { type: 'string' },
      rate: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'max-p99-ms': { type: 'string' },
      steps: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      set: { type: 'string', multiple: true },
      'node-flag': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.list) {
    const kafka = kafkaAvailability(REPO);
    for (const s of catalogue(values.quick)) {
      const na = s.deployment === 'kafka' && !kafka.ok ? `  [${kafka.reason}]` : '';
      process.stdout.write(`${s.name.padEnd(28)} ${s.kind.padEnd(10)} ${s.description}${na}\n`);
    }
    return 0;
  }
  const duration = positive('--duration', values.duration);
  if (duration !== undefined && duration > 600) throw new Error('--duration is at most 600 s');
  const outDir = resolve(values.out ?? join(REPO, 'bench', 'results'));
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = (signal: string): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping every process the bench started...\n`);
    controller.abort();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  const report = await runBench({
    repoDir: REPO,
    quick: values.quick,
    scenarios: values.scenario?.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean),
    durationS: duration,
    rate: positive('--rate', values.rate),
    profile: values.profile,
    outDir,
    seed: positive('--seed', values.seed) ?? 42,
    maxP99Ms: positive('--max-p99-ms', values['max-p99-ms']) ?? 1000,
    maxSteps: positive('--steps', values.steps),
    keep: values.keep,
    settings: parseSets(values.set),
    nodeFlags: parseNodeFlags(values['node-flag']),
    log: (line) => process.stdout.write(line + '\n'),
    signal: controller.signal,
  });
  report.command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  process.stdout.write('\n' + markdown(report).split('\n## Steps')[0]!);
  const files = writeReport(report, outDir, values.quick ? 'quick' : 'latest');
  process.stdout.write(`\nwritten: ${files.join(', ')}\n`);
  if (interrupted) return 130;
  return report.scenarios.some((s) => s.status === 'error') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    process.exit(2);
  },
);
