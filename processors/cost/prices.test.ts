import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPriceTable, modelCandidates, parsePriceTable, PriceTableError, type PriceTable } from './prices.ts';

const HEAD = `version: "2026-12-06"
providers:
  openai: [openai]
  anthropic: [anthropic]
  google: [gcp.gemini, gemini]
models:
`;
const ENTRY = (model: string, provider = 'openai', input = '2.5', output = '10') =>
  `  - { provider: ${provider}, model: ${model}, input: ${input}, output: ${output}, date: "2026-12-06", source: "https://example.com/pricing" }\n`;

function parse(text: string): { table: PriceTable | undefined; problems: string[] } {
  const problems: string[] = [];
  return { table: parsePriceTable('prices.yaml', text, problems), problems };
}

describe('price table: parsing', () => {
  it('reads prices per million tokens as exact picodollars per token', () => {
    const { table, problems } = parse(HEAD + ENTRY('gpt-4o') + ENTRY('gpt-4o-mini', 'openai', '0.15', '0.6') + ENTRY('tiny', 'openai', '0.000001', '123456.789012'));
    expect(problems).toEqual([]);
    expect(table!.version).toBe('2026-12-06');
    expect(table!.prices.map((p) => [p.model, p.inputPico, p.outputPico])).toEqual([
      ['gpt-4o', 2_500_000n, 10_000_000n],
      ['gpt-4o-mini', 150_000n, 600_000n],
      ['tiny', 1n, 123_456_789_012n],
    ]);
  });

  it.each([
    ['YAML syntax', `${HEAD}  - { provider: openai, model: [\n`, /prices\.yaml:\d+: YAML syntax/],
    ['missing version', HEAD.replace('version: "2026-12-06"\n', '') + ENTRY('gpt-4o'), /prices\.yaml:1: .*version/],
    ['unknown top-level key', `currency: USD\n${HEAD}${ENTRY('gpt-4o')}`, /prices\.yaml:1: unknown key "currency"/],
    ['negative price', HEAD + ENTRY('gpt-4o') + ENTRY('bad', 'openai', '-1'), /prices\.yaml:8: models\.1\.input: .*US dollars per million tokens/],
    ['price as text', HEAD + ENTRY('bad', 'openai', '"2.5"'), /prices\.yaml:7: models\.0\.input/],
    ['more than 6 decimals', HEAD + ENTRY('gpt-4o') + ENTRY('bad', 'openai', '0.0000001'), /prices\.yaml:8: models\[1\]\.input: 1e-7 has more than 6 decimals/],
    ['upper-case model', HEAD + ENTRY('GPT-4o'), /prices\.yaml:7: models\.0\.model: .*lower case/],
    ['model with a provider path', HEAD + ENTRY('openai/gpt-4o'), /prices\.yaml:7: models\.0\.model/],
    ['unknown provider', HEAD + ENTRY('command-r', 'cohere'), /prices\.yaml:7: models\[0\]\.provider: "cohere" is not under providers \(one of openai, anthropic, google\)/],
    ['model listed twice', HEAD + ENTRY('gpt-4o') + ENTRY('o3') + ENTRY('gpt-4o'), /prices\.yaml:9: models\[2\]\.model: "gpt-4o" is listed already at models\[0\]/],
    ['a span provider under two table providers', HEAD.replace('[gcp.gemini, gemini]', '[gcp.gemini, openai]') + ENTRY('gpt-4o'), /prices\.yaml:5: providers\.google: "openai" is also listed under openai/],
    ['not a calendar date', HEAD + ENTRY('gpt-4o').replace('2026-12-06', '2026-13-40'), /prices\.yaml:7: models\[0\]\.date: "2026-13-40" is not a calendar date/],
    ['date not YYYY-MM-DD', HEAD + ENTRY('gpt-4o').replace('"2026-12-06"', '"Dec 6"'), /prices\.yaml:7: models\.0\.date/],
    ['no source', HEAD + ENTRY('gpt-4o').replace('"https://example.com/pricing"', '""'), /prices\.yaml:7: models\.0\.source/],
    ['unknown entry key', HEAD + ENTRY('gpt-4o').replace(' }', ', currency: EUR }'), /prices\.yaml:7: models\.0\.currency/],
    ['no models', HEAD.replace('models:\n', 'models: []\n'), /prices\.yaml:6: models: .*length/],
  ])('%s is reported with file and line', (_name, text, expected) => {
    const { table, problems } = parse(text);
    expect(table).toBeUndefined();
    expect(problems.join('\n')).toMatch(expected);
  });

  it('reports every problem at once', () => {
    const { problems } = parse(HEAD + ENTRY('gpt-4o', 'cohere') + ENTRY('o3', 'openai', '0.00000001') + ENTRY('gpt-4o'));
    expect(problems).toHaveLength(3);
  });

  it('the shipped table is valid, dated and sourced, with the common models of each provider', () => {
    const t = loadPriceTable('');
    expect(t.file).toMatch(/processors\/cost\/prices\.yaml$/);
    expect(new Set(t.prices.map((p) => p.provider))).toEqual(new Set(['openai', 'anthropic', 'google', 'mistral']));
    for (const p of t.prices) {
      expect(p.source, p.model).toMatch(/^https:\/\//);
      expect(p.date, p.model).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    for (const model of ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'o3', 'claude-sonnet-4-5', 'claude-3-5-sonnet', 'gemini-2.5-pro', 'gemini-2.5-flash', 'mistral-large-latest', 'mistral-small-latest']) {
      expect(t.lookup('', model), model).toBeDefined();
    }
  });

  it('CONSENTRY_PRICES_FILE replaces the shipped table; an unreadable or invalid file stops the start with what to fix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'consentry-prices-'));
    try {
      const file = join(dir, 'mine.yaml');
      writeFileSync(file, HEAD + ENTRY('house-model', 'openai', '1', '2'));
      const t = loadPriceTable(file);
      expect([t.file, t.prices.map((p) => p.model)]).toEqual([file, ['house-model']]);
      expect(t.lookup('openai', 'gpt-4o')).toBeUndefined();

      writeFileSync(file, HEAD + ENTRY('house-model', 'openai', 'cheap'));
      expect(() => loadPriceTable(file)).toThrow(PriceTableError);
      expect(() => loadPriceTable(file)).toThrow(new RegExp(`${file}:7: models\\.0\\.input`));
      expect(() => loadPriceTable(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read the price table .*check CONSENTRY_PRICES_FILE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('price table: the matching rule', () => {
  const { table } = parse(
    HEAD +
      ENTRY('gpt-4o') +
      ENTRY('gpt-4o-2024-05-13', 'openai', '5', '15') +
      ENTRY('gpt-4o-mini', 'openai', '0.15', '0.6') +
      ENTRY('claude-3-5-sonnet', 'anthropic', '3', '15') +
      ENTRY('gemini-2.5-pro', 'google', '1.25', '10') +
      ENTRY('ministral-8b-2512', 'openai', '0.15', '0.15'),
  );
  const t = table!;

  it.each<[string, string, string, string | undefined]>([
    // [case, provider the span names, model as reported, table model or undefined (unpriced)]
    ['exact', 'openai', 'gpt-4o', 'gpt-4o'],
    ['exact, upper case and blanks', 'openai', '  GPT-4o ', 'gpt-4o'],
    ['dated snapshot -YYYY-MM-DD', 'openai', 'gpt-4o-2024-08-06', 'gpt-4o'],
    ['a snapshot priced on its own wins over its family', 'openai', 'gpt-4o-2024-05-13', 'gpt-4o-2024-05-13'],
    ['dated snapshot of a longer name', 'openai', 'gpt-4o-mini-2024-07-18', 'gpt-4o-mini'],
    ['dated snapshot -YYYYMMDD', 'anthropic', 'claude-3-5-sonnet-20241022', 'claude-3-5-sonnet'],
    ['dated snapshot @YYYYMMDD (Vertex style)', 'anthropic', 'claude-3-5-sonnet@20240620', 'claude-3-5-sonnet'],
    ['-latest alias', 'anthropic', 'claude-3-5-sonnet-latest', 'claude-3-5-sonnet'],
    ['provider path (OpenRouter, LiteLLM)', 'openai', 'openai/gpt-4o', 'gpt-4o'],
    ['provider path and snapshot', '', 'openai/gpt-4o-2024-11-20', 'gpt-4o'],
    ['resource path (Gemini API)', 'gcp.gemini', 'models/gemini-2.5-pro', 'gemini-2.5-pro'],
    ['a second provider name of the table provider', 'gemini', 'gemini-2.5-pro', 'gemini-2.5-pro'],
    ['provider name in another case', 'OpenAI', 'gpt-4o', 'gpt-4o'],
    ['no provider named: the model decides', '', 'gpt-4o-mini', 'gpt-4o-mini'],
    ['a short numeric suffix is a name, not a date: exact only', 'openai', 'ministral-8b-2512', 'ministral-8b-2512'],
    ['unknown model', 'openai', 'gpt-7', undefined],
    ['no prefix matching: a longer name is another model', 'openai', 'gpt-4o-audio-preview', undefined],
    ['no prefix matching: a shorter name neither', 'openai', 'gpt-4', undefined],
    ['the model served by another provider (Azure) bills differently', 'azure.ai.openai', 'gpt-4o', undefined],
    ['the model under the wrong table provider', 'anthropic', 'gpt-4o', undefined],
    ['a date that is not a suffix', 'openai', 'gpt-4o-2024-08-06-ft', undefined],
    ['empty model', 'openai', '', undefined],
    ['only a path', 'openai', 'openai/', undefined],
  ])('%s: %s %j', (_name, provider, model, want) => {
    expect(t.lookup(provider, model)?.model).toBe(want);
    // The memo gives the same answer the second time.
    expect(t.lookup(provider, model)?.model).toBe(want);
  });

  it.each([
    ['gpt-4o-2024-08-06', ['gpt-4o-2024-08-06', 'gpt-4o']],
    ['Claude-3-5-Sonnet-20241022', ['claude-3-5-sonnet-20241022', 'claude-3-5-sonnet']],
    ['a/b/c-latest', ['c-latest', 'c']],
    ['gpt-4o', ['gpt-4o']],
    ['-latest', ['-latest']],
    ['', []],
  ])('candidates of %j', (model, want) => {
    expect(modelCandidates(model)).toEqual(want);
  });
});
