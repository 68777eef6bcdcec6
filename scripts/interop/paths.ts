import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Everything the interop environment builds lives here (git-ignored through `.cache/`). */
export const INTEROP_CACHE = join(REPO_ROOT, '.cache', 'interop');

export function defaultProgress(line: string): void {
  process.stderr.write(`[interop] ${line}\n`);
}
