import { describe, expect, it } from 'vitest';
import { BUILTIN_PROCESSORS } from '../builtin.ts';
import { describeRetention, parseTierFile } from './config.ts';

const base = `name: custom
description: A custom tier.
level: 1
stores: [counts]
omits: [bodies]
retentionDays: 7
`;

describe('tier YAML', () => {
  it('accepts a valid tier', () => {
    const problems: string[] = [];
    const t = parseTierFile('custom.yaml', `${base}spans:\n  - summarize: {}\nlogs: []\n`, BUILTIN_PROCESSORS, problems);
    expect(problems).toEqual([]);
    expect(t?.config.name).toBe('custom');
  });

  it.each([
    ['shorter than rows', 'retentionDays: 7', 'contentRetentionDays: 3', { rowsDays: 7, contentDays: 3 }],
    ['as long as rows', 'retentionDays: 7', 'contentRetentionDays: 7', { rowsDays: 7, contentDays: 7 }],
    ['absent: as long as rows', 'retentionDays: 7', '', { rowsDays: 7, contentDays: 7 }],
    ['null: as long as rows', 'retentionDays: 7', 'contentRetentionDays: null', { rowsDays: 7, contentDays: 7 }],
    ['rows without expiry', 'retentionDays: null', 'contentRetentionDays: 30', { rowsDays: null, contentDays: 30 }],
  ])('contentRetentionDays %s', (_name, rows, content, want) => {
    const problems: string[] = [];
    const t = parseTierFile('custom.yaml', `${base.replace('retentionDays: 7', rows)}${content}\nspans: []\nlogs: []\n`, BUILTIN_PROCESSORS, problems);
    expect(problems).toEqual([]);
    expect(describeRetention(t!.config)).toMatchObject(want);
  });

  it('describes retention in one sentence, content apart when it goes first', () => {
    expect(describeRetention({ retentionDays: 30, contentRetentionDays: undefined }).summary).toBe(
      'Rows and their content (request and response bodies, prompts, completions, captured headers) are deleted 30 days after receipt.',
    );
    expect(describeRetention({ retentionDays: null, contentRetentionDays: 30 }).summary).toBe(
      'Request metadata (model, tokens, latency, status, user, ...) is kept without expiry; its content (request and response bodies, prompts, completions, captured headers) is deleted 30 days after receipt (at 00:00 UTC that day), the rest of the row staying.',
    );
  });

  it.each([
    ['YAML syntax', `${base}spans: [\nlogs: []\n`, /custom\.yaml:(8|9): YAML syntax/],
    ['unknown processor', `${base}spans:\n  - sumarize: {}\nlogs: []\n`, /custom\.yaml:8: spans\[0\]: unknown processor "sumarize"/],
    ['bad processor config', `${base}spans:\n  - capture-bodies: { maxBytes: -1 }\nlogs: []\n`, /custom\.yaml:8: spans\[0\]\.capture-bodies\.maxBytes/],
    ['unknown processor option', `${base}spans:\n  - drop: { signals: [spans], extra: 1 }\nlogs: []\n`, /custom\.yaml:8: spans\[0\]\.drop/],
    ['unknown top-level key', `${base}retention: 3\nspans: []\nlogs: []\n`, /custom\.yaml:7: unknown key "retention"/],
    ['missing pipelines', base, /custom\.yaml:1: .*spans/],
    ['bad retention', base.replace('retentionDays: 7', 'retentionDays: 0') + 'spans: []\nlogs: []\n', /custom\.yaml:6: retentionDays/],
    ['bad name', base.replace('name: custom', 'name: Custom Tier') + 'spans: []\nlogs: []\n', /custom\.yaml:1: name: .*lower-case/],
    // The fixed stages are configured by tier properties: a step would be run in the wrong place, or overridden.
    ['retention as a step', `${base}spans:\n  - retention: { days: 5 }\nlogs: []\n`, /custom\.yaml:8: spans\[0\]: "retention" is a stage every tier runs, not a step: set the tier's `retentionDays` instead/],
    ['hash-api-keys as a step', `${base}spans: []\nlogs:\n  - hash-api-keys: {}\n`, /custom\.yaml:9: logs\[0\]: "hash-api-keys" is a stage every tier runs, not a step: set the tier's `hashApiKeys` instead/],
    ['gateway-metadata as a step', `${base}spans:\n  - gateway-metadata: {}\nlogs: []\n`, /set the tier's `environmentAllowList` instead/],
    ['scrub-secrets as a step', `${base}spans:\n  - scrub-secrets: {}\nlogs: []\n`, /"scrub-secrets" is a stage every tier runs, not a step: it cannot be configured away/],
    ['bad content retention', `${base}contentRetentionDays: 1.5\nspans: []\nlogs: []\n`, /custom\.yaml:7: contentRetentionDays/],
    ['content kept longer than rows', `${base}contentRetentionDays: 8\nspans: []\nlogs: []\n`, /custom\.yaml:7: contentRetentionDays \(8\) is longer than retentionDays \(7\): content cannot outlive its row/],
  ])('%s is reported with file and line', (_name, text, expected) => {
    const problems: string[] = [];
    expect(parseTierFile('custom.yaml', text, BUILTIN_PROCESSORS, problems)).toBeUndefined();
    expect(problems.join('\n')).toMatch(expected);
  });
});
