// The control-plane web page, served by the management API under /ui on its
// own port (@fastify/static). Only static files live here: the page
// (collector/ui/web/, committed source, no build step) and the browser builds
// of preact, htm and uPlot from node_modules under /ui/vendor/<package>/.
// Nothing under /ui needs a token; every figure the page shows comes from
// /api, called with the operator's token (kept in sessionStorage, never in a
// URL), so the page itself holds no data.
//
// The page's routes are made once at registration from its files (wildcard
// off), and the vendor folders serve only the files listed here: no request
// path reaches another file.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';

/** URL prefix of the page. */
export const UI_PREFIX = '/ui';

const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), 'web');

/**
 * Browser builds of the libraries the page imports (index.html's import map
 * names them), per package: the files of the package served under
 * /ui/vendor/<package>/, as the package lays them out.
 */
export const VENDOR: Readonly<Record<string, readonly string[]>> = {
  preact: ['dist/preact.mjs', 'hooks/dist/hooks.mjs'],
  htm: ['dist/htm.module.js', 'preact/index.module.js'],
  uplot: ['dist/uPlot.esm.js', 'dist/uPlot.min.css'],
};

/** The folder of an installed package (its package.json is not always exported: resolve its main entry and walk up). */
function packageDir(name: string): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve(name));
  while (!dir.endsWith(`/node_modules/${name}`)) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`ui: cannot find the folder of package ${name}`);
    dir = up;
  }
  return dir;
}

/**
 * The Content-Security-Policy of every /ui response: scripts, styles, images
 * and fetches from this origin only; no inline script except the import map,
 * allowed by its hash; no inline style attributes, no eval, no framing.
 */
export function contentSecurityPolicy(indexHtml: string): string {
  const m = /<script type="importmap">([\s\S]*?)<\/script>/.exec(indexHtml);
  if (m === null) throw new Error('ui: index.html has no import map');
  const hash = createHash('sha256').update(m[1]!, 'utf8').digest('base64');
  return [
    "default-src 'none'",
    `script-src 'self' 'sha256-${hash}'`,
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Registers GET /ui and /ui/ (the page; a route of a prefixed plugin answers both), /ui/<file> and /ui/vendor/<package>/<file>. */
export const consoleUi: FastifyPluginAsync = async (app: FastifyInstance) => {
  const csp = contentSecurityPolicy(readFileSync(join(WEB_DIR, 'index.html'), 'utf8'));
  await app.register(
    async (ui) => {
      ui.addHook('onSend', async (_req, reply) => {
        reply.header('content-security-policy', csp);
        reply.header('x-content-type-options', 'nosniff');
        reply.header('referrer-policy', 'no-referrer');
        reply.header('x-frame-options', 'DENY');
        reply.header('cross-origin-opener-policy', 'same-origin');
        reply.header('cross-origin-resource-policy', 'same-origin');
        // Revalidated on every load (ETag), so a new version is never stale.
        reply.header('cache-control', 'no-cache');
      });
      await ui.register(fastifyStatic, { root: WEB_DIR, prefix: '/', wildcard: false, index: ['index.html'], cacheControl: false, lastModified: false });
      for (const [pkg, files] of Object.entries(VENDOR)) {
        const allowed = new Set(files.map((f) => `/${f}`));
        await ui.register(fastifyStatic, {
          root: packageDir(pkg),
          prefix: `/vendor/${pkg}/`,
          decorateReply: false,
          cacheControl: false,
          lastModified: false,
          allowedPath: (path) => allowed.has(path),
        });
      }
    },
    { prefix: UI_PREFIX },
  );
};
