// Small statistics helpers shared by the generator and the runner.
import type { Percentiles } from './generator-protocol.ts';

/** Nearest-rank percentiles (p50, p90, p99, max) of `values`; all zero when empty. */
export function percentiles(values: readonly number[]): Percentiles {
  if (values.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0, n: 0 };
  const v = Float64Array.from(values).sort();
  const at = (q: number): number => v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: v[v.length - 1]!, n: v.length };
}
