// Golden files: the expected output of a test, committed beside it and
// compared as JSON. Written only on purpose (UPDATE_GOLDEN=1), then reviewed as
// a diff; a missing one is a failure like any other difference, in CI or not,
// so a test never passes by writing its own answer.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** Compares `actual` with the JSON golden file; with UPDATE_GOLDEN=1 writes it first. */
export function expectGolden(file: URL, actual: unknown, env: NodeJS.ProcessEnv = process.env): void {
  const path = relative(process.cwd(), fileURLToPath(file));
  if (env['UPDATE_GOLDEN'] === '1') {
    mkdirSync(new URL('./', file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
  } else if (!existsSync(file)) {
    const testFile = expect.getState().testPath;
    throw new Error(`golden file ${path} is missing: write it on purpose with UPDATE_GOLDEN=1 npx vitest run ${testFile === undefined ? '<this test file>' : relative(process.cwd(), testFile)}, then review it (git diff) and commit it`);
  }
  expect(actual, `differs from ${path} (if the change is meant, regenerate it with UPDATE_GOLDEN=1 and review the diff)`).toEqual(JSON.parse(readFileSync(file, 'utf8')));
}
