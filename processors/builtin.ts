// Every processor a tier YAML may name as a step, by name. The stages every
// tier runs (gateway metadata, API-key hashing, secret scrubbing, retention)
// are not steps: processors/tiers/stages.ts.
import type { ProcessorFactory } from './processor.ts';
import { captureBodies } from './capture-bodies/processor.ts';
import { clientNetwork } from './client-network/processor.ts';
import { drop } from './drop/processor.ts';
import { dropContent } from './drop-content/processor.ts';
import { dropEvents } from './drop-events/processor.ts';
import { dropRequestLogs } from './drop-request-logs/processor.ts';
import { filterAttributes } from './filter-attributes/processor.ts';
import { maskPii } from './mask-pii/processor.ts';
import { stripTraceContext } from './strip-trace-context/processor.ts';
import { summarize } from './summarize/processor.ts';

const ALL: ProcessorFactory[] = [
  captureBodies,
  clientNetwork,
  drop,
  dropContent,
  dropEvents,
  dropRequestLogs,
  filterAttributes,
  maskPii,
  stripTraceContext,
  summarize,
];

export const BUILTIN_PROCESSORS: ReadonlyMap<string, ProcessorFactory> = new Map(ALL.map((f) => [f.name, f]));
