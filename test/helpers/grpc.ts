// A raw OTLP/gRPC client for tests: @grpc/grpc-js with pass-through
// serializers, so a test sends exactly the bytes it built and reads the status,
// the response bytes and the retry hints (RetryInfo in grpc-status-details-bin
// and in the google.rpc.retryinfo-bin trailer) as a sender would.
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { Reader } from 'protobufjs/minimal.js';

export const TRACE_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
export const LOGS_METHOD = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

export interface CallResult {
  /** gRPC status code (0 OK). */
  code: number;
  details: string;
  /** The response message (OK only). */
  response?: Buffer;
  /** RetryInfo's delay from the status details, seconds; undefined without one. */
  retryDelaySeconds?: number;
  /** The same from the `google.rpc.retryinfo-bin` trailer. */
  retryTrailerSeconds?: number;
}

const identity = (b: Buffer): Buffer => b;

/** RetryInfo { retry_delay = 1 Duration { seconds = 1, nanos = 2 } }, in seconds. */
function retryDelay(buf: Buffer): number {
  const r = new Reader(buf);
  let seconds = 0;
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1) {
      r.skipType(tag & 7);
      continue;
    }
    const d = new Reader(r.bytes());
    while (d.pos < d.len) {
      const t = d.uint32();
      if (t >>> 3 === 1) seconds += Number(d.int64());
      else if (t >>> 3 === 2) seconds += d.int32() / 1e9;
      else d.skipType(t & 7);
    }
  }
  return seconds;
}

/** The RetryInfo among a google.rpc.Status's details, if any. */
function statusRetryDelay(buf: Buffer): number | undefined {
  const r = new Reader(buf);
  let delay: number | undefined;
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 !== 3) {
      r.skipType(tag & 7);
      continue;
    }
    const any = new Reader(r.bytes());
    let type = '';
    let value: Uint8Array = new Uint8Array();
    while (any.pos < any.len) {
      const t = any.uint32();
      if (t >>> 3 === 1) type = any.string();
      else if (t >>> 3 === 2) value = any.bytes();
      else any.skipType(t & 7);
    }
    if (type === 'type.googleapis.com/google.rpc.RetryInfo') delay = retryDelay(Buffer.from(value));
  }
  return delay;
}

export class GrpcTestClient {
  private readonly client: Client;

  /** `url`: http://host:port; `gzip`: compress every message (grpc-encoding: gzip). */
  constructor(url: string, opts: { gzip?: boolean } = {}) {
    this.client = new Client(new URL(url).host, credentials.createInsecure(), opts.gzip === true ? { 'grpc.default_compression_algorithm': 2 } : {});
  }

  /** One unary call; `authorization` undefined sends none. */
  call(method: string, body: Uint8Array, authorization?: string): Promise<CallResult> {
    const metadata = new Metadata();
    if (authorization !== undefined) metadata.set('authorization', authorization);
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(method, identity, identity, Buffer.from(body), metadata, { deadline: Date.now() + 30_000 }, (err: ServiceError | null, value?: Buffer) => {
        if (err === null) return resolve({ code: 0, details: '', response: value });
        const details = err.metadata.get('grpc-status-details-bin')[0];
        const trailer = err.metadata.get('google.rpc.retryinfo-bin')[0];
        resolve({
          code: err.code,
          details: err.details,
          retryDelaySeconds: Buffer.isBuffer(details) ? statusRetryDelay(details) : undefined,
          retryTrailerSeconds: Buffer.isBuffer(trailer) ? retryDelay(trailer) : undefined,
        });
      });
    });
  }

  close(): void {
    this.client.close();
  }
}
