// Name rules: whether an attribute key, header name or environment variable name
// says its value is a credential, whatever the value looks like. Such a value is
// replaced whole.

import {
  ENV_KEY_PREFIXES,
  HEADER_KEY_PREFIXES,
  NON_SECRET_ENV_NAMES,
  SECRET_ENV_LAST_WORDS,
  SECRET_ENV_WORDS,
  SECRET_HEADER_WORDS,
  SECRET_HEADERS,
  SECRET_NAME_SUFFIXES,
} from './rules.ts';

export interface NameRules {
  /** Kind of the credential an attribute key names (`http.request.header.authorization`, `db.password`, `env.OPENAI_API_KEY`), or null. */
  attributeKey(key: string): string | null;
  /** Kind of the credential an environment variable name names (`OPENAI_API_KEY`, `PGPASSWORD`), or null. */
  envName(name: string): string | null;
  /** Kind of the credential a header name names (`x-api-key`), or null. */
  headerName(name: string): string | null;
}

export interface NameRulesOptions {
  /** Extra header names (any case) replaced whole. */
  extraHeaderNames: readonly string[];
  /** Extra key names, matched like the built-in endings after normalisation. */
  extraKeyNames: readonly string[];
}

/** Lower case, letters and digits only: `X-Api_Key` -> `xapikey`. */
export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

const WORD_SPLIT = /[-_.\s]+/;

export function createNameRules(options: NameRulesOptions): NameRules {
  const headers = new Map<string, string>(Object.entries(SECRET_HEADERS));
  for (const h of options.extraHeaderNames) headers.set(h.toLowerCase(), 'credential');
  const suffixes: (readonly [string, string])[] = [...SECRET_NAME_SUFFIXES];
  for (const k of options.extraKeyNames) suffixes.push([normaliseName(k), 'secret']);
  const envWords = new Set(SECRET_ENV_WORDS);
  const envLastWords = new Set(SECRET_ENV_LAST_WORDS);
  const nonSecretEnv = new Set(NON_SECRET_ENV_NAMES);
  const headerWords = new Map<string, string>(Object.entries(SECRET_HEADER_WORDS));

  const bySuffix = (name: string): string | null => {
    const n = normaliseName(name);
    if (n === '') return null;
    for (const [suffix, kind] of suffixes) if (n.endsWith(suffix)) return kind;
    return null;
  };

  const headerName = (name: string): string | null => {
    const lower = name.toLowerCase();
    const exact = headers.get(lower);
    if (exact !== undefined) return exact;
    const words = lower.split(WORD_SPLIT);
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      // `api-key`, `api_key` as two words.
      if (w === 'api' && words[i + 1] === 'key') return 'api-key';
      const kind = headerWords.get(w);
      if (kind !== undefined) return kind;
    }
    return bySuffix(lower);
  };

  const envName = (name: string): string | null => {
    const upper = name.toUpperCase();
    if (nonSecretEnv.has(upper)) return null;
    const words = upper.split(WORD_SPLIT).filter((w) => w !== '');
    if (words.length === 0) return null;
    if (upper.includes('PASSWORD')) return 'password';
    for (const w of words) if (envWords.has(w)) return w.startsWith('PASS') ? 'password' : 'secret';
    if (envLastWords.has(words[words.length - 1]!)) return 'secret';
    return bySuffix(name);
  };

  const attributeKey = (key: string): string | null => {
    for (const p of HEADER_KEY_PREFIXES) if (key.startsWith(p)) return headerName(key.slice(p.length));
    for (const p of ENV_KEY_PREFIXES) if (key.startsWith(p)) return envName(key.slice(p.length));
    const dot = key.lastIndexOf('.');
    return bySuffix(dot < 0 ? key : key.slice(dot + 1));
  };

  return { attributeKey, envName, headerName };
}
