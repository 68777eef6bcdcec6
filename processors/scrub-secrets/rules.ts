// Secret rule data: what the scrubber looks for in free text, JSON bodies, URLs and
// header lines. Kept as data so it can be reviewed and extended without touching
// the engine (scanner.ts compiles every rule once into one combined regex).
//
// Provider token formats follow gitleaks' default rule set
// (https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml, rule ids
// given in `source`) and secretlint's recommended preset
// (@secretlint/secretlint-rule-preset-recommend); the patterns are rewritten for
// one combined JavaScript regex tried only where a keyword starts: every match
// starts with a keyword (context before it goes in a lookbehind), boundaries are
// lookbehinds placed after the literal, quantifiers are bounded, and the secret
// is the last part of the match so that its context (`password=`, `Bearer `,
// `https://user:`) can be kept.

/** Checks applied to a candidate secret after the pattern matched. */
export type SecretCheck =
  /** At least one digit and one letter, or upper and lower case letters and 20+ characters: random, not a word. */
  | 'tokenish'
  /** Decodes as base64 to printable `user:password`. */
  | 'basic-credentials';

export interface SecretRule {
  /** Stable identifier (`openai-key`); unique. */
  readonly id: string;
  /** Named in the marker `[REDACTED:<kind>]` and in the redaction counters; `[a-z0-9-]+`. */
  readonly kind: string;
  /**
   * JavaScript regex source, used without flags (case-sensitive; spell case
   * variants out, see `ci`). Bounded quantifiers only. At most one capture group,
   * named `secret`, which must end the match (trailing context goes in a
   * lookahead); without it the whole match is the secret. No other capture groups.
   */
  readonly pattern: string;
  /**
   * Literal prefixes (ASCII), matched case-insensitively: EVERY match of `pattern`
   * STARTS with one of them. The scanner finds keyword occurrences in one pass
   * and tries the combined regex only where one starts; a value holding none is
   * returned as it is. Context before a keyword goes in a lookbehind.
   */
  readonly keywords: readonly string[];
  /** `keywords` are matched as written (upper/lower case), not case-insensitively. */
  readonly caseSensitive?: boolean;
  /** Extra check on the matched secret; a match failing it is left alone. */
  readonly check?: SecretCheck;
  /** Where the format comes from (gitleaks rule id, vendor docs). */
  readonly source?: string;
}

