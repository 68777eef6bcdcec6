// The request loop of one ingest worker thread (ingest-pool.ts starts the
// thread with the app's entry module, which builds the stages and calls
// serveIngest): runs `ingest` on bodies posted to it and posts back the result
// and what the engine counted (metrics live on the main thread).
import type { MessagePort } from 'node:worker_threads';
import type { EngineHooks } from '../../processors/tiers/engine.ts';
import { OtlpDecodeError } from './errors.ts';
import { ingest, type IngestJob, type IngestStages } from './ingest.ts';
import type { Tally, WorkerReply, WorkerRequest } from './ingest-pool.ts';

/** Builds this thread's stages with hooks that count into the reply, then serves requests until the thread ends. */
export function serveIngest(port: MessagePort, build: (hooks: EngineHooks) => IngestStages): void {
  let tally: Tally = { counts: [], redactions: [], drops: [] };
  const stages = build({
    count: (name, n) => tally.counts.push([name, n]),
    onRedact: (kind, n) => tally.redactions.push([kind, n]),
    onDrop: (signal, tier, n) => tally.drops.push([signal, tier, n]),
  });
  port.on('message', (m: WorkerRequest) => {
    const job: IngestJob = { signal: m.signal, format: m.format, body: new Uint8Array(m.body), ctx: m.ctx, encode: m.encode };
    let reply: WorkerReply;
    try {
      reply = { id: m.id, result: ingest(stages, job), tally };
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
}
