// One ingest worker thread (started by ingest-pool.ts through
// ingest-worker.mjs): its own tier engine, built from the same settings as the
// collector's, runs `ingest` on bodies posted to it and posts back the result
// and what the engine counted (metrics live on the main thread).
import { parentPort, workerData } from 'node:worker_threads';
import type { Settings } from '../config.ts';
import { buildTierEngine } from '../pipeline.ts';
import { OtlpDecodeError } from './errors.ts';
import { ingest, type IngestJob } from './ingest.ts';
import type { Tally, WorkerReply, WorkerRequest } from './ingest-pool.ts';

const port = parentPort!;
let tally: Tally = { counts: [], redactions: [], drops: [] };
const engine = buildTierEngine((workerData as { settings: Settings }).settings, {
  count: (name, n) => tally.counts.push([name, n]),
  onRedact: (kind, n) => tally.redactions.push([kind, n]),
  onDrop: (signal, tier, n) => tally.drops.push([signal, tier, n]),
});

port.on('message', (m: WorkerRequest) => {
  const job: IngestJob = { signal: m.signal, format: m.format, body: new Uint8Array(m.body), ctx: m.ctx, encode: m.encode };
  let reply: WorkerReply;
  try {
    reply = { id: m.id, result: ingest(engine, job), tally };
  } catch (err) {
    reply =
      err instanceof OtlpDecodeError
        ? { id: m.id, decodeError: { path: err.path, reason: err.reason }, tally }
        : { id: m.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err), tally };
  }
  tally = { counts: [], redactions: [], drops: [] };
  port.postMessage(reply);
});
port.postMessage({ ready: true });
