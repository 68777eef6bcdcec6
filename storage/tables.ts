// The tables Consentry writes per request, and the rows of one request for
// them as the writers hand them over (encoded by sinks/clickhouse/encode.ts).
export const TABLES = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata'] as const;
export type Table = (typeof TABLES)[number];

/**
 * The same rows with each table's lines joined by '\n' (`text`, '' when
 * `rows` is 0): what an ingest worker hands back. One string per table crosses
 * threads and joins into an insert body far more cheaply than thousands.
 */
export type JoinedRows = { [T in Table]: { text: string; rows: number } };
