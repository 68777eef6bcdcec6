// Configuration of the secret scrubber: one schema gives the types and the
// validation; every error is reported at once with its key path, unknown keys
// are rejected, and nothing is clamped.

import { Type, type Static } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { SECRET_RULES, type SecretRule } from './rules.ts';
import { checkRules } from './scanner.ts';

const RuleSchema = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    kind: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' }),
    pattern: Type.String({ minLength: 1 }),
    keywords: Type.Array(Type.String({ minLength: 1 })),
    caseSensitive: Type.Optional(Type.Boolean()),
    check: Type.Optional(Type.Union([Type.Literal('tokenish'), Type.Literal('basic-credentials')])),
    source: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

// RFC 9110 token characters.
const HEADER_NAME = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";

export const ScrubSecretsConfigSchema = Type.Object(
  {
    extraHeaderNames: Type.Optional(Type.Array(Type.String({ minLength: 1, pattern: HEADER_NAME }))),
    extraKeyNames: Type.Optional(Type.Array(Type.String({ minLength: 1, pattern: '[A-Za-z0-9]' }))),
    extraRules: Type.Optional(Type.Array(RuleSchema)),
    onRedact: Type.Optional(Type.Function([Type.String(), Type.Number()], Type.Void())),
  },
  { additionalProperties: false },
);

export interface ScrubSecretsConfig {
  /**
   * Header names (any case) whose value is replaced whole, besides the built-in
   * ones (`authorization`, `cookie`, `x-api-key`, ... and any name with a word
   * such as `token`, `key`, `secret`, `auth`). Applies to
   * `http.request.header.<name>` / `http.response.header.<name>` attributes and
   * to `<name>: value` in text. Default and empty: none extra.
   */
  extraHeaderNames?: string[];
  /**
   * Key names whose value is replaced whole, besides the built-in endings
   * (`password`, `secret`, `token`, `api_key`, ...). Matched after
   * normalisation (lower case, non-alphanumerics removed) as the end of an
   * attribute key's last segment, of a JSON key, of `name=value` in text.
   * Default and empty: none extra.
   */
  extraKeyNames?: string[];
  /**
   * Rules tried before the built-in ones, same shape as `SECRET_RULES` (see
   * rules.ts for what a pattern may hold). Default and empty: none extra.
   */
  extraRules?: SecretRule[];
  /**
   * Receives how many values were redacted per kind: once per kind per batch
   * (processor) or per call (`scrubString`, `scrubAttributes`). Never receives a
   * value. Default: counts are only kept in `counts()`.
   */
  onRedact?: (kind: string, n: number) => void;
}

// The interface documents, the schema validates: what passes the schema must be
// a ScrubSecretsConfig (compile-time check).
const schemaFitsInterface = (valid: Static<typeof ScrubSecretsConfigSchema>): ScrubSecretsConfig => valid;
void schemaFitsInterface;

export interface ConfigError {
  /** JSON pointer of the offending key (`/extraRules/0/pattern`). */
  path: string;
  message: string;
}

export type ConfigResult = { ok: true; config: ScrubSecretsConfig } | { ok: false; errors: ConfigError[] };

/** Validates a configuration completely; every error comes back at once, with its path. */
export function validateScrubSecretsConfig(input: unknown): ConfigResult {
  const config = input === undefined ? {} : input;
  const errors: ConfigError[] = [];
  for (const e of Value.Errors(ScrubSecretsConfigSchema, config)) {
    // TypeBox says "Unexpected property": name the key and the ones allowed there.
    const unknown = e.type === ValueErrorType.ObjectAdditionalProperties;
    const known = unknown ? Object.keys((e.schema as { properties?: object }).properties ?? {}).join(', ') : '';
    errors.push({ path: e.path === '' ? '/' : e.path, message: unknown ? `unknown key "${e.path.split('/').pop()}"; known keys: ${known}` : e.message });
  }
  // Rules well-formed as data are also checked as regexes, even when something
  // else is wrong: every error at once.
  const rules = typeof config === 'object' && config !== null ? (config as { extraRules?: unknown }).extraRules : undefined;
  if (Array.isArray(rules)) {
    const wellFormed = rules.flatMap((r: unknown, index) => (Value.Check(RuleSchema, r) ? [{ rule: r, index }] : []));
    for (const p of checkRules(wellFormed.map((w) => w.rule))) errors.push({ path: `/extraRules/${wellFormed[p.index]!.index}/${p.path}`, message: p.message });
    const builtIn = new Set([...SECRET_RULES.map((r) => r.id), 'config-extra-key-names', 'config-extra-header-names']);
    for (const w of wellFormed) if (builtIn.has(w.rule.id)) errors.push({ path: `/extraRules/${w.index}/id`, message: `"${w.rule.id}" is a built-in rule id` });
  }
  if (errors.length > 0) return { ok: false, errors };
  const valid: ScrubSecretsConfig = config as Static<typeof ScrubSecretsConfigSchema>;
  return { ok: true, config: valid };
}

/** Thrown by `createSecretScrubber` for an invalid configuration: all errors, with paths. */
export class ScrubSecretsConfigError extends Error {
  readonly errors: readonly ConfigError[];
  constructor(errors: readonly ConfigError[]) {
    super(`invalid scrub-secrets config: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    this.name = 'ScrubSecretsConfigError';
    this.errors = errors;
  }
}