/** Case-insensitive spelling of a literal for a flagless regex: `ci('key')` -> `[Kk][Ee][Yy]`. */
export function ci(literal: string): string {
  let out = '';
  for (const ch of literal) {
    const lo = ch.toLowerCase();
    const up = ch.toUpperCase();
    out += lo !== up ? `[${up}${lo}]` : ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return out;
}

const alt = (words: readonly string[]): string => words.map(ci).join('|');

// ---------------------------------------------------------------------------
// `name: value`, `name=value`, `"name": "value"` (JSON at any depth, also
// escaped JSON inside a string), `name := value`, `name => value`. The name must
// END with the keyword: `max_tokens` or `token_type` do not match `token`.

/** Separator between a secret-ish name and its value. */
const ASSIGN = String.raw`(?:\\?["'])?[ \t]{0,3}(?::=|=>|[:=])[ \t]{0,3}(?:\\?["'])?`;
const SCHEME_WORDS = alt(['bearer', 'basic', 'token', 'bot', 'negotiate', 'digest']);
/** An auth scheme kept in front of the secret: `token: Bearer abc` keeps `Bearer `. */
const SCHEME = String.raw`(?:(?:${SCHEME_WORDS})[ \t]{1,3})?`;
/**
 * The value: a quoted string up to its closing quote (JSON escapes allowed; inside
 * escaped JSON, `\"` closes it), or an unquoted run up to whitespace, quote, `,`,
 * `;`, `&`, `}` or `]`. Never an object or array opening, never JSON
 * `true`/`false`/`null` or a JSON number (a marker there would break the JSON),
 * never a bare scheme word (`Bearer [REDACTED:x]` must stay as it is).
 */
const VALUE = String.raw`(?!(?:${SCHEME_WORDS})[ \t])(?<secret>(?<=[^\\]")(?:[^"\\\r\n]|\\.){1,8192}|(?<=\\")(?:[^"\\\r\n]|\\[^"\r\n]){1,8192}|(?<=')[^'\r\n]{1,8192}|(?![\[{])(?!(?:true|false|null)(?![\w-]))(?![0-9.eE+-]{1,40}[ \t]{0,3}[,}\]])[^\s"'\\,;&<>{}\]]{1,8192})`;

/** Keywords `name` + each character that can follow a name in a field (so `max_tokens` is no hit). */
function followed(names: readonly string[], next: readonly string[] = ['"', "'", '\\', ' ', '\t', ':', '=']): string[] {
  return names.flatMap((n) => next.map((c) => n + c));
}

function field(names: string): string {
  return `(?:${names})${ASSIGN}${SCHEME}${VALUE}`;
}

const PASSWORD_NAMES = ['password', 'passwd', 'passphrase'];
// `pass` and `pwd` only as whole words (`bypass: x` stays).
const PASSWORD_FIELD_NAMES = `${alt(PASSWORD_NAMES)}|${ci('pass')}(?<![A-Za-z0-9][Pp][Aa][Ss][Ss])|${ci('pwd')}(?<![A-Za-z0-9][Pp][Ww][Dd])`;
/** Query parameter names that are secret with any prefix (`access_token`, `X-Amz-Signature`). */
const QUERY_NAMES = ['token', 'secret', 'password', 'passwd', 'signature', 'credential', 'credentials', 'apikey'];
/** Short names, secret as a whole word only (`sig`, `api_key`, `apiKey`, not `monkey`). */
const QUERY_WORDS = ['key', 'sig', 'pass', 'pwd', 'auth', 'jwt'];
const capitalised = (w: string): string => `${w.charAt(0).toUpperCase()}${ci(w.slice(1))}`;
const AWS_SECRET_NAMES = `(?:${ci('aws')}[_.-]?)?${ci('secret')}[_.-]?${ci('access')}[_.-]?${ci('key')}|${ci('aws')}[_.-]?${ci('secret')}(?:[_.-]?${ci('key')})?`;
const SECRET_NAMES = [
  'secret',
  'token',
  'apikey',
  'api_key',
  'api-key',
  'api.key',
  'privatekey',
  'private_key',
  'private-key',
  'secretkey',
  'secret_key',
  'secret-key',
  'accesskey',
  'access_key',
  'access-key',
  'signingkey',
  'signing_key',
  'encryptionkey',
  'encryption_key',
  'masterkey',
  'master_key',
  'clientkey',
  'client_key',
  'sessionkey',
  'session_key',
  'authkey',
  'auth_key',
  'credential',
  'credentials',
  'jwt',
];

// ---------------------------------------------------------------------------
// The rules, in priority order: at one position, the first rule that matches
// wins, so specific formats come before generic ones (`sk-ant-` before `sk-`,
// `AccountKey=` before `...key=`).

export const SECRET_RULES: readonly SecretRule[] = [
  // --- private keys --------------------------------------------------------
  {
    id: 'pem-private-key',
    kind: 'private-key',
    // The body runs to the END line, or, in a truncated body, to the end of the
    // base64 run. `\\` lets it cross JSON-escaped newlines; `-(?!----)` stops it
    // at the next `-----` so the scan stays linear.
    pattern: String.raw`-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:[A-Za-z0-9+/=\s\\:.,()]|-(?!----)){0,32768}(?:-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----)?`,
    keywords: ['-----begin'],
    source: 'gitleaks private-key',
  },
  // --- LLM providers -------------------------------------------------------
  {
    id: 'anthropic-key',
    kind: 'anthropic-key',
    pattern: String.raw`sk-ant-(?<![A-Za-z0-9_-]sk-ant-)[A-Za-z0-9_-]{20,400}`,
    keywords: ['sk-ant-'],
    source: 'gitleaks anthropic-api-key, anthropic-admin-api-key',
  },
  {
    id: 'openrouter-key',
    kind: 'openrouter-key',
    pattern: String.raw`sk-or-v1-(?<![A-Za-z0-9_-]sk-or-v1-)[A-Za-z0-9]{40,100}`,
    keywords: ['sk-or-v1-'],
  },
  {
    id: 'openai-key',
    kind: 'openai-key',
    // Legacy `sk-<48>`, project `sk-proj-...`, service account `sk-svcacct-...`, admin `sk-admin-...`.
    pattern: String.raw`sk-(?<![A-Za-z0-9_-]sk-)[A-Za-z0-9_-]{20,400}`,
    keywords: ['sk-'],
    check: 'tokenish',
    source: 'gitleaks openai-api-key',
  },
  { id: 'groq-key', kind: 'groq-key', pattern: String.raw`gsk_(?<![A-Za-z0-9]gsk_)[A-Za-z0-9]{40,64}`, keywords: ['gsk_'] },
  { id: 'huggingface-token', kind: 'huggingface-token', pattern: String.raw`hf_(?<![A-Za-z0-9]hf_)[A-Za-z0-9]{30,64}(?![A-Za-z0-9])`, keywords: ['hf_'], check: 'tokenish', source: 'gitleaks huggingface-access-token' },
  { id: 'replicate-token', kind: 'replicate-token', pattern: String.raw`r8_(?<![A-Za-z0-9]r8_)[A-Za-z0-9]{30,50}(?![A-Za-z0-9])`, keywords: ['r8_'], check: 'tokenish' },
  { id: 'perplexity-key', kind: 'perplexity-key', pattern: String.raw`pplx-(?<![A-Za-z0-9]pplx-)[A-Za-z0-9]{40,64}`, keywords: ['pplx-'], check: 'tokenish' },
  { id: 'xai-key', kind: 'xai-key', pattern: String.raw`xai-(?<![A-Za-z0-9]xai-)[A-Za-z0-9]{40,100}`, keywords: ['xai-'], check: 'tokenish' },
  { id: 'langsmith-key', kind: 'langsmith-key', pattern: String.raw`lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}`, keywords: ['lsv2_'] },
  // --- cloud ---------------------------------------------------------------
  {
    id: 'aws-access-key-id',
    kind: 'aws-access-key-id',
    pattern: String.raw`(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)(?<![A-Za-z0-9](?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA))[A-Z2-7]{16}(?![A-Za-z0-9])`,
    keywords: ['A3T', 'AKIA', 'ASIA', 'ABIA', 'ACCA'],
    caseSensitive: true,
    source: 'gitleaks aws-access-token',
  },
  {
    id: 'aws-secret-access-key',
    kind: 'aws-secret-access-key',
    // Only in context: a 40-character base64 string alone is not recognisable.
    pattern: field(AWS_SECRET_NAMES),
    keywords: ['secret_access_key', 'secret-access-key', 'secret.access.key', 'secretaccesskey', 'aws_secret', 'aws-secret', 'aws.secret', 'awssecret'],
    source: 'gitleaks aws-access-token (context)',
  },
  {
    id: 'google-api-key',
    kind: 'google-api-key',
    pattern: String.raw`AIza(?<![A-Za-z0-9]AIza)[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])`,
    keywords: ['AIza'],
    caseSensitive: true,
    source: 'gitleaks gcp-api-key',
  },
  { id: 'google-oauth-secret', kind: 'google-oauth-secret', pattern: String.raw`GOCSPX-[A-Za-z0-9_-]{28}`, keywords: ['GOCSPX-'], caseSensitive: true },
  { id: 'google-oauth-token', kind: 'google-oauth-token', pattern: String.raw`ya29\.(?<![A-Za-z0-9]ya29\.)[A-Za-z0-9_-]{20,2048}`, keywords: ['ya29.'], check: 'tokenish' },
  {
    id: 'azure-storage-key',
    kind: 'azure-storage-key',
    pattern: String.raw`(?:${ci('accountkey')}|${ci('sharedaccesskey')})=(?<secret>[A-Za-z0-9+/]{20,200}={0,2})`,
    keywords: ['accountkey=', 'sharedaccesskey='],
    source: 'Azure storage / Service Bus connection strings',
  },
  {
    id: 'azure-sas',
    kind: 'azure-sas',
    pattern: String.raw`${ci('sharedaccesssignature')}=(?<secret>[^;"'\s]{1,4096})`,
    keywords: ['sharedaccesssignature='],
  },
  { id: 'digitalocean-token', kind: 'digitalocean-token', pattern: String.raw`do[opr]_v1_[a-f0-9]{64}`, keywords: ['dop_v1_', 'doo_v1_', 'dor_v1_'], source: 'gitleaks digitalocean-*' },
  { id: 'databricks-token', kind: 'databricks-token', pattern: String.raw`dapi(?<![A-Za-z0-9]dapi)[a-f0-9]{32}(?:-[0-9])?(?![A-Za-z0-9])`, keywords: ['dapi'], source: 'gitleaks databricks-api-token' },
  // --- code hosting, package registries ------------------------------------
  { id: 'github-token', kind: 'github-token', pattern: String.raw`gh[pousr]_(?<![A-Za-z0-9]gh[pousr]_)[A-Za-z0-9]{36,255}`, keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'], source: 'gitleaks github-pat, github-oauth, github-app-token, github-refresh-token' },
  { id: 'github-fine-grained-pat', kind: 'github-token', pattern: String.raw`github_pat_[A-Za-z0-9_]{22,255}`, keywords: ['github_pat_'], source: 'gitleaks github-fine-grained-pat' },
  { id: 'gitlab-token', kind: 'gitlab-token', pattern: String.raw`gl(?:pat|dt|rt|ptt|oas|cbt|ft|imt|soat|ffct|agent)-[A-Za-z0-9_-]{20,64}`, keywords: ['glpat-', 'gldt-', 'glrt-', 'glptt-', 'gloas-', 'glcbt-', 'glft-', 'glimt-', 'glsoat-', 'glffct-', 'glagent-'], source: 'gitleaks gitlab-*' },
  { id: 'npm-token', kind: 'npm-token', pattern: String.raw`npm_(?<![A-Za-z0-9]npm_)[A-Za-z0-9]{36}(?![A-Za-z0-9])`, keywords: ['npm_'], source: 'gitleaks npm-access-token' },
  { id: 'postman-key', kind: 'postman-key', pattern: String.raw`PMAK-[a-f0-9]{24}-[a-f0-9]{34}`, keywords: ['PMAK-'], caseSensitive: true },
  // --- messaging, payments, SaaS -------------------------------------------
  { id: 'slack-token', kind: 'slack-token', pattern: String.raw`xox[abposr]-(?<![A-Za-z0-9]xox[abposr]-)[A-Za-z0-9-]{10,250}`, keywords: ['xoxa-', 'xoxb-', 'xoxp-', 'xoxo-', 'xoxs-', 'xoxr-'], source: 'gitleaks slack-*-token' },
  { id: 'slack-app-token', kind: 'slack-token', pattern: String.raw`xapp-[0-9]-[A-Za-z0-9-]{10,250}`, keywords: ['xapp-'], source: 'gitleaks slack-app-token' },
  {
    id: 'slack-webhook',
    kind: 'slack-webhook',
    pattern: String.raw`hooks\.slack\.com/(?<secret>(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{8,300})`,
    keywords: ['hooks.slack.com/'],
    source: 'gitleaks slack-webhook-url',
  },
  {
    id: 'discord-webhook',
    kind: 'discord-webhook',
    pattern: String.raw`discord(?:app)?\.com/api/webhooks/(?<secret>[0-9]{5,30}/[A-Za-z0-9_-]{20,200})`,
    keywords: ['discord.com/api/webhooks/', 'discordapp.com/api/webhooks/'],
  },
  { id: 'stripe-key', kind: 'stripe-key', pattern: String.raw`[rs]k_(?:live|test)_(?<![A-Za-z0-9][rs]k_(?:live|test)_)[A-Za-z0-9]{10,250}`, keywords: ['sk_live_', 'sk_test_', 'rk_live_', 'rk_test_'], source: 'gitleaks stripe-access-token' },
  { id: 'stripe-webhook-secret', kind: 'stripe-webhook-secret', pattern: String.raw`whsec_[A-Za-z0-9+/=]{20,250}`, keywords: ['whsec_'] },
  { id: 'sendgrid-key', kind: 'sendgrid-key', pattern: String.raw`SG\.(?<![A-Za-z0-9]SG\.)[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}`, keywords: ['SG.'], caseSensitive: true, source: 'gitleaks sendgrid-api-token' },
  { id: 'twilio-key', kind: 'twilio-key', pattern: String.raw`SK(?<![A-Za-z0-9]SK)[0-9a-fA-F]{32}(?![A-Za-z0-9])`, keywords: ['SK'], caseSensitive: true, source: 'gitleaks twilio-api-key' },
  { id: 'shopify-token', kind: 'shopify-token', pattern: String.raw`shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}`, keywords: ['shpat_', 'shpca_', 'shppa_', 'shpss_'], source: 'gitleaks shopify-*' },
  { id: 'linear-key', kind: 'linear-key', pattern: String.raw`lin_api_[A-Za-z0-9]{40}`, keywords: ['lin_api_'] },
  // --- generic formats -----------------------------------------------------
  {
    id: 'jwt',
    kind: 'jwt',
    pattern: String.raw`eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{8,8192}\.eyJ[A-Za-z0-9_-]{4,16384}\.[A-Za-z0-9_-]{0,8192}`,
    keywords: ['eyJ'],
    caseSensitive: true,
    source: 'gitleaks jwt',
  },
  {
    id: 'url-password',
    kind: 'url-password',
    // scheme://user:password@host: the user stays. The password runs to the last
    // `@` of the token (passwords with an unencoded `@` are common); a `:` that is
    // a port (`host:8080/x@y`) is not a password.
    pattern: String.raw`://[^\s:@/?#'"<>\[\]]{0,128}:(?![0-9]{1,5}(?:[/?#\s'"<>]|$))(?<secret>[^\s'"<>]{1,512})(?=@)`,
    keywords: ['://'],
    source: 'gitleaks generic URL credentials; RFC 3986 userinfo',
  },
  {
    id: 'cookie-line',
    kind: 'cookie',
    // `Cookie: a=1; b=2` in a log line: everything to the end of the line.
    pattern: String.raw`(?:${ci('set-')})?${ci('cookie')}[ \t]{0,3}:[ \t]{0,3}(?<secret>[^\s"\\][^\r\n"\\]{0,8191})`,
    keywords: followed(['set-cookie', 'cookie'], [' ', '\t', ':']),
  },
  {
    id: 'authorization-field',
    kind: 'authorization',
    pattern: field(alt(['authorization'])),
    keywords: followed(['authorization']),
  },
  {
    id: 'password-field',
    kind: 'password',
    pattern: field(PASSWORD_FIELD_NAMES),
    keywords: followed([...PASSWORD_NAMES, 'pass', 'pwd']),
    source: 'ADO/JDBC `Password=...;`, YAML, JSON, env dumps',
  },
  {
    id: 'cookie-field',
    kind: 'cookie',
    pattern: field(alt(['cookie'])),
    keywords: followed(['cookie']),
  },
  {
    id: 'secret-field',
    kind: 'secret',
    pattern: field(alt(SECRET_NAMES)),
    keywords: followed(SECRET_NAMES),
  },
  {
    id: 'url-query-secret',
    kind: 'url-query-secret',
    // ?api_key=..., &token=..., &sig=... (Azure SAS), &X-Amz-Signature=... (a bare
    // `url.query` attribute is scanned with a `?` in front). `key` alone needs a
    // separator or camelCase before it (`apiKey`), so `monkey=` stays.
    pattern: String.raw`(?:(?<=[?&][A-Za-z0-9_.-]{0,40})(?:${alt(QUERY_NAMES)})|(?<=[?&](?:[A-Za-z0-9_.-]{0,40}[_.-])?)(?:${alt(QUERY_WORDS)})|(?<=[?&][A-Za-z0-9_.-]{0,40}[a-z])(?:${QUERY_WORDS.map(capitalised).join('|')}))=(?<secret>[^&#\s"'<>;]{1,8192})`,
    keywords: followed([...QUERY_NAMES, ...QUERY_WORDS], ['=']),
  },
  {
    id: 'bearer-token',
    kind: 'bearer-token',
    pattern: String.raw`${ci('bearer')}(?<![A-Za-z0-9][Bb][Ee][Aa][Rr][Ee][Rr])[ \t]{1,5}(?<secret>[A-Za-z0-9._~+/=-]{8,8192})`,
    keywords: followed(['bearer'], [' ', '\t']),
    check: 'tokenish',
    source: 'RFC 6750',
  },
  {
    id: 'basic-credentials',
    kind: 'basic-credentials',
    pattern: String.raw`${ci('basic')}(?<![A-Za-z0-9][Bb][Aa][Ss][Ii][Cc])[ \t]{1,5}(?<secret>[A-Za-z0-9+/]{4,8192}={0,2})`,
    keywords: followed(['basic'], [' ', '\t']),
    check: 'basic-credentials',
    source: 'RFC 7617',
  },
];

// ---------------------------------------------------------------------------
// Names: attribute keys, JSON keys (through the field rules above), environment
// variable names, header names. A value under such a name is replaced whole.

/** Header names whose value is replaced whole, whatever it looks like (lower case). */
export const SECRET_HEADERS: Readonly<Record<string, string>> = {
  authorization: 'authorization',
  'proxy-authorization': 'authorization',
  cookie: 'cookie',
  'set-cookie': 'cookie',
  'x-api-key': 'api-key',
  'api-key': 'api-key',
  'x-goog-api-key': 'api-key',
  'ocp-apim-subscription-key': 'api-key',
  'x-functions-key': 'api-key',
  'x-auth-token': 'token',
  'x-access-token': 'token',
  'x-amz-security-token': 'token',
  'x-csrf-token': 'token',
  'x-xsrf-token': 'token',
  'private-token': 'token',
  'x-vault-token': 'token',
};

/**
 * Header name words (split on `-`, `_`, `.`) that make a header secret, with the
 * kind. Whole words only: `x-ratelimit-remaining-tokens` stays (plural).
 */
export const SECRET_HEADER_WORDS: Readonly<Record<string, string>> = {
  authorization: 'authorization',
  auth: 'authorization',
  cookie: 'cookie',
  token: 'token',
  jwt: 'token',
  apikey: 'api-key',
  key: 'api-key',
  secret: 'secret',
  password: 'password',
  passwd: 'password',
  credential: 'secret',
  credentials: 'secret',
  session: 'session',
  signature: 'signature',
};

/**
 * Endings of a normalised name (lower case, non-alphanumerics removed) that make
 * an attribute or JSON key secret, with the kind: `db.password`, `client_secret`,
 * `openai_api_key`, `privateKey`. Longest first is not needed: the first hit wins.
 */
export const SECRET_NAME_SUFFIXES: readonly (readonly [suffix: string, kind: string])[] = [
  ['password', 'password'],
  ['passwd', 'password'],
  ['passphrase', 'password'],
  ['secret', 'secret'],
  ['secrets', 'secret'],
  ['token', 'token'],
  ['jwt', 'token'],
  ['apikey', 'api-key'],
  ['privatekey', 'private-key'],
  ['secretkey', 'secret'],
  ['accesskey', 'secret'],
  ['accountkey', 'secret'],
  ['signingkey', 'secret'],
  ['encryptionkey', 'secret'],
  ['masterkey', 'secret'],
  ['clientkey', 'secret'],
  ['sessionkey', 'secret'],
  ['authkey', 'secret'],
  ['credential', 'secret'],
  ['credentials', 'secret'],
  ['authorization', 'authorization'],
  ['cookie', 'cookie'],
];

/** Words of an environment variable name (split on `_`, `-`, `.`) that make it secret anywhere in the name. */
export const SECRET_ENV_WORDS: readonly string[] = ['PASSWORD', 'PASSWD', 'PASSPHRASE', 'SECRET', 'SECRETS', 'TOKEN', 'APIKEY', 'CREDENTIAL', 'CREDENTIALS'];
/** Last words of an environment variable name that make it secret (`*_KEY`, `DB_PASS`). */
export const SECRET_ENV_LAST_WORDS: readonly string[] = ['KEY', 'PASS', 'PWD', 'PW', 'AUTH', 'SIG', 'PAT', 'JWT'];
/** Environment variables that look secret-ish but are not. */
export const NON_SECRET_ENV_NAMES: readonly string[] = ['PWD', 'OLDPWD'];

/** Attribute key prefixes under which the rest of the key is a header name. */
export const HEADER_KEY_PREFIXES: readonly string[] = [
  'http.request.header.',
  'http.response.header.',
  'rpc.grpc.request.metadata.',
  'rpc.grpc.response.metadata.',
  'rpc.request.metadata.',
  'rpc.response.metadata.',
];

/** Attribute key prefixes under which the rest of the key is an environment variable name. */
export const ENV_KEY_PREFIXES: readonly string[] = ['env.', 'process.env.', 'environment.', 'process.environment.'];

/**
 * A field rule for extra names from the configuration: `name: value`,
 * `name=value`, `"name": "value"` where the name ends with one of `names`
 * (matched case-insensitively).
 */
export function nameFieldRule(id: string, kind: string, names: readonly string[]): SecretRule {
  const alternation = alt(names);
  return { id, kind, pattern: field(alternation), keywords: followed(names.map((n) => n.toLowerCase())) };
}
