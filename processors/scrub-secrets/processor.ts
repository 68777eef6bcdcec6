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

import type { Processor } from '../processor.ts';
import type {
  Attributes,
  GatewayMetadataRecord,
  LogRecord,
  RecordBatch,
  Resource,
  Scope,
  SpanEvent,
  SpanLink,
  SpanRecord,
  SummaryRecord,
} from '../../core/record.ts';
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
 * resources and scopes. Copy on write, as the processor contract wants: the input
 * is never modified; a record that changed is a copy, a clean one is returned as
 * it is, and a clean batch is returned itself. Resource and Scope objects are
 * shared by the records of a request: each distinct one is scrubbed once per
 * batch, and its records share the one copy.
 */
export function scrubSecretsProcessor(config: ScrubSecretsConfig = {}): Processor {
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
    const scope = (sc: Scope): Scope => {
      let done = scopes.get(sc);
      if (done === undefined) {
        done = this.scope(sc);
        scopes.set(sc, done);
      }
      return done;
    };
    const spans = copyOnWrite(batch.spans, (span) => this.span(span, resource(span.resource), scope(span.scope)));
    const logs = copyOnWrite(batch.logs, (log) => this.log(log, resource(log.resource), scope(log.scope)));
    const metadata = copyOnWrite(batch.metadata, (meta) => this.metadata(meta));
    const summaries = copyOnWrite(batch.summaries, (summary) => this.summary(summary));
    this.flush();
    return spans === batch.spans && logs === batch.logs && metadata === batch.metadata && summaries === batch.summaries
      ? batch
      : { spans, logs, summaries, metadata };
  }

  private text(s: string): string {
    return this.scanner.scan(s, this.hit);
  }

  private span(span: SpanRecord, resource: Resource, scope: Scope): SpanRecord {
    const name = this.text(span.name);
    const traceState = this.text(span.traceState);
    const statusMessage = this.text(span.statusMessage);
    const attributes = this.attributes(span.attributes, false);
    const events = copyOnWrite(span.events, (e) => this.event(e));
    const links = copyOnWrite(span.links, (l) => this.link(l));
    if (
      resource === span.resource &&
      scope === span.scope &&
      name === span.name &&
      traceState === span.traceState &&
      statusMessage === span.statusMessage &&
      attributes === span.attributes &&
      events === span.events &&
      links === span.links
    ) {
      return span;
    }
    return { ...span, resource, scope, name, traceState, statusMessage, attributes, events, links };
  }

  private event(e: SpanEvent): SpanEvent {
    const name = this.text(e.name);
    const attributes = this.attributes(e.attributes, false);
    return name === e.name && attributes === e.attributes ? e : { ...e, name, attributes };
  }

  private link(l: SpanLink): SpanLink {
    const traceState = this.text(l.traceState);
    const attributes = this.attributes(l.attributes, false);
    return traceState === l.traceState && attributes === l.attributes ? l : { ...l, traceState, attributes };
  }

  private log(log: LogRecord, resource: Resource, scope: Scope): LogRecord {
    const body = this.text(log.body);
    const severityText = this.text(log.severityText);
    const attributes = this.attributes(log.attributes, false);
    if (resource === log.resource && scope === log.scope && body === log.body && severityText === log.severityText && attributes === log.attributes) return log;
    return { ...log, resource, scope, body, severityText, attributes };
  }

  private metadata(meta: GatewayMetadataRecord): GatewayMetadataRecord {
    const serviceName = this.text(meta.serviceName);
    const serviceVersion = this.text(meta.serviceVersion);
    const instanceId = this.text(meta.instanceId);
    const environment = this.attributes(meta.environment, true);
    const policyConfig = this.text(meta.policyConfig);
    if (serviceName === meta.serviceName && serviceVersion === meta.serviceVersion && instanceId === meta.instanceId && environment === meta.environment && policyConfig === meta.policyConfig) return meta;
    return { ...meta, serviceName, serviceVersion, instanceId, environment, policyConfig };
  }

  private summary(s: SummaryRecord): SummaryRecord {
    const provider = this.text(s.provider);
    const endpoint = this.text(s.endpoint);
    const model = this.text(s.model);
    return provider === s.provider && endpoint === s.endpoint && model === s.model ? s : { ...s, provider, endpoint, model };
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

/** `items.map(f)`, but the same array when `f` returned every item itself. */
function copyOnWrite<T>(items: T[], f: (item: T) => T): T[] {
  let out: T[] | undefined;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const next = f(item);
    if (next !== item && out === undefined) out = items.slice(0, i);
    if (out !== undefined) out.push(next);
  }
  return out ?? items;
}

function copy(attrs: Attributes): Attributes {
  // Spread defines own data properties (a `__proto__` key included) on V8's fast clone path.
  return { ...attrs };
}

/** Own data property even for `__proto__`, which plain assignment would turn into a prototype change. */
function set(target: Attributes, key: string, value: string): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
