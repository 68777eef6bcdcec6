// The tables Consentry writes per request, and the rows of one request for
// them as the writers hand them over (encoded by sinks/clickhouse/encode.ts).
export const TABLES = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata'] as const;
export type Table = (typeof TABLES)[number];

/**
 * One request's rows of a table in the table's insert format
 * (sinks/clickhouse/encode.ts, INSERT_FORMATS): lines joined by '\n', or for a
 * binary format (otel_traces: Native) one block as a latin1 string, one
 * character per byte (sinks/clickhouse/native.ts says why not a buffer); ''
 * when `rows` is 0. One string per table crosses threads (an ingest worker's
 * reply) and joins into an insert body far more cheaply than thousands.
 */
export interface TableRows {
  body: string;
  rows: number;
}

/** A request's rows for every table. */
export type JoinedRows = { [T in Table]: TableRows };
