// The price table (prices.yaml beside this file, or the file named by
// CONSENTRY_PRICES_FILE): validated completely at start, every problem with its
// file and line; then a lookup from what a span says (provider, model) to a
// price, by the matching rule below.
//
// Matching rule, in order; the first step that finds a model wins:
//   1. the name as reported, lower case, without any path before its last `/`
//      (openai/gpt-4o, models/gemini-2.5-pro, gemini/gemini-2.5-pro -> the name
//      after the slash): exactly a model of the table;
//   2. that name without a snapshot suffix: a date (-2024-08-06, -20241022,
//      @20241022) or -latest: gpt-4o-2024-08-06 -> gpt-4o,
//      claude-3-5-sonnet-20241022 -> claude-3-5-sonnet. A snapshot priced
//      differently from its family is listed itself and found by step 1
//      (gpt-4o-2024-05-13);
//   3. nothing: the call is unpriced.
// and the provider the span names (empty: any) must be one of the table
// provider's names (`providers`): gpt-4o served by azure.ai.openai is unpriced.
// No other prefix or fuzzy matching: a wrong price is worse than an unknown one.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import { ConfigError } from '../../core/settings.ts';
import { checkYamlSchema, parseYamlFile } from '../yaml-config.ts';

export const SHIPPED_PRICES = new URL('./prices.yaml', import.meta.url);

/** Prices are USD per million tokens with at most 6 decimals: whole picodollars per token. */
const PICO_PER_USD_PER_MTOK = 1_000_000;

