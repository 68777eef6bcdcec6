// The secret scrubber: first stage of every tier, on every record. Credentials
// never reach storage, whatever the tier (DESIGN.md, Tiers).
//
// Two kinds of evidence:
// - names: an attribute key, header name or environment variable name that says
//   "credential" (`http.request.header.authorization`, `db.password`,
//   `env.OPENAI_API_KEY`): the value is replaced whole, whatever it looks like;
// - content: token formats, `password=...`, JSON `"api_key": "..."` at any depth,
//   URL userinfo and query parameters, PEM blocks, in every string (scanner.ts).
// Replacements are `[REDACTED:<kind>]`; scrubbing twice changes nothing.

import type {
  Attributes,
  BatchContext,
  GatewayMetadataRecord,
  RecordBatch,
  Resource,
  Scope,
} from '../record.ts';
import { ScrubSecretsConfigError, validateScrubSecretsConfig, type ScrubSecretsConfig } from './config.ts';
import { createNameRules } from './names.ts';
import { nameFieldRule, SECRET_RULES, type SecretRule } from './rules.ts';
import { compileScanner, isMarker, marker } from './scanner.ts';

export type { ScrubSecretsConfig } from './config.ts';

export interface SecretScrubber {
  /** The string with every secret replaced; the same instance when it holds none. */
  scrubString(value: string): string;
  /**
   * Attributes with secrets replaced, by key (headers, secret-ish names: the
   * whole value) and by content (every value, and every key); the same object
   * when nothing changed, otherwise a copy (the input is never modified).
   */
  scrubAttributes(attrs: Attributes): Attributes;
  /** Environment variables (keys are variable names): secret-ish names replaced whole, every value scanned. */
  scrubEnvironment(env: Attributes): Attributes;
  /** Values redacted since creation, per kind. */
  counts(): Record<string, number>;
}

/** A processor: a function over a batch; the pipeline calls the next stage. */
export type BatchProcessor = (batch: RecordBatch, ctx: BatchContext) => RecordBatch;

/** Past this many distinct attribute keys the verdict cache starts over (high-cardinality keys). */
const KEY_CACHE_LIMIT = 8192;

interface KeyVerdict {
  /** Kind when the key names a credential (value replaced whole), else null. */
  readonly kind: string | null;
  /** The key itself, scrubbed (a key can hold a secret too). */
  readonly key: string;
  /** Kinds redacted in the key, counted each time the key is seen. */
  readonly keyKinds: readonly string[];
}

/**
 * Compiles the rules once. Throws `ScrubSecretsConfigError` (every problem, with
 * its path) for an invalid configuration; `validateScrubSecretsConfig` gives the
 * same errors as a value.
 */
export function createSecretScrubber(config: ScrubSecretsConfig = {}): SecretScrubber {
  return new Scrubber(config);
}

/**
 * The processor form: scrubs every string of every span (name, attributes, events,
 * links, status message, trace state), log (body, severity text, attributes),
 * gateway metadata (environment, policy config, names) and summary, and of their
 * resources and scopes. Spans, logs and metadata are updated in place (the batch
 * owns them); Resource and Scope objects are shared and immutable, so each
 * distinct one is scrubbed once per batch and replaced by a copy if it changed.
 */
export function scrubSecretsProcessor(config: ScrubSecretsConfig = {}): BatchProcessor {
  const scrubber = new Scrubber(config);
  return (batch) => scrubber.scrubBatch(batch);
}

class Scrubber implements SecretScrubber {
  private readonly scanner;
  private readonly names;
  private readonly attrKeys = new Map<string, KeyVerdict>();
  private readonly envKeys = new Map<string, KeyVerdict>();
  private readonly onRedact: ((kind: string, n: number) => void) | undefined;
  private readonly totals = new Map<string, number>();
  /** Redactions not yet reported to `onRedact`. */
  private readonly pending = new Map<string, number>();
  private readonly hit = (kind: string): void => {
    this.pending.set(kind, (this.pending.get(kind) ?? 0) + 1);
  };

  constructor(config: ScrubSecretsConfig) {
    const result = validateScrubSecretsConfig(config);
    if (!result.ok) throw new ScrubSecretsConfigError(result.errors);
    const extraRules: SecretRule[] = [...(config.extraRules ?? [])];
    const extraKeys = config.extraKeyNames ?? [];
    const extraHeaders = config.extraHeaderNames ?? [];
    if (extraKeys.length > 0) extraRules.push(nameFieldRule('config-extra-key-names', 'secret', extraKeys));
    if (extraHeaders.length > 0) extraRules.push(nameFieldRule('config-extra-header-names', 'credential', extraHeaders));
    this.scanner = compileScanner([...extraRules, ...SECRET_RULES]);
    this.names = createNameRules({ extraHeaderNames: extraHeaders, extraKeyNames: extraKeys });
    this.onRedact = config.onRedact;
  }

  scrubString(value: string): string {
    const out = this.scanner.scan(value, this.hit);
    if (out !== value) this.flush();
    return out;
  }

  scrubAttributes(attrs: Attributes): Attributes {
    const out = this.attributes(attrs, false);
    if (out !== attrs) this.flush();
    return out;
  }

  scrubEnvironment(env: Attributes): Attributes {
    const out = this.attributes(env, true);
    if (out !== env) this.flush();
    return out;
  }

