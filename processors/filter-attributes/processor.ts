// filter-attributes: keeps (allow) or removes (deny) attributes by exact key,
// key prefix or key regex, on the attribute maps chosen by `scopes`.
//
// Fail closed: an allow-list that names nothing keeps nothing. Resource and
// Scope objects are shared by many records; a filtered replacement is built once
// per distinct input object per batch, so records that shared one still do.
import { FormatRegistry, Type } from '@sinclair/typebox';
import type { Attributes, LogRecord, Resource, Scope, SpanRecord } from '../../core/record.ts';
import { defineProcessor } from '../processor.ts';
import { LLM_METADATA } from '../conventions/genai.ts';

// Lets schema validation (Value.Check / Value.Errors, run on tier files before
// anything starts) report an invalid pattern with its key path instead of
// `create` throwing later.
if (!FormatRegistry.Has('regex')) {
  FormatRegistry.Set('regex', (source) => compiles(source));
}

const Signal = Type.Union([Type.Literal('spans'), Type.Literal('logs')]);
/**
 * Named attribute sets kept in one place instead of copied into every tier:
 * `llm-metadata` is the LLM metadata of every convention the mapping knows
 * (processors/conventions/genai.ts: provider, model, operation, tokens, cost,
 * streaming, finish reasons, error type), never content.
 */
export const ATTRIBUTE_SETS: Record<'llm-metadata', { readonly keys: readonly string[]; readonly prefixes: readonly string[] }> = {
  'llm-metadata': LLM_METADATA,
};

const AttributeScope = Type.Union([
  Type.Literal('record'),
  Type.Literal('resource'),
  Type.Literal('scope'),
  Type.Literal('events'),
  Type.Literal('links'),
]);

export const filterAttributesSchema = Type.Object(
  {
    mode: Type.Union([Type.Literal('allow'), Type.Literal('deny')], {
      description: 'allow: keep only matching keys (nothing named keeps nothing); deny: remove matching keys (nothing named removes nothing). Required.',
    }),
    keys: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'Exact attribute keys (case-sensitive). Default and empty: none.',
      }),
    ),
    prefixes: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'Key prefixes, matched with startsWith (`exception.` matches `exception.type`). Default and empty: none.',
      }),
    ),
    patterns: Type.Optional(
      Type.Array(Type.String({ minLength: 1, format: 'regex' }), {
        description: 'JavaScript regex sources without flags, tested against the key, unanchored (use ^...$). Default and empty: none.',
      }),
    ),
    sets: Type.Optional(
      Type.Array(Type.Literal('llm-metadata'), {
        uniqueItems: true,
        description: 'Named sets of keys and prefixes added to keys and prefixes: llm-metadata (the conventions mapping). Default and empty: none.',
      }),
    ),
    signals: Type.Optional(
      Type.Array(Signal, {
        minItems: 1,
        uniqueItems: true,
        description: 'Record kinds filtered. Default: [spans, logs].',
      }),
    ),
    scopes: Type.Optional(
      Type.Array(AttributeScope, {
        minItems: 1,
        uniqueItems: true,
        description:
          'Attribute maps filtered: record (span/log attributes), resource, scope (instrumentation scope), events and links (span only). Default: [record, events, links].',
      }),
    ),
  },
  { additionalProperties: false },
);

const DEFAULT_SIGNALS = ['spans', 'logs'] as const;
const DEFAULT_SCOPES = ['record', 'events', 'links'] as const;

