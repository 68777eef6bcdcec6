// The endpoint of a summary row: a route template, never a raw path. Raw paths
// carry ids (users, files, threads, conversations), and an id in a per-minute
// row would both identify a request and make the row's key unbounded.
//
// Sources, first present wins: `http.route` (the template the gateway matched),
// `url.path`, the path of `url.full`. Query strings and fragments are always
// cut, and every source, http.route included, goes through `templatePath`: a
// gateway that reports a raw path as its route must not leak ids either.
import type { Attributes } from '../../core/record.ts';

export const ID_PLACEHOLDER = ':id';

/** Segments longer than this are opaque (tokens, encoded blobs) whatever they contain. */
const MAX_SEGMENT = 64;

/**
 * An id-like path segment (case-insensitive):
 * - digits: `/users/42`
 * - a UUID: `/items/0f8fad5b-d9cb-469f-a165-70867728950e`
 * - hex of 8+ characters with a digit: hashes, Mongo ObjectIds, dashless UUIDs
 * - 16+ letters and digits mixed: ULIDs, base62 ids
 * - a word, `-` or `_`, then 8+ letters and digits with a digit: provider ids
 *   such as `file-BK7bzQj3FfZFXr7D`, `thread_abc123def456`, `chatcmpl-9x8y7z6w`
 * Kept: words, versions and model names (`v1`, `gpt-4o-mini`,
 * `claude-3-5-sonnet-20241022`, `gemini-1.5-pro:generateContent`).
 */
const ID_SEGMENT = new RegExp(
  '^(?:' +
    [
      '\\d+',
      '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
      '(?=[a-f]*\\d)[0-9a-f]{8,}',
      '(?=[a-z]*\\d)(?=\\d*[a-z])[a-z0-9]{16,}',
      '[a-z]+[-_](?=[a-z]*\\d)[a-z0-9]{8,}',
    ].join('|') +
    ')$',
  'i',
);

/** E-mail addresses (also percent-encoded) identify people. */
const PERSONAL_SEGMENT = /@|%40/i;

function isIdSegment(segment: string): boolean {
  return segment.length > MAX_SEGMENT || ID_SEGMENT.test(segment) || PERSONAL_SEGMENT.test(segment);
}

/** Cuts `?query` and `#fragment`. */
function stripQuery(path: string): string {
  const q = path.search(/[?#]/);
  return q === -1 ? path : path.slice(0, q);
}

/** Replaces id-like segments with `:id`; drops the query string and fragment. */
export function templatePath(raw: string): string {
  const path = stripQuery(raw);
  if (path === '') return '';
  const segments = path.split('/');
  let changed = false;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s !== '' && s !== ID_PLACEHOLDER && isIdSegment(s)) {
      segments[i] = ID_PLACEHOLDER;
      changed = true;
    }
  }
  return changed ? segments.join('/') : path;
}

/** The path of an absolute URL (`https://host/a/b?x` -> `/a/b`), or of a relative one. */
function pathOfUrl(url: string): string {
  const scheme = url.indexOf('://');
  if (scheme === -1) return url;
  const slash = url.indexOf('/', scheme + 3);
  const cut = url.slice(scheme + 3).search(/[?#]/);
  if (slash === -1 || (cut !== -1 && cut + scheme + 3 < slash)) return '/';
  return url.slice(slash);
}

/** The raw path an endpoint is made from (route, path, or the path of the URL); '' when none. */
export function endpointSource(a: Attributes): string {
  const route = a['http.route'];
  if (route !== undefined && route !== '') return route;
  const path = a['url.path'];
  if (path !== undefined && path !== '') return path;
  const full = a['url.full'];
  if (full !== undefined && full !== '') return pathOfUrl(full);
  return '';
}

/** The endpoint of a request span, `''` when it has no route, path or URL. */
export function endpointOf(a: Attributes): string {
  return templatePath(endpointSource(a));
}