  counts(): Record<string, number> {
    return Object.fromEntries(this.totals);
  }

  scrubBatch(batch: RecordBatch): RecordBatch {
    const resources = new Map<Resource, Resource>();
    const scopes = new Map<Scope, Scope>();
    const resource = (r: Resource): Resource => {
      let done = resources.get(r);
      if (done === undefined) {
        done = this.resource(r);
        resources.set(r, done);
      }
      return done;
    };
    const scope = (s: Scope): Scope => {
      let done = scopes.get(s);
      if (done === undefined) {
        done = this.scope(s);
        scopes.set(s, done);
      }
      return done;
    };
    const text = (s: string): string => this.scanner.scan(s, this.hit);

    for (const span of batch.spans) {
      span.resource = resource(span.resource);
      span.scope = scope(span.scope);
      span.name = text(span.name);
      span.traceState = text(span.traceState);
      span.statusMessage = text(span.statusMessage);
      span.attributes = this.attributes(span.attributes, false);
      for (const event of span.events) {
        event.name = text(event.name);
        event.attributes = this.attributes(event.attributes, false);
      }
      for (const link of span.links) {
        link.traceState = text(link.traceState);
        link.attributes = this.attributes(link.attributes, false);
      }
    }
    for (const log of batch.logs) {
      log.resource = resource(log.resource);
      log.scope = scope(log.scope);
      log.body = text(log.body);
      log.severityText = text(log.severityText);
      log.attributes = this.attributes(log.attributes, false);
    }
    for (const meta of batch.metadata) this.metadata(meta);
    for (const summary of batch.summaries) {
      summary.provider = text(summary.provider);
      summary.endpoint = text(summary.endpoint);
      summary.model = text(summary.model);
    }
    this.flush();
    return batch;
  }

  private metadata(meta: GatewayMetadataRecord): void {
    const text = (s: string): string => this.scanner.scan(s, this.hit);
    meta.serviceName = text(meta.serviceName);
    meta.serviceVersion = text(meta.serviceVersion);
    meta.instanceId = text(meta.instanceId);
    meta.environment = this.attributes(meta.environment, true);
    meta.policyConfig = text(meta.policyConfig);
  }

  private resource(r: Resource): Resource {
    const attributes = this.attributes(r.attributes, false);
    const schemaUrl = this.scanner.scan(r.schemaUrl, this.hit);
    return attributes === r.attributes && schemaUrl === r.schemaUrl ? r : { attributes, schemaUrl };
  }

  private scope(s: Scope): Scope {
    const name = this.scanner.scan(s.name, this.hit);
    const version = this.scanner.scan(s.version, this.hit);
    const attributes = this.attributes(s.attributes, false);
    const schemaUrl = this.scanner.scan(s.schemaUrl, this.hit);
    return name === s.name && version === s.version && attributes === s.attributes && schemaUrl === s.schemaUrl
      ? s
      : { name, version, attributes, schemaUrl };
  }

  /** Copy-on-write over one attribute map; `env` when the keys are environment variable names. */
  private attributes(attrs: Attributes, env: boolean): Attributes {
    let out: Attributes | undefined;
    for (const key in attrs) {
      const value = attrs[key]!;
      const verdict = this.verdict(key, env);
      let scrubbed: string;
      if (verdict.kind !== null && value !== '' && !isMarker(value)) {
        scrubbed = marker(verdict.kind);
        this.hit(verdict.kind);
      } else if (key === 'url.query' && value !== '') {
        // A bare query string: scanned as one, so `token=...` at its start is a parameter.
        const q = this.scanner.scan(`?${value}`, this.hit);
        scrubbed = q.length === value.length + 1 && q.endsWith(value) ? value : q.slice(1);
      } else {
        scrubbed = this.scanner.scan(value, this.hit);
      }
      if (scrubbed === value && verdict.key === key) continue;
      out ??= copy(attrs);
      if (verdict.key !== key) {
        delete out[key];
        for (const k of verdict.keyKinds) this.hit(k);
      }
      set(out, verdict.key, scrubbed);
    }
    return out ?? attrs;
  }

  private verdict(key: string, env: boolean): KeyVerdict {
    const cache = env ? this.envKeys : this.attrKeys;
    let verdict = cache.get(key);
    if (verdict === undefined) {
      const kind = env ? this.names.envName(key) : this.names.attributeKey(key);
      const keyKinds: string[] = [];
      verdict = { kind, key: this.scanner.scan(key, (k) => keyKinds.push(k)), keyKinds };
      if (cache.size >= KEY_CACHE_LIMIT) cache.clear();
      cache.set(key, verdict);
    }
    return verdict;
  }

  private flush(): void {
    if (this.pending.size === 0) return;
    for (const [kind, n] of this.pending) {
      this.totals.set(kind, (this.totals.get(kind) ?? 0) + n);
      this.onRedact?.(kind, n);
    }
    this.pending.clear();
  }
}

function copy(attrs: Attributes): Attributes {
  const out: Attributes = {};
  for (const key in attrs) set(out, key, attrs[key]!);
  return out;
}

/** Own data property even for `__proto__`, which plain assignment would turn into a prototype change. */
function set(target: Attributes, key: string, value: string): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