export const filterAttributes = defineProcessor({
  name: 'filter-attributes',
  description: 'keeps (allow) or removes (deny) attributes by key, prefix or pattern',
  schema: filterAttributesSchema,
  create(config, env) {
    const sets = (config.sets ?? []).map((n) => ATTRIBUTE_SETS[n]);
    const keys = new Set([...(config.keys ?? []), ...sets.flatMap((x) => x.keys)]);
    const prefixes = [...(config.prefixes ?? []), ...sets.flatMap((x) => x.prefixes)];
    const patterns = (config.patterns ?? []).map((source, i) => {
      // Validation normally rejects these first (format 'regex'); this keeps
      // `create` safe when called without it.
      if (!compiles(source)) throw new Error(`filter-attributes: patterns/${i}: invalid regular expression`);
      return new RegExp(source);
    });
    const allow = config.mode === 'allow';
    const signals = new Set<string>(config.signals ?? DEFAULT_SIGNALS);
    const scopes = new Set<string>(config.scopes ?? DEFAULT_SCOPES);
    const doSpans = signals.has('spans');
    const doLogs = signals.has('logs');
    const doRecord = scopes.has('record');
    const doResource = scopes.has('resource');
    const doScope = scopes.has('scope');
    const doEvents = scopes.has('events');
    const doLinks = scopes.has('links');
    // Deny with nothing named is a no-op; allow with nothing named removes everything.
    const noop = !allow && keys.size === 0 && prefixes.length === 0 && patterns.length === 0;

    const matches = (key: string): boolean => {
      if (keys.has(key)) return true;
      for (const p of prefixes) if (key.startsWith(p)) return true;
      for (const re of patterns) if (re.test(key)) return true;
      return false;
    };

    return (batch) => {
      if (noop || (!doSpans && !doLogs)) return batch;
      let removed = 0;
      // Per call: key decisions (keys repeat across records of a batch) and
      // replacements of shared Resource/Scope objects.
      const decisions = new Map<string, boolean>();
      const keep = (key: string): boolean => {
        let d = decisions.get(key);
        if (d === undefined) {
          d = matches(key) === allow;
          decisions.set(key, d);
        }
        return d;
      };
      /** The same object when nothing is removed. */
      const filter = (attrs: Attributes): Attributes => {
        let out: Attributes | undefined;
        const ks = Object.keys(attrs);
        for (let i = 0; i < ks.length; i++) {
          const k = ks[i]!;
          if (keep(k)) {
            if (out !== undefined) out[k] = attrs[k]!;
          } else {
            removed++;
            if (out === undefined) {
              out = {};
              for (let j = 0; j < i; j++) out[ks[j]!] = attrs[ks[j]!]!;
            }
          }
        }
        return out ?? attrs;
      };
      const resources = new Map<Resource, Resource>();
      const scopeObjects = new Map<Scope, Scope>();
      const resourceOf = (r: Resource): Resource => {
        if (!doResource) return r;
        let out = resources.get(r);
        if (out === undefined) {
          const attributes = filter(r.attributes);
          out = attributes === r.attributes ? r : { ...r, attributes };
          resources.set(r, out);
        }
        return out;
      };
      const scopeOf = (s: Scope): Scope => {
        if (!doScope) return s;
        let out = scopeObjects.get(s);
        if (out === undefined) {
          const attributes = filter(s.attributes);
          out = attributes === s.attributes ? s : { ...s, attributes };
          scopeObjects.set(s, out);
        }
        return out;
      };

      const span = (s: SpanRecord): SpanRecord => {
        const resource = resourceOf(s.resource);
        const scope = scopeOf(s.scope);
        const attributes = doRecord ? filter(s.attributes) : s.attributes;
        const events = doEvents ? mapSame(s.events, (e) => withAttributes(e, filter(e.attributes))) : s.events;
        const links = doLinks ? mapSame(s.links, (l) => withAttributes(l, filter(l.attributes))) : s.links;
        if (resource === s.resource && scope === s.scope && attributes === s.attributes && events === s.events && links === s.links) return s;
        return { ...s, resource, scope, attributes, events, links };
      };
      const log = (l: LogRecord): LogRecord => {
        const resource = resourceOf(l.resource);
        const scope = scopeOf(l.scope);
        const attributes = doRecord ? filter(l.attributes) : l.attributes;
        if (resource === l.resource && scope === l.scope && attributes === l.attributes) return l;
        return { ...l, resource, scope, attributes };
      };

      const out = {
        ...batch,
        spans: doSpans ? batch.spans.map(span) : batch.spans,
        logs: doLogs ? batch.logs.map(log) : batch.logs,
      };
      if (removed > 0) env.count('filter-attributes.removed', removed);
      return out;
    };
  },
});

function withAttributes<T extends { attributes: Attributes }>(item: T, attributes: Attributes): T {
  return attributes === item.attributes ? item : { ...item, attributes };
}

/** Maps an array, returning the input array itself when every element came back unchanged. */
function mapSame<T>(items: T[], f: (item: T) => T): T[] {
  let out: T[] | undefined;
  for (let i = 0; i < items.length; i++) {
    const before = items[i]!;
    const after = f(before);
    if (out === undefined && after !== before) out = items.slice(0, i);
    if (out !== undefined) out.push(after);
  }
  return out ?? items;
}

function compiles(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}
