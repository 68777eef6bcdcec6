// How an OTLP export that failed after admission is answered, from the one
// mapping (failureOf in collector/otlp/outcome.ts) and its two renderings:
// refused data is the sender's (HTTP 400 or 413, gRPC INVALID_ARGUMENT or
// RESOURCE_EXHAUSTED without RetryInfo: never retried, so a bad record cannot
// make its sender retry forever); unavailable storage is not (HTTP 503 with
// the transport's Retry-After, gRPC UNAVAILABLE with RetryInfo). Table-driven
// over the outcomes, then through the HTTP and gRPC receivers with a
// transport double that fails each way.
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { failureOf, GRPC_CODE, HTTP_STATUS, retryAfterOf, type Failure } from '../../collector/otlp/outcome.ts';
import { IngestUnavailable } from '../../collector/otlp/ingest.ts';
import { OtlpDecodeError } from '../../collector/otlp/errors.ts';
import { receiverApp, receiverService } from '../helpers/receiver.ts';
import { TransportError, type Transport } from '../../storage/transport.ts';
import { GrpcReceiver } from '../../collector/otlp/grpc-receiver.ts';
import { GrpcTestClient, TRACE_METHOD } from '../helpers/grpc.ts';
import { cat, fixed64, hex, len } from '../helpers/protobuf.ts';

const cases: Array<[string, unknown, Failure | undefined, { http: number; grpc: number } | undefined]> = [
  ['malformed body', new OtlpDecodeError('resourceSpans[0]', 'expected an object'), { kind: 'malformed', message: 'resourceSpans[0]: expected an object' }, { http: 400, grpc: 3 }],
  ['ingest worker gone', new IngestUnavailable('ingest worker exited'), { kind: 'unavailable', message: 'ingest worker exited, retry later', retryAfterSeconds: 1 }, { http: 503, grpc: 14 }],
  ['storage unavailable', TransportError.retryable('ClickHouse insert failed: ECONNREFUSED', { retryAfterSeconds: 7 }), { kind: 'unavailable', message: 'storage unavailable, retry later', retryAfterSeconds: 7 }, { http: 503, grpc: 14 }],
  ['storage unavailable, default delay', TransportError.retryable('Kafka did not acknowledge'), { kind: 'unavailable', message: 'storage unavailable, retry later', retryAfterSeconds: 5 }, { http: 503, grpc: 14 }],
  [
    'records refused by storage',
    TransportError.refused('storage refused the records: ClickHouse error 27: Cannot parse input', 'invalid'),
    { kind: 'malformed', message: 'storage refused the records: ClickHouse error 27: Cannot parse input; not stored: fix the records, do not send them again as they are' },
    { http: 400, grpc: 3 },
  ],
  ['record too large for the broker', TransportError.refused('a record of this request encodes to 17000000 bytes', 'too-large'), { kind: 'too-large', message: 'a record of this request encodes to 17000000 bytes; not stored' }, { http: 413, grpc: 8 }],
  ['anything else (a bug)', new TypeError('x is undefined'), undefined, undefined],
];

describe('failureOf and its renderings', () => {
  it.each(cases)('%s', (_name, err, want, rendered) => {
    const failure = failureOf(err);
    expect(failure).toEqual(want);
    if (failure === undefined) return;
    expect({ http: HTTP_STATUS[failure.kind], grpc: GRPC_CODE[failure.kind] }).toEqual(rendered);
    // Retryable exactly when unavailable: RESOURCE_EXHAUSTED without RetryInfo (too large) is final.
    expect(retryAfterOf(failure) !== undefined).toBe(failure.kind === 'unavailable');
  });
});

/** ExportTraceServiceRequest with one valid span. */
function traceRequest(name: string): Buffer {
  return len(1, len(2, len(2, cat(len(1, hex('0af7651916cd43dd8448eb211c80319c')), len(2, hex('b7ad6b7169203331')), len(5, name), fixed64(7, 1n), fixed64(8, 2n)))));
}

class FailingTransport implements Transport {
  readonly name = 'failing';
  constructor(private readonly err: unknown) {}
  async start(): Promise<void> {}
  async send(): Promise<void> {
    throw this.err;
  }
  ready(): boolean {
    return true;
  }
  async shutdown(): Promise<void> {}
}

let app: FastifyInstance | undefined;
afterEach(async () => app?.close());

describe('the HTTP receiver answers as failureOf says', () => {
  const span = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'x', startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000000000001' };
  it.each(cases.filter(([, err]) => err instanceof TransportError))('%s', async (_name, err, want, rendered) => {
    app = await receiverApp(new FailingTransport(err));
    const res = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      payload: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }),
    });
    const retryAfter = retryAfterOf(want!);
    expect(res.statusCode).toBe(rendered!.http);
    expect(res.headers['retry-after']).toBe(retryAfter === undefined ? undefined : String(retryAfter));
    expect(JSON.parse(res.body)).toEqual({ code: rendered!.grpc, message: want!.message });
  });
});

let grpc: { receiver: GrpcReceiver; client: GrpcTestClient } | undefined;
afterEach(async () => {
  grpc?.client.close();
  const closing = grpc?.receiver.close();
  grpc?.receiver.destroy();
  await closing;
  grpc = undefined;
});

describe('the gRPC receiver answers as failureOf says, with RetryInfo when the sender should retry', () => {
  const body = traceRequest('x');
  it.each(cases.filter(([, err]) => err instanceof TransportError))('%s', async (_name, err, want, rendered) => {
    const receiver = new GrpcReceiver({ service: receiverService(new FailingTransport(err)), limits: { httpHeadersTimeoutMs: 10_000, httpRequestTimeoutMs: 30_000, httpIdleTimeoutMs: 65_000 }, maxConcurrentStreams: 10 });
    grpc = { receiver, client: new GrpcTestClient(await receiver.listen('127.0.0.1', 0)) };
    const answer = await grpc.client.call(TRACE_METHOD, body, 'Bearer k');
    const retryAfter = retryAfterOf(want!);
    expect(answer).toEqual({ code: rendered!.grpc, details: want!.message, retryDelaySeconds: retryAfter, retryTrailerSeconds: retryAfter });
  });
});
