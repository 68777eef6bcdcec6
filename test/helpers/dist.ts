// The compiled product (dist/, `npm run build`), which is what production
// runs: tests that start processes start these, not the TypeScript sources.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** `dist/<path>.js` of a source path such as `app/collector-main.ts`; throws, saying what to do, when it was not built. */
export function compiled(source: string): string {
  const js = `dist/${source.replace(/\.ts$/, '.js')}`;
  if (!existsSync(REPO + js)) throw new Error(`${js} does not exist: run \`npm run build\` (npm test builds first)`);
  return js;
}
