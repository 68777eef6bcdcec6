import { describe, expect, it } from 'vitest';
import { allStrings, lookAlikes, secretCorpus } from './corpus.ts';
import { createSecretScrubber } from './processor.ts';
import { SECRET_RULES } from './rules.ts';
import { checkRules, compileScanner, KIND_PATTERN } from './scanner.ts';

// One sample per rule: a new rule needs one here (the last test checks it).
const SAMPLES: Record<string, readonly [input: string, expected: string]> = {
  'pem-private-key': ['k=-----BEGIN PRIVATE KEY-----\nMIIEvQ==\n-----END PRIVATE KEY-----.', 'k=[REDACTED:private-key].'],
  'anthropic-key': [`sk-ant-api03-${'Ab1_'.repeat(10)}`, '[REDACTED:anthropic-key]'],
  'openrouter-key': [`sk-or-v1-${'a1'.repeat(32)}`, '[REDACTED:openrouter-key]'],
  'openai-key': [`(sk-${'Ab1'.repeat(16)})`, '([REDACTED:openai-key])'],
  'groq-key': [`gsk_${'Ab1'.repeat(17)}`, '[REDACTED:groq-key]'],
  'huggingface-token': [`hf_${'Ab1'.repeat(12)}`, '[REDACTED:huggingface-token]'],
  'replicate-token': [`r8_${'Ab1'.repeat(13)}`, '[REDACTED:replicate-token]'],
  'perplexity-key': [`pplx-${'Ab1'.repeat(16)}`, '[REDACTED:perplexity-key]'],
  'xai-key': [`xai-${'Ab1'.repeat(27)}`, '[REDACTED:xai-key]'],
  'langsmith-key': [`lsv2_pt_${'a1'.repeat(16)}_${'b2'.repeat(5)}`, '[REDACTED:langsmith-key]'],
  'aws-access-key-id': ['id AKIAIOSFODNN7EXAMPLE,', 'id [REDACTED:aws-access-key-id],'],
  'aws-secret-access-key': ['aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'aws_secret_access_key=[REDACTED:aws-secret-access-key]'],
  'google-api-key': [`AIza${'Ab1_-'.repeat(7)}`, '[REDACTED:google-api-key]'],
  'google-oauth-secret': [`GOCSPX-${'Ab1_'.repeat(7)}`, '[REDACTED:google-oauth-secret]'],
  'google-oauth-token': [`ya29.${'Ab1'.repeat(10)}`, '[REDACTED:google-oauth-token]'],
  'azure-storage-key': [`AccountKey=${'Ab1+'.repeat(10)}==;`, 'AccountKey=[REDACTED:azure-storage-key];'],
  'azure-sas': ['SharedAccessSignature=sv=2020&sig=abc;x', 'SharedAccessSignature=[REDACTED:azure-sas];x'],
  'digitalocean-token': [`dop_v1_${'a1'.repeat(32)}`, '[REDACTED:digitalocean-token]'],
  'databricks-token': [`dapi${'a1'.repeat(16)}`, '[REDACTED:databricks-token]'],
  'github-token': [`ghp_${'Ab1'.repeat(12)}`, '[REDACTED:github-token]'],
  'github-fine-grained-pat': [`github_pat_${'Ab1_'.repeat(8)}`, '[REDACTED:github-token]'],
  'gitlab-token': [`glpat-${'Ab1'.repeat(7)}`, '[REDACTED:gitlab-token]'],
  'npm-token': [`npm_${'Ab1'.repeat(12)}`, '[REDACTED:npm-token]'],
  'postman-key': [`PMAK-${'a1'.repeat(12)}-${'b2'.repeat(17)}`, '[REDACTED:postman-key]'],
  'slack-token': [`xoxb-1234567890-${'Ab1'.repeat(8)}`, '[REDACTED:slack-token]'],
  'slack-app-token': [`xapp-1-A1234567890-${'a1'.repeat(10)}`, '[REDACTED:slack-token]'],
  'slack-webhook': ['https://hooks.slack.com/services/T000/B000/XXXXXXXX', 'https://hooks.slack.com/[REDACTED:slack-webhook]'],
  'discord-webhook': [`https://discord.com/api/webhooks/123456789/${'Ab1_'.repeat(8)}`, 'https://discord.com/api/webhooks/[REDACTED:discord-webhook]'],
  'stripe-key': [`sk_live_${'Ab1'.repeat(8)}`, '[REDACTED:stripe-key]'],
  'stripe-webhook-secret': [`whsec_${'Ab1'.repeat(10)}`, '[REDACTED:stripe-webhook-secret]'],
  'sendgrid-key': [`SG.${'Ab1'.repeat(7)}A.${'Ab1'.repeat(14)}A`, '[REDACTED:sendgrid-key]'],
  'twilio-key': [`SK${'a1'.repeat(16)}`, '[REDACTED:twilio-key]'],
  'shopify-token': [`shpat_${'a1'.repeat(16)}`, '[REDACTED:shopify-token]'],
  'linear-key': [`lin_api_${'Ab1'.repeat(13)}A`, '[REDACTED:linear-key]'],
  jwt: [`eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.${'Ab1'.repeat(10)}`, '[REDACTED:jwt]'],
  'url-password': ['amqp://guest:guest123@rabbit:5672/', 'amqp://guest:[REDACTED:url-password]@rabbit:5672/'],
  'cookie-line': ['Set-Cookie: sid=abc; Secure', 'Set-Cookie: [REDACTED:cookie]'],
  'authorization-field': ['{"Authorization": "Token abc123"}', '{"Authorization": "Token [REDACTED:authorization]"}'],
  'password-field': ['pwd = hunter2', 'pwd = [REDACTED:password]'],
  'cookie-field': ['{"cookie":"a=b"}', '{"cookie":"[REDACTED:cookie]"}'],
  'secret-field': ['client_secret: abc123', 'client_secret: [REDACTED:secret]'],
  'url-query-secret': ['https://h/?X-Amz-Signature=abc123&x=1', 'https://h/?X-Amz-Signature=[REDACTED:url-query-secret]&x=1'],
  'bearer-token': ['bearer abc123def456', 'bearer [REDACTED:bearer-token]'],
  'basic-credentials': ['basic dXNlcjpwYXNz', 'basic [REDACTED:basic-credentials]'],
};

describe('rule data', () => {
  it('passes the engine checks (compiles, one secret group, no empty match, keywords)', () => {
    expect(checkRules(SECRET_RULES)).toEqual([]);
  });

  it.each(SECRET_RULES.map((r) => [r.id, r] as const))('%s: kind, keywords, bounded quantifiers', (_id, rule) => {
    expect(rule.kind).toMatch(KIND_PATTERN);
    expect(rule.keywords.length).toBeGreaterThan(0);
    // No unbounded repetition: every `+`/`*` quantifier would be a backtracking risk.
    const unescaped = rule.pattern.replace(/\\./g, '').replace(/\[[^\]]*\]/g, '');
    expect(unescaped).not.toMatch(/[+*]/);
  });

  it.each(Object.entries(SAMPLES))('%s redacts its sample', (_id, [input, expected]) => {
    const scrubber = createSecretScrubber();
    expect(scrubber.scrubString(input)).toBe(expected);
    expect(scrubber.scrubString(expected)).toBe(expected);
  });

  it('every rule has a sample', () => {
    expect(SECRET_RULES.map((r) => r.id).filter((id) => !(id in SAMPLES))).toEqual([]);
  });

  // The scanner tries the combined regex only where a keyword starts; that finds
  // what a leftmost global scan finds only if every match starts with a keyword.
  it('every match on the corpus starts with one of its rule keywords', () => {
    const corpus = secretCorpus(3, 4);
    const texts = [...corpus.batches.flatMap((b) => allStrings(b)), ...lookAlikes(4).map((l) => l.value), ...Object.values(SAMPLES).map(([i]) => i)];
    let matches = 0;
    for (const [i, rule] of SECRET_RULES.entries()) {
      const re = new RegExp(rule.pattern, 'g');
      for (const text of texts) {
        for (const m of text.matchAll(re)) {
          matches++;
          const ok = rule.keywords.some((k) => (rule.caseSensitive === true ? text.startsWith(k, m.index) : text.slice(m.index, m.index + k.length).toLowerCase() === k.toLowerCase()));
          expect(ok, `rule ${i} ${rule.id} matched ${JSON.stringify(m[0].slice(0, 40))} not at a keyword`).toBe(true);
        }
      }
    }
    expect(matches).toBeGreaterThan(200);
  });

  it('the keyword pre-filter agrees with a naive search', () => {
    const scanner = compileScanner(SECRET_RULES);
    const keywords = SECRET_RULES.flatMap((r) => r.keywords.map((k) => ({ k, cs: r.caseSensitive === true })));
    const naive = (s: string): boolean => keywords.some(({ k, cs }) => (cs ? s.includes(k) : s.toLowerCase().includes(k.toLowerCase())));
    const texts = [...lookAlikes(5).map((l) => l.value), ...secretCorpus(5, 2).batches.flatMap((b) => allStrings(b)), 'ÄÖÜ sk-é', 'x'.repeat(100) + 'Bearer', 'ĳtoken'];
    for (const t of texts) expect(scanner.mayContain(t), t.slice(0, 60)).toBe(naive(t));
  });
});
