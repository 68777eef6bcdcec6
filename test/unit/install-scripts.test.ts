// Install scripts are reviewed: every installed package that has one is named
// in package.json allowScripts (true: it must run; false: refused), and
// .npmrc refuses them all (ignore-scripts), so a fresh clone installs the same
// way on every npm. A new dependency with an install script fails here until
// someone decides.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/dist.ts';

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };

function packagesWithInstallScripts(): string[] {
  const out: string[] = [];
  const nm = join(REPO, 'node_modules');
  const look = (dir: string, name: string) => {
    try {
      const p = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
      if (['preinstall', 'install', 'postinstall'].some((s) => p.scripts?.[s] !== undefined)) out.push(name);
    } catch {
      // not a package
    }
  };
  for (const e of readdirSync(nm)) {
    if (e.startsWith('.')) continue;
    if (e.startsWith('@')) for (const s of readdirSync(join(nm, e))) look(join(nm, e, s), `${e}/${s}`);
    else look(join(nm, e), e);
  }
  return out.sort();
}

describe('install scripts', () => {
  it('every installed package with an install script is reviewed in package.json allowScripts', () => {
    const found = packagesWithInstallScripts();
    expect(found.length).toBeGreaterThan(0);
    expect(found.filter((name) => pkg.allowScripts?.[name] === undefined)).toEqual([]);
  });

  it('none is allowed, and .npmrc refuses them on every npm', () => {
    expect(Object.entries(pkg.allowScripts ?? {}).filter(([, allowed]) => allowed)).toEqual([]);
    expect(readFileSync(join(REPO, '.npmrc'), 'utf8')).toMatch(/^ignore-scripts=true$/m);
  });
});
