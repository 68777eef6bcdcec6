// The operator's secret rules file (CONSENTRY_SECRET_RULES_FILE): what it may
// hold, every problem reported at once with file and line, and the rules it
// gives redacting with the built-in ones.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/settings.ts';
import { createSecretScrubber } from './processor.ts';
import { loadSecretRulesFile, parseSecretRules } from './rules-file.ts';

const FILE = 'rules.yaml';
const GOOD = `# Acme's tokens
extraRules:
  - id: acme-token
    kind: acme-key
    pattern: 'acme_[a-z0-9]{16}'
    keywords: [acme_]
extraHeaderNames: [X-Acme-Badge]
extraKeyNames: [pin]
`;

describe('parsing', () => {
  it('gives the rules and names of a valid file', () => {
    expect(parseSecretRules(FILE, GOOD)).toEqual({
      rules: { extraRules: [{ id: 'acme-token', kind: 'acme-key', pattern: 'acme_[a-z0-9]{16}', keywords: ['acme_'] }], extraHeaderNames: ['X-Acme-Badge'], extraKeyNames: ['pin'] },
    });
  });

  it.each([
    { name: 'an empty file', text: '' },
    { name: 'only a comment', text: '# nothing yet\n' },
    { name: 'empty lists', text: 'extraRules: []\nextraHeaderNames: []\n' },
  ])('accepts $name (nothing extra)', ({ text }) => {
    expect(parseSecretRules(FILE, text)).toHaveProperty('rules');
  });

  it.each([
    { name: 'YAML syntax (a key twice)', text: 'extraKeyNames: [pin]\nextraKeyNames: [pass]\n', problems: ['rules.yaml:2: YAML syntax: Map keys must be unique'] },
    { name: 'YAML indentation', text: 'extraKeyNames: [pin]\nextraRules:\n\t- id: x\n', problems: ['rules.yaml:3: YAML syntax: Tabs are not allowed as indentation'] },
    { name: 'not a mapping', text: '- acme\n', problems: ['rules.yaml:1: must be a mapping with extraRules, extraHeaderNames, extraKeyNames'] },
    { name: 'unknown top-level key', text: 'extraRules: []\nextraRule: []\n', problems: ['rules.yaml:2: unknown key "extraRule"; known keys: extraRules, extraHeaderNames, extraKeyNames'] },
    { name: 'a callback is no file setting', text: 'onRedact: x\n', problems: ['rules.yaml:1: unknown key "onRedact"; known keys: extraRules, extraHeaderNames, extraKeyNames'] },
    {
      name: 'a pattern that does not compile, at its line',
      text: GOOD.replace("'acme_[a-z0-9]{16}'", "'acme_(['"),
      problems: [/^rules\.yaml:5: extraRules\[0\]\.pattern: does not compile: Invalid regular expression/],
    },
    {
      name: 'an unknown rule field, at its line',
      text: GOOD.replace('    keywords: [acme_]\n', '    keywords: [acme_]\n    flags: i\n'),
      problems: ['rules.yaml:7: extraRules[0].flags: unknown key "flags"; known keys: id, kind, pattern, keywords, caseSensitive, check, source'],
    },
    { name: 'a built-in rule id', text: GOOD.replace('id: acme-token', 'id: openai-key'), problems: ['rules.yaml:3: extraRules[0].id: "openai-key" is a built-in rule id'] },
    { name: 'a header name with a space', text: 'extraHeaderNames:\n  - ok\n  - bad header\n', problems: [/^rules\.yaml:3: extraHeaderNames\[1\]: Expected string to match/] },
  ])('reports $name', ({ text, problems }) => {
    const parsed = parseSecretRules(FILE, text);
    expect(parsed).toEqual({ problems: problems.map((p) => (typeof p === 'string' ? p : expect.stringMatching(p))) });
  });

  it('reports every problem at once, each at its line', () => {
    const text = [
      'colour: red',
      'extraRules:',
      '  - id: a',
      '    kind: Bad Kind',
      '    pattern: x',
      '    keywords: [x]',
      '  - id: b',
      '    kind: b',
      "    pattern: '(x'",
      '    keywords: []',
      'extraKeyNames: ["-"]',
    ].join('\n');
    const parsed = parseSecretRules(FILE, text);
    expect('problems' in parsed && parsed.problems.map((p) => p.split(': ').slice(0, 2).join(': '))).toEqual([
      'rules.yaml:1: unknown key "colour"; known keys',
      'rules.yaml:11: extraKeyNames[0]',
      'rules.yaml:4: extraRules[0].kind',
      'rules.yaml:9: extraRules[1].pattern',
      'rules.yaml:10: extraRules[1].keywords',
    ]);
  });
});

describe('loading', () => {
  const dir = mkdtempSync(join(tmpdir(), 'consentry-secret-rules-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a file that cannot be read is a ConfigError naming the setting', () => {
    const missing = join(dir, 'missing.yaml');
    expect(() => loadSecretRulesFile(missing)).toThrow(ConfigError);
    expect(() => loadSecretRulesFile(missing)).toThrow(`invalid secret rules file:\n  - ${missing}: cannot read the secret rules file (ENOENT: no such file or directory, open '${missing}'); check CONSENTRY_SECRET_RULES_FILE`);
  });

  it('an invalid file is one ConfigError listing its problems', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'extraRule: []\n');
    expect(() => loadSecretRulesFile(file)).toThrow(`invalid secret rules file:\n  - ${file}:1: unknown key "extraRule"; known keys: extraRules, extraHeaderNames, extraKeyNames`);
  });

  it('the rules of a valid file redact with the built-in ones', () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(file, GOOD);
    const scrubber = createSecretScrubber(loadSecretRulesFile(file));
    expect(scrubber.scrubString('token acme_0123456789abcdef and sk-proj-Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1')).toBe('token [REDACTED:acme-key] and [REDACTED:openai-key]');
    expect(scrubber.scrubAttributes({ 'http.request.header.x-acme-badge': 'opaque', 'user.pin': '1234', 'user.name': 'jane' })).toEqual({
      'http.request.header.x-acme-badge': '[REDACTED:credential]',
      'user.pin': '[REDACTED:secret]',
      'user.name': 'jane',
    });
  });
});
