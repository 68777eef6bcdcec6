// YAML configuration files (tiers, the price table) read with their line
// numbers, so that every problem names the file and line it is on.
import { LineCounter, parseDocument } from 'yaml';
import type { TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export interface YamlFile {
  value: unknown;
  /** `file:line` of the node at `path`, or of its nearest parent that has one. */
  at: (path: readonly (string | number)[]) => string;
}

/** Parses `text`; appends YAML syntax errors (with their lines) to `problems` and returns undefined when there are any. */
export function parseYamlFile(file: string, text: string, problems: string[]): YamlFile | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) problems.push(`${file}:${lines.linePos(e.pos[0]).line}: YAML syntax: ${e.message.split('\n')[0]}`);
    return undefined;
  }
  const at = (path: readonly (string | number)[]): string => {
    for (let p = path; ; p = p.slice(0, -1)) {
      const node = doc.getIn(p, true) as { range?: [number, number, number] } | undefined;
      if (node?.range !== undefined) return `${file}:${lines.linePos(node.range[0]).line}`;
      if (p.length === 0) return `${file}:1`;
    }
  };
  return { value: doc.toJS() as unknown, at };
}

/**
 * Checks `f.value` against `schema`; appends each problem as `file:line: key.path:
 * message (description)`, and unknown top-level keys by name. True when valid.
 */
export function checkYamlSchema(f: YamlFile, schema: TObject, problems: string[]): boolean {
  if (Value.Check(schema, f.value)) return true;
  for (const e of Value.Errors(schema, f.value)) {
    const path = e.path.split('/').filter(Boolean);
    const key = path.join('.') || '(top level)';
    const what = e.schema.description !== undefined ? `${e.message} (${e.schema.description})` : e.message;
    problems.push(`${f.at(path)}: ${key}: ${what}`);
  }
  // Unknown top-level keys are easiest to act on when named.
  if (typeof f.value === 'object' && f.value !== null) {
    for (const k of Object.keys(f.value)) if (!(k in schema.properties)) problems.push(`${f.at([k])}: unknown key "${k}"`);
  }
  return false;
}
