import { describe, expect, it } from 'vitest';
import { ScrubSecretsConfigError, validateScrubSecretsConfig } from './config.ts';
import { createSecretScrubber } from './processor.ts';

const rule = { id: 'acme', kind: 'acme-key', pattern: 'acme_[a-z0-9]{16}', keywords: ['acme_'] };

describe('config validation', () => {
  it.each([
    ['unknown key', { colour: 'red' }, '/colour', 'unknown key "colour"; known keys: extraHeaderNames, extraKeyNames, extraRules, onRedact'],
    ['header name with a space', { extraHeaderNames: ['bad header'] }, '/extraHeaderNames/0', /match/i],
    ['empty key name', { extraKeyNames: [''] }, '/extraKeyNames/0', /length/i],
    ['bad kind', { extraRules: [{ ...rule, kind: 'Bad Kind' }] }, '/extraRules/0/kind', /match/i],
    ['regex that does not compile', { extraRules: [{ ...rule, pattern: 'acme_(' }] }, '/extraRules/0/pattern', /does not compile/],
    ['extra capture group', { extraRules: [{ ...rule, pattern: '(acme)_x' }] }, '/extraRules/0/pattern', /one capture group/],
    ['matches the empty string', { extraRules: [{ ...rule, pattern: '(?:acme_)?' }] }, '/extraRules/0/pattern', /empty string/],
    ['no keywords', { extraRules: [{ ...rule, keywords: [] }] }, '/extraRules/0/keywords', /at least one keyword/],
    ['duplicate ids', { extraRules: [rule, rule] }, '/extraRules/1/id', /duplicate/],
    ['built-in id', { extraRules: [{ ...rule, id: 'openai-key' }] }, '/extraRules/0/id', /built-in/],
    ['unknown rule field', { extraRules: [{ ...rule, flags: 'i' }] }, '/extraRules/0/flags', 'unknown key "flags"; known keys: id, kind, pattern, keywords, caseSensitive, check, source'],
    ['a rule field that does nothing (gate)', { extraRules: [{ ...rule, gate: 'x' }] }, '/extraRules/0/gate', 'unknown key "gate"; known keys: id, kind, pattern, keywords, caseSensitive, check, source'],
    ['onRedact not a function', { onRedact: 'log' }, '/onRedact', /function/i],
  ])('%s', (_label, config, path, message) => {
    const result = validateScrubSecretsConfig(config);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const messages = result.errors.filter((e) => e.path === path).map((e) => e.message);
    expect(messages, JSON.stringify(result.errors)).toContainEqual(typeof message === 'string' ? message : expect.stringMatching(message));
  });

  it('reports every error at once', () => {
    const result = validateScrubSecretsConfig({ extraHeaderNames: [''], extraRules: [{ ...rule, pattern: '(' }, { ...rule, id: 'b', kind: 'K' }], other: 1 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect([...new Set(result.errors.map((e) => e.path))].sort()).toEqual(['/extraHeaderNames/0', '/extraRules/0/pattern', '/extraRules/1/kind', '/other']);
  });

  it('createSecretScrubber throws one error naming every problem', () => {
    expect(() => createSecretScrubber({ extraRules: [{ ...rule, pattern: '(' }] })).toThrow(ScrubSecretsConfigError);
    expect(() => createSecretScrubber({ extraRules: [{ ...rule, pattern: '(' }] })).toThrow(/\/extraRules\/0\/pattern/);
  });

  it.each([[undefined], [{}], [{ extraHeaderNames: [], extraKeyNames: [], extraRules: [] }]])('accepts %j', (config) => {
    expect(validateScrubSecretsConfig(config).ok).toBe(true);
  });
});

describe('config extensions', () => {
  const scrubber = createSecretScrubber({ extraHeaderNames: ['X-Internal-Pass'], extraKeyNames: ['pin'], extraRules: [rule] });

  it.each([
    ['extra header by attribute key', { 'http.request.header.x-internal-pass': 'abc' }, { 'http.request.header.x-internal-pass': '[REDACTED:credential]' }],
    ['extra key name on an attribute', { 'user.pin': '1234' }, { 'user.pin': '[REDACTED:secret]' }],
  ])('%s', (_label, input, expected) => {
    expect(scrubber.scrubAttributes(input)).toEqual(expected);
  });

  it.each([
    ['extra header in text', 'X-Internal-Pass: abc', 'X-Internal-Pass: [REDACTED:credential]'],
    ['extra key in JSON', '{"pin":"1234"}', '{"pin":"[REDACTED:secret]"}'],
    ['extra rule', 'x acme_0123456789abcdef y', 'x [REDACTED:acme-key] y'],
    ['built-in rules still apply', 'sk-proj-Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1', '[REDACTED:openai-key]'],
  ])('%s', (_label, input, expected) => {
    expect(scrubber.scrubString(input)).toBe(expected);
  });
});
