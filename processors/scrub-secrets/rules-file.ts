// An operator's own secret formats and names (CONSENTRY_SECRET_RULES_FILE): a
// YAML file of the scrubber's extensions (config.ts: extraRules,
// extraHeaderNames, extraKeyNames), added to the built-in ones in every tier and
// in Consentry's own logs. Validated completely at start; every problem is
// reported with the file, the line and the key.
//
//   extraRules:
//     - id: acme-token
//       kind: acme-key
//       pattern: 'acme_[a-z0-9]{32}'
//       keywords: [acme_]
//   extraHeaderNames: [X-Acme-Badge]
//   extraKeyNames: [pin]
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError } from '../../core/settings.ts';
import { validateScrubSecretsConfig, type ScrubSecretsConfig } from './config.ts';

const FILE_KEYS = ['extraRules', 'extraHeaderNames', 'extraKeyNames'] as const;

/** What a rules file sets: the scrubber's extensions, no callbacks. */
export type SecretRules = Pick<ScrubSecretsConfig, (typeof FILE_KEYS)[number]>;

/** Reads and validates a rules file; throws one ConfigError listing every problem as `file:line: key: message`. */
export function loadSecretRulesFile(file: string): SecretRules {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read the secret rules file (${(err as Error).message}); check CONSENTRY_SECRET_RULES_FILE`], 'secret rules file');
  }
  const parsed = parseSecretRules(file, text);
  if ('problems' in parsed) throw new ConfigError(parsed.problems, 'secret rules file');
  return parsed.rules;
}

/** Parses and validates the text of a rules file: the rules, or every problem with its line. */
export function parseSecretRules(file: string, text: string): { rules: SecretRules } | { problems: string[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  // (linePos is set only with prettyErrors, which would put a code frame in the message.)
  if (doc.errors.length > 0) return { problems: doc.errors.map((e) => `${file}:${lines.linePos(e.pos[0]).line}: YAML syntax: ${e.message.split('\n')[0]}`) };
  /** `file:line` of the deepest node of `path` the document has. */
  const at = (path: ReadonlyArray<string | number>): string => {
    for (let p = path; ; p = p.slice(0, -1)) {
      const node = doc.getIn(p, true) as { range?: [number, number, number] } | undefined;
      if (node?.range !== undefined) return `${file}:${lines.linePos(node.range[0]).line}`;
      if (p.length === 0) return `${file}:1`;
    }
  };
  const value: unknown = doc.toJS() ?? {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problems: [`${file}:1: must be a mapping with ${FILE_KEYS.join(', ')}`] };
  const problems = Object.keys(value)
    .filter((k) => !(FILE_KEYS as readonly string[]).includes(k))
    .map((k) => `${at([k])}: unknown key "${k}"; known keys: ${FILE_KEYS.join(', ')}`);
  const result = validateScrubSecretsConfig(value);
  if (!result.ok) {
    for (const e of result.errors) {
      const path = e.path.split('/').filter(Boolean).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      if (path.length === 1 && !(FILE_KEYS as readonly string[]).includes(String(path[0]))) continue; // reported above
      problems.push(`${at(path)}: ${path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('').slice(1)}: ${e.message}`);
    }
  }
  return problems.length > 0 || !result.ok ? { problems } : { rules: result.config };
}
