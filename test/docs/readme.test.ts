// The README's configuration, error, conventions and content tables, and its
// list of processors, stay in step with the code.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../core/settings.ts';
import { API_ERRORS } from '../../collector/api/errors.ts';
import { fieldsMarkdown } from '../../processors/conventions/genai.ts';
import { contentMarkdown } from '../../processors/conventions/content.ts';
import { BUILTIN_PROCESSORS } from '../../processors/builtin.ts';
import { FIXED_STAGES } from '../../processors/tiers/stages.ts';
import { rolesMarkdown } from '../../collector/api/access.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it.each(SETTINGS.map((s) => [s.env, s.default, s.doc]))('documents %s with its default and description', (env, def, doc) => {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${env}\` |`));
    expect(row, `${env} missing from the configuration table`).toBeDefined();
    expect(row, `README row of ${env} differs from its declaration in core/settings.ts`).toBe(`| \`${env}\` | ${def === '' ? '(unset)' : `\`${def}\``} | ${doc} |`);
  });

  it.each(Object.keys(API_ERRORS))('lists the API error %s', (code) => {
    expect(readme).toContain(`\`${code}\``);
  });

  it('prints the conventions mapping and the content table as the code has them', () => {
    expect(readme, 'README mapping table differs from processors/conventions/genai.ts: paste fieldsMarkdown()').toContain(fieldsMarkdown());
    expect(readme, 'README content table differs from processors/conventions/content.ts: paste contentMarkdown()').toContain(contentMarkdown());
  });

  it('prints the roles and their permissions as the code has them', () => {
    expect(readme, 'README roles table differs from collector/api/access.ts: paste rolesMarkdown()').toContain(rolesMarkdown());
  });

  it.each([...BUILTIN_PROCESSORS.keys()])('names the processor %s', (name) => {
    expect(readme).toContain(`\`${name}\``);
  });

  it.each(FIXED_STAGES.map((s) => [s.name, s.setBy ?? 'always']))('names the fixed stage %s (%s)', (name, setBy) => {
    expect(readme).toContain(`\`${name}\` (${setBy === 'always' ? 'always' : `\`${setBy}\``})`);
  });

  it('names the test command that .ci/run runs', () => {
    const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    expect(ci).toContain('npm install');
    expect(ci).toContain('npm test');
    expect(readme).toContain('npm install && npm test');
    expect(readme).toContain('npm install && npm start');
  });
});
