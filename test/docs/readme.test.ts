// The README's configuration and error tables stay in step with the code.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../collector/config.ts';
import { API_ERRORS } from '../../collector/api/errors.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it.each(SETTINGS.map((s) => [s.env, s.default]))('documents %s with its default', (env, def) => {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${env}\` |`));
    expect(row, `${env} missing from the configuration table`).toBeDefined();
    expect(row).toContain(def === '' ? '(unset)' : `\`${def}\``);
  });

  it.each(Object.keys(API_ERRORS))('lists the API error %s', (code) => {
    expect(readme).toContain(`\`${code}\``);
  });

  it('names the test command that .ci/run runs', () => {
    const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    expect(ci).toContain('npm install');
    expect(ci).toContain('npm test');
    expect(readme).toContain('npm install && npm test');
    expect(readme).toContain('npm install && npm start');
  });
});