const Usd = Type.Number({ minimum: 0, maximum: 1_000_000, description: 'US dollars per million tokens, at most 6 decimals' });
const PriceTableSchema = Type.Object(
  {
    version: Type.String({ minLength: 1, description: 'version of the table, e.g. the date it was read' }),
    providers: Type.Record(Type.String({ pattern: '^[a-z0-9_.-]+$' }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }), {
      description: 'table provider -> provider names spans carry',
    }),
    models: Type.Array(
      Type.Object(
        {
          provider: Type.String({ minLength: 1 }),
          model: Type.String({ pattern: '^[a-z0-9][a-z0-9._:-]*$', description: 'lower case, as the API reports it, without a provider/ path' }),
          input: Usd,
          output: Usd,
          date: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD: when the price was read from its source' }),
          source: Type.String({ minLength: 1, description: 'where the price comes from (a pricing page)' }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);

export interface Price {
  provider: string;
  model: string;
  /** USD per million tokens, as written. */
  input: number;
  output: number;
  /** Picodollars per token, exact. */
  inputPico: bigint;
  outputPico: bigint;
  date: string;
  source: string;
}

export interface PriceTable {
  version: string;
  /** Where it was read from. */
  file: string;
  prices: readonly Price[];
  /** The price of `model` as served by `provider` ('' when the span names none), or undefined: unpriced. */
  lookup(provider: string, model: string): Price | undefined;
}

/** `-2024-08-06`, `-20241022`, `@20241022` or `-latest` at the end of a model name. */
const SNAPSHOT_SUFFIX = /(?:-\d{4}-\d{2}-\d{2}|[-@]\d{8}|-latest)$/;

/** The candidates for a reported model name, in the order the rule tries them. */
export function modelCandidates(reported: string): string[] {
  const name = reported.trim().toLowerCase();
  const base = name.slice(name.lastIndexOf('/') + 1);
  if (base === '') return [];
  const family = base.replace(SNAPSHOT_SUFFIX, '');
  return family === base || family === '' ? [base] : [base, family];
}

/** Distinct (provider, model) pairs remembered; they come from senders, so the memo starts over past this. */
const MEMO_SIZE = 4096;

function buildTable(version: string, file: string, providers: Record<string, string[]>, prices: Price[]): PriceTable {
  const byModel = new Map(prices.map((p) => [p.model, p]));
  const tableProviderOf = new Map<string, string>();
  for (const [table, names] of Object.entries(providers)) for (const n of names) tableProviderOf.set(n.toLowerCase(), table);
  const memo = new Map<string, Price | null>();
  return {
    version,
    file,
    prices,
    lookup(provider, model) {
      const key = `${provider}\n${model}`;
      let hit = memo.get(key);
      if (hit === undefined) {
        hit = null;
        const wanted = provider === '' ? undefined : (tableProviderOf.get(provider.toLowerCase()) ?? null);
        for (const name of modelCandidates(model)) {
          const p = byModel.get(name);
          if (p === undefined) continue;
          if (wanted === undefined || wanted === p.provider) hit = p;
          break;
        }
        if (memo.size >= MEMO_SIZE) memo.clear();
        memo.set(key, hit);
      }
      return hit ?? undefined;
    },
  };
}

/** Exact picodollars per token of a price in USD per million tokens; undefined when it has more than 6 decimals. */
function picoPerToken(usdPerMtok: number): bigint | undefined {
  const scaled = usdPerMtok * PICO_PER_USD_PER_MTOK;
  const whole = Math.round(scaled);
  return Math.abs(scaled - whole) <= 1e-6 * Math.max(1, Math.abs(scaled)) ? BigInt(whole) : undefined;
}

/** Parses and validates a price table; appends every problem (file:line: what) and returns undefined when invalid. */
export function parsePriceTable(file: string, text: string, problems: string[]): PriceTable | undefined {
  const before = problems.length;
  const f = parseYamlFile(file, text, problems);
  if (f === undefined || !checkYamlSchema(f, PriceTableSchema, problems)) return undefined;
  const v = f.value as { version: string; providers: Record<string, string[]>; models: Array<Omit<Price, 'inputPico' | 'outputPico'>> };
  const seenName = new Map<string, string>();
  for (const [table, names] of Object.entries(v.providers)) {
    for (const n of names) {
      const other = seenName.get(n.toLowerCase());
      if (other !== undefined) problems.push(`${f.at(['providers', table])}: providers.${table}: "${n}" is also listed under ${other}: a span's provider must name one table provider`);
      seenName.set(n.toLowerCase(), table);
    }
  }
  const prices: Price[] = [];
  const seenModel = new Map<string, number>();
  v.models.forEach((m, i) => {
    const where = f.at(['models', i]);
    if (!(m.provider in v.providers)) problems.push(`${where}: models[${i}].provider: "${m.provider}" is not under providers (one of ${Object.keys(v.providers).join(', ')})`);
    const first = seenModel.get(m.model);
    if (first !== undefined) problems.push(`${where}: models[${i}].model: "${m.model}" is listed already at models[${first}]: model names are unique in the table`);
    seenModel.set(m.model, i);
    if (Number.isNaN(Date.parse(`${m.date}T00:00:00Z`))) problems.push(`${f.at(['models', i, 'date'])}: models[${i}].date: "${m.date}" is not a calendar date`);
    const inputPico = picoPerToken(m.input);
    const outputPico = picoPerToken(m.output);
    for (const [key, pico] of [['input', inputPico], ['output', outputPico]] as const) {
      if (pico === undefined) problems.push(`${f.at(['models', i, key])}: models[${i}].${key}: ${m[key]} has more than 6 decimals (USD per million tokens)`);
    }
    if (inputPico !== undefined && outputPico !== undefined) prices.push({ ...m, inputPico, outputPico });
  });
  return problems.length > before ? undefined : buildTable(v.version, file, v.providers, prices);
}

export class PriceTableError extends ConfigError {
  constructor(problems: string[]) {
    super(problems, 'price table (CONSENTRY_PRICES_FILE)');
    this.name = 'PriceTableError';
  }
}

/** Reads the price table: `file`, or the shipped one when empty. Throws PriceTableError listing every problem. */
export function loadPriceTable(file: string): PriceTable {
  const path = file === '' ? fileURLToPath(SHIPPED_PRICES) : file;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PriceTableError([`${path}: cannot read the price table (${(err as Error).message}); check CONSENTRY_PRICES_FILE`]);
  }
  const problems: string[] = [];
  const table = parsePriceTable(path, text, problems);
  if (table === undefined) throw new PriceTableError(problems);
  return table;
}
