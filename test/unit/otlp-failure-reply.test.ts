// How the OTLP receiver answers a request that failed after authentication,
// from the one mapping (failureReply in collector/otlp/receiver.ts): refused
// data is the sender's (400 or 413, never 5xx, never 503: a bad record must
// not make its sender retry forever); unavailable storage is not (503 with the
// transport's Retry-After). Table-driven over the outcomes, then through the
// receiver with a transport double that fails each way.
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { failureReply } from '../../collector/otlp/receiver.ts';
import { IngestUnavailable } from '../../collector/otlp/ingest.ts';
import { OtlpDecodeError } from '../../collector/otlp/errors.ts';
import { receiverApp } from '../helpers/receiver.ts';
import { TransportError, type Transport } from '../../storage/transport.ts';

const cases: Array<[string, unknown, ReturnType<typeof failureReply>]> = [
  ['malformed body', new OtlpDecodeError('resourceSpans[0]', 'expected an object'), { status: 400, message: 'resourceSpans[0]: expected an object' }],
  ['ingest worker gone', new IngestUnavailable('ingest worker exited'), { status: 503, message: 'ingest worker exited, retry later', retryAfterSeconds: 1 }],
  ['storage unavailable', TransportError.retryable('ClickHouse insert failed: ECONNREFUSED', { retryAfterSeconds: 7 }), { status: 503, message: 'storage unavailable, retry later', retryAfterSeconds: 7 }],
  ['storage unavailable, default delay', TransportError.retryable('Kafka did not acknowledge'), { status: 503, message: 'storage unavailable, retry later', retryAfterSeconds: 5 }],
  [
    'records refused by storage',
    TransportError.refused('storage refused the records: ClickHouse error 27: Cannot parse input', 'invalid'),
    { status: 400, message: 'storage refused the records: ClickHouse error 27: Cannot parse input; not stored: fix the records, do not send them again as they are' },
  ],
  ['record too large for the broker', TransportError.refused('a record of this request encodes to 17000000 bytes', 'too-large'), { status: 413, message: 'a record of this request encodes to 17000000 bytes; not stored' }],
  ['anything else (a bug)', new TypeError('x is undefined'), undefined],
];

describe('failureReply', () => {
  it.each(cases)('%s', (_name, err, want) => {
    expect(failureReply(err)).toEqual(want);
  });
});

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

describe('the receiver answers as failureReply says', () => {
  const span = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'x', startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000000000001' };
  it.each(cases.filter(([, err]) => err instanceof TransportError))('%s', async (_name, err, want) => {
    app = await receiverApp(new FailingTransport(err));
    const res = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      payload: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }),
    });
    expect(res.statusCode).toBe(want!.status);
    expect(res.headers['retry-after']).toBe(want!.retryAfterSeconds === undefined ? undefined : String(want!.retryAfterSeconds));
    expect(JSON.parse(res.body)).toEqual({ code: want!.status === 503 ? 14 : want!.status === 413 ? 8 : 3, message: want!.message });
  });
});
