// Golden files are regenerated only on purpose: a missing one fails with what
// to run, UPDATE_GOLDEN=1 writes it, and a difference fails.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { expectGolden } from './golden-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'consentry-golden-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => pathToFileURL(join(dir, name));

describe('expectGolden', () => {
  it.each([
    { name: 'outside CI', env: {} },
    { name: 'in CI', env: { CI: 'true' } },
  ])('a missing golden file fails $name, saying how to write it, and is not written', ({ env }) => {
    const missing = file(`missing-${Object.keys(env).length}.json`);
    expect(() => expectGolden(missing, { a: 1 }, env)).toThrow(/golden file .*missing-\d\.json is missing: write it on purpose with UPDATE_GOLDEN=1 npx vitest run test\/helpers\/golden-file\.test\.ts, then review it \(git diff\) and commit it/);
    expect(existsSync(missing)).toBe(false);
  });

  it('UPDATE_GOLDEN=1 writes it (in folders that do not exist yet); then the same value passes and another fails', () => {
    const golden = file('sub/dir/value.json');
    expectGolden(golden, { rows: [1, 2] }, { UPDATE_GOLDEN: '1' });
    expect(readFileSync(golden, 'utf8')).toBe('{\n  "rows": [\n    1,\n    2\n  ]\n}\n');
    expectGolden(golden, { rows: [1, 2] }, {});
    expect(() => expectGolden(golden, { rows: [1, 3] }, {})).toThrow(/differs from .*value\.json \(if the change is meant, regenerate it with UPDATE_GOLDEN=1 and review the diff\)/);
  });
});
