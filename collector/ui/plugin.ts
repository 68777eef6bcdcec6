// The control-plane web page, served by the management API under /ui on its
// own port. Only static files live here: the page (collector/ui/web/, committed
// source, no build step) and the ES modules of preact, htm and uPlot from
// node_modules. Nothing under /ui needs a token; every figure the page shows
// comes from /api, called with the admin token the operator pastes (kept in
// sessionStorage, never in a URL), so the page itself holds no data.
//
// Every file is read once at registration into memory: a fixed table of URL
// paths, so no request path ever reaches the file system.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';

/** URL prefix of the page. */
export const UI_PREFIX = '/ui';

const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), 'web');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Browser builds of the libraries, by the name the page imports them under
 * (index.html's import map points each bare name at /ui/vendor/<file>).
 * `from` is resolved with Node's resolver, then `file` taken beside it, so a
 * package's export map does not decide which build the browser gets.
 */
const VENDOR: Array<{ file: string; from: string; pick?: string }> = [
  { file: 'preact.mjs', from: 'preact' },
  { file: 'preact-hooks.mjs', from: 'preact/hooks' },
  { file: 'htm.mjs', from: 'htm', pick: 'htm.module.js' },
  { file: 'htm-preact.mjs', from: 'htm/preact', pick: 'index.module.js' },
  { file: 'uplot.mjs', from: 'uplot/dist/uPlot.esm.js' },
  { file: 'uplot.css', from: 'uplot/dist/uPlot.min.css' },
];

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function asset(body: Buffer, path: string): Asset {
  const type = CONTENT_TYPES[extname(path)];
  if (type === undefined) throw new Error(`ui: no content type for ${path}`);
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** Reads the page's files and the vendor modules; throws (at start) when one is missing. */
export function loadAssets(webDir = WEB_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (CONTENT_TYPES[extname(e.name)] !== undefined) assets.set(`/${relative(webDir, full).split(sep).join('/')}`, asset(readFileSync(full), full));
    }
  };
  walk(webDir);
  const require = createRequire(import.meta.url);
  for (const v of VENDOR) {
    const resolved = require.resolve(v.from);
    const path = v.pick === undefined ? resolved : join(dirname(resolved), v.pick);
    assets.set(`/vendor/${v.file}`, asset(readFileSync(path), v.file));
  }
  return assets;
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

/** Registers GET /ui (redirect), /ui/ (the page) and /ui/<file>. */
export const consoleUi: FastifyPluginAsync = async (app: FastifyInstance) => {
  const assets = loadAssets();
  const index = assets.get('/index.html');
  if (index === undefined) throw new Error(`ui: ${WEB_DIR}/index.html is missing`);
  const csp = contentSecurityPolicy(index.body.toString('utf8'));

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
      ui.get('', async (_req, reply) => reply.redirect(`${UI_PREFIX}/`));
      ui.get<{ Params: { '*': string } }>('/*', async (req, reply) => {
        const path = req.params['*'] === '' ? '/index.html' : `/${req.params['*']}`;
        const a = assets.get(path);
        if (a === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('no such file');
        if (req.headers['if-none-match'] === a.etag) return reply.code(304).header('etag', a.etag).send();
        return reply.type(a.type).header('etag', a.etag).send(a.body);
      });
    },
    { prefix: UI_PREFIX },
  );
};
