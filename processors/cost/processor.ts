// Cost of LLM calls at receipt, from the price table (prices.ts): the call's
// input tokens times its model's input price plus its output tokens times the
// output price, in exact picodollars. Calls are the counting rule's
// (processors/conventions/counting.ts), tokens and model the mapping's, so cost
// is counted where tokens are and never twice: the `summary` fold adds it to
// its rows (summarize), and the cost stage below writes it on every stored
// call span as `gateway.cost.usd` (the `full` dashboard's SQL sums it over the
// same call spans). A call whose model has no price carries `unknown` and is
// counted as unpriced, never as free.
import type { Attributes, RecordBatch, SpanRecord } from '../../core/record.ts';
import { inputTokensOf, isCallSpan, isEntrySpan, modelOf, outputTokensOf, providerOf } from '../conventions/counting.ts';
import type { Processor } from '../processor.ts';
import type { PriceTable } from './prices.ts';

/** The span attribute Consentry writes on every call span: the call's cost in US dollars, a decimal, or UNPRICED. */
export const COST_ATTRIBUTE = 'gateway.cost.usd';
/** The cost of a call whose model (or provider) has no price. */
export const UNPRICED = 'unknown';

const PICO_PER_USD = 1_000_000_000_000n;

/** Picodollars of one LLM call with these attributes; undefined when its model (or provider) has no price. */
export function callCostPico(prices: PriceTable, a: Attributes): bigint | undefined {
  const model = modelOf(a);
  if (model === '') return undefined;
  const price = prices.lookup(providerOf(a), model);
  if (price === undefined) return undefined;
  return BigInt(inputTokensOf(a)) * price.inputPico + BigInt(outputTokensOf(a)) * price.outputPico;
}

/** Picodollars as a decimal number of US dollars, exact, without trailing zeros: 1234500000n -> "0.0012345". */
export function usdText(pico: bigint): string {
  const whole = pico / PICO_PER_USD;
  const frac = (pico % PICO_PER_USD).toString().padStart(12, '0').replace(/0+$/, '');
  return frac === '' ? whole.toString() : `${whole}.${frac}`;
}

/**
 * The cost stage of every tier, after its pipelines: each call span that is
 * stored gets `gateway.cost.usd`, its cost or `unknown`; every other span
 * loses any `gateway.cost.usd` the sender put there (only Consentry says what
 * a call cost, and which spans are calls).
 */
export function createCostStage(prices: PriceTable): Processor {
  const priced = (s: SpanRecord): SpanRecord => {
    const a = s.attributes;
    if (!isCallSpan(a, isEntrySpan(s))) {
      if (!(COST_ATTRIBUTE in a)) return s;
      const { [COST_ATTRIBUTE]: _forged, ...rest } = a;
      return { ...s, attributes: rest };
    }
    const cost = callCostPico(prices, a);
    return { ...s, attributes: { ...a, [COST_ATTRIBUTE]: cost === undefined ? UNPRICED : usdText(cost) } };
  };
  return (batch: RecordBatch) => (batch.spans.length === 0 ? batch : { ...batch, spans: batch.spans.map(priced) });
}
