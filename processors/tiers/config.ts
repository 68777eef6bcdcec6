// Tier definitions: YAML files, validated completely before anything starts.
// Every problem is reported with the file, the line and the key path.
import { ConfigError } from '../../core/settings.ts';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { ProcessorFactory } from '../processor.ts';
import { fixedStageProblem } from './stages.ts';
import { checkYamlSchema, parseYamlFile } from '../yaml-config.ts';
import { retentionProblem } from '../retention/processor.ts';

/** A pipeline step names one processor and gives its config: `- summarize: {}`. */
const Step = Type.Record(Type.String(), Type.Unknown(), { minProperties: 1, maxProperties: 1 });

export const TierSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$', description: 'lower-case letters, digits and -, starting with a letter' }),
    description: Type.String({ minLength: 1, description: 'what this tier stores, in one sentence for operators' }),
    /**
     * Permissiveness: 0 stores least. A record processed under a tier is reduced
     * again before writing when the tenant's tier changed since to one of the
     * same or a lower level (a downgrade reaching data in flight).
     */
    level: Type.Integer({ minimum: 0, maximum: 10 }),
    /** What the tier stores and what it does not, shown before a switch. */
    stores: Type.Array(Type.String(), { minItems: 1 }),
    omits: Type.Array(Type.String()),
    /** Days rows are kept after receipt; null keeps them without expiry. */
    retentionDays: Type.Union([Type.Integer({ minimum: 1, maximum: 36500 }), Type.Null()]),
    /**
     * Days content (bodies, prompts, completions, captured headers: the content
     * table) is kept after receipt, at most retentionDays; the request's row
     * stays, without it. Null or absent: as long as the row.
     */
    contentRetentionDays: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 36500 }), Type.Null()])),
    /** Keep an HMAC of API keys seen in request headers, so usage per key stays countable. */
    hashApiKeys: Type.Optional(Type.Boolean()),
    /** A switch from this tier to a more permissive one must carry `until` (time-limited debug capture). */
    upgradeRequiresUntil: Type.Optional(Type.Boolean()),
    /** Environment variable names gateway metadata may keep (values still scrubbed). */
    environmentAllowList: Type.Optional(Type.Array(Type.String())),
    spans: Type.Array(Step),
    logs: Type.Array(Step),
  },
  { additionalProperties: false },
);

export type TierConfig = Static<typeof TierSchema>;

export interface LoadedTier {
  config: TierConfig;
  /** Where it came from, for error messages. */
  file: string;
}

export class TierConfigError extends ConfigError {
  constructor(problems: string[]) {
    super(problems, 'tier configuration');
    this.name = 'TierConfigError';
  }
}

export const BUILTIN_DIR = new URL('./builtin/', import.meta.url);

/** Reads and validates every `*.yaml` in the given folders; throws one TierConfigError listing every problem. */
export function loadTierFiles(dirs: string[], processors: ReadonlyMap<string, ProcessorFactory>): LoadedTier[] {
  const problems: string[] = [];
  const tiers: LoadedTier[] = [];
  const seen = new Map<string, string>();
  for (const dir of dirs) {
    let files: string[];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
    } catch (err) {
      problems.push(`${dir}: cannot read the tiers folder (${(err as Error).message}); check CONSENTRY_TIERS_DIR`);
      continue;
    }
    for (const f of files) {
      const file = join(dir, f);
      const tier = parseTierFile(file, readFileSync(file, 'utf8'), processors, problems);
      if (tier === undefined) continue;
      const before = seen.get(tier.config.name);
      if (before !== undefined) {
        problems.push(`${file}: tier "${tier.config.name}" is defined already in ${before}: tier names must be unique`);
        continue;
      }
      seen.set(tier.config.name, file);
      tiers.push(tier);
    }
  }
  if (problems.length > 0) throw new TierConfigError(problems);
  return tiers;
}

/** Parses one tier file; appends problems (with line numbers) and returns undefined when invalid. */
export function parseTierFile(file: string, text: string, processors: ReadonlyMap<string, ProcessorFactory>, problems: string[]): LoadedTier | undefined {
  const before = problems.length;
  const f = parseYamlFile(file, text, problems);
  if (f === undefined || !checkYamlSchema(f, TierSchema, problems)) return undefined;
  const value = f.value as TierConfig;
  const at = f.at;
  const retention = retentionProblem({ days: value.retentionDays, contentDays: value.contentRetentionDays }, { days: 'retentionDays', contentDays: 'contentRetentionDays' });
  if (retention !== undefined) problems.push(`${at(['contentRetentionDays'])}: ${retention}`);
  for (const signal of ['spans', 'logs'] as const) {
    value[signal].forEach((step, i) => {
      const [name, cfg] = Object.entries(step)[0]!;
      const fixed = fixedStageProblem(name);
      if (fixed !== undefined) {
        problems.push(`${at([signal, i])}: ${signal}[${i}]: ${fixed}`);
        return;
      }
      const factory = processors.get(name);
      if (factory === undefined) {
        problems.push(`${at([signal, i])}: ${signal}[${i}]: unknown processor "${name}"; known: ${[...processors.keys()].sort().join(', ')}`);
        return;
      }
      const config = cfg ?? {};
      if (!Value.Check(factory.schema, config)) {
        for (const e of Value.Errors(factory.schema, config)) {
          const sub = e.path.split('/').filter(Boolean);
          problems.push(`${at([signal, i, name, ...sub])}: ${signal}[${i}].${name}${sub.length ? '.' + sub.join('.') : ''}: ${e.message}`);
        }
      }
    });
  }
  return problems.length > before ? undefined : { config: value, file };
}

/** How long a tier keeps rows and their content, for operators and tenants (API, dashboard, export). */
export interface RetentionView {
  /** Days request metadata (the rows) is kept after receipt; null: without expiry. */
  rowsDays: number | null;
  /** Days content is kept after receipt (at most: until 00:00 UTC of that day); null: without expiry. */
  contentDays: number | null;
  /** The same in one sentence. */
  summary: string;
}

const CONTENT_WORDS = 'content (request and response bodies, prompts, completions, captured headers)';

export function describeRetention(c: Pick<TierConfig, 'retentionDays' | 'contentRetentionDays'>): RetentionView {
  const rowsDays = c.retentionDays;
  const contentDays = c.contentRetentionDays ?? rowsDays;
  const rows = rowsDays === null ? 'kept without expiry' : `deleted ${rowsDays} days after receipt`;
  const summary =
    contentDays === rowsDays
      ? `Rows and their ${CONTENT_WORDS} are ${rows}.`
      : `Request metadata (model, tokens, latency, status, user, ...) is ${rows}; its ${CONTENT_WORDS} is deleted ${contentDays} days after receipt (at 00:00 UTC that day), the rest of the row staying.`;
  return { rowsDays, contentDays, summary };
}
