// The version an operator can see: `consentry --version`, /readyz, the
// consentry_build_info gauge of /metrics; all the one of package.json.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../collector/analytics/cli.ts';
import { testApiApp } from '../helpers/api-app.ts';
import { Metrics } from '../../core/metrics.ts';
import { VERSION } from '../../core/version.ts';
import { REPO } from '../helpers/dist.ts';

const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

describe('the version', () => {
  it('is package.json\'s, a semantic version', () => {
    expect(VERSION).toBe(version);
    expect(version).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
  });

  it('consentry --version prints it', async () => {
    let out = '';
    const code = await main(['--version'], { stdout: (s) => (out += s), stderr: () => undefined, env: {}, readStdin: async () => '', fetch });
    expect({ code, out }).toEqual({ code: 0, out: `consentry ${version}\n` });
  });

  it('/readyz says it, /metrics has it as consentry_build_info', async () => {
    const metrics = new Metrics();
    const app = testApiApp({ metrics });
    try {
      expect((await app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready', version, checks: {} });
      const text = (await app.inject({ url: '/metrics', headers: { authorization: 'Bearer admin' } })).body;
      expect(text).toContain(`consentry_build_info{version="${version}",node="${process.versions.node}"} 1`);
    } finally {
      await app.close();
    }
  });
});
