// Entry of an ingest worker thread (collector/otlp/ingest-pool.ts): the
// thread's own tier engine, built from the same settings as the collector's,
// and the ClickHouse row encoding, served by collector/otlp/ingest-worker.ts.
import { parentPort, workerData } from 'node:worker_threads';
import type { Settings } from '../core/settings.ts';
import { serveIngest } from '../collector/otlp/ingest-worker.ts';
import { encodeRows } from '../sinks/clickhouse/encode.ts';
import { buildTierEngine } from './pipeline.ts';

const { settings } = workerData as { settings: Settings };
serveIngest(parentPort!, (hooks) => ({ engine: buildTierEngine(settings, hooks), encodeRows }));
