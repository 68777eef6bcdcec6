// OTLP/gRPC: TraceService/Export and LogsService/Export, unary calls over
// HTTP/2 cleartext, served by node:http2 directly (chosen over @grpc/grpc-js by
// measurement, README "Benchmarks"; it also gives the same two size limits as
// the HTTP port, before and after decompression, where grpc-js has one).
// The framing is gRPC's (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
// a 5-byte prefix (compressed flag, big-endian length) before the protobuf
// message, the status in trailers. Everything behind the framing is the export
// service (service.ts) the HTTP port uses, and its outcomes are answered with
// the OTLP/gRPC status codes (outcome.ts).
import { createServer, constants, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { HttpLimits } from '../../core/http-server.ts';
import type { Signal } from './ingest.ts';
import { encodeExportResponse, encodeRetryInfo, encodeStatus } from './encode-response.ts';
import { GRPC_CODE, GrpcCode, retryAfterOf, type Failure } from './outcome.ts';
import type { OtlpService } from './service.ts';

const METHODS: Record<string, Signal> = {
  '/opentelemetry.proto.collector.trace.v1.TraceService/Export': 'traces',
  '/opentelemetry.proto.collector.logs.v1.LogsService/Export': 'logs',
};

/** Message encodings Consentry reads (`grpc-encoding`), announced in every answer. */
const ACCEPT_ENCODING = 'identity,gzip';
const PREFIX_BYTES = 5;
/**
 * HTTP/2 flow-control windows a sender may fill before Consentry acknowledges
 * what it read (it reads every call as it arrives). HTTP/2's 64 KiB default,
 * for the call and the whole connection, makes a 700 KB export wait for about
 * a dozen window updates: measured (bench/grpc-transport.ts) it halved the calls
 * per second and doubled the CPU per call against these windows.
 */
const STREAM_WINDOW_BYTES = 1 << 20;
const CONNECTION_WINDOW_BYTES = 16 << 20;
const CODE_NAMES = new Map<number, string>(Object.entries(GrpcCode).map(([name, code]) => [code, name]));

export interface GrpcReceiverOptions {
  service: OtlpService;
  /**
   * The timeouts of every port: a connection must open its first call within
   * the headers timeout, a call must have sent its whole request within the
   * request timeout (waiting for the answer does not count), and a connection
   * with no call open is closed after the idle timeout.
   */
  limits: HttpLimits;
  /** Calls one connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
}

/** What reading a call's request gave: its one message, a failure to answer, or nothing to answer (the client went away, or took too long). */
type Read = { compressed: boolean; message: Buffer } | Failure | 'gone' | 'timeout';

export class GrpcReceiver {
  readonly server: Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(private readonly opts: GrpcReceiverOptions) {
    this.server = createServer({ settings: { maxConcurrentStreams: opts.maxConcurrentStreams, initialWindowSize: STREAM_WINDOW_BYTES } });
    this.server.on('session', (session) => this.watch(session));
    // A connection that breaks the HTTP/2 protocol (an HTTP/1.1 client, garbage) is closed by Node; nothing else to do.
    this.server.on('sessionError', () => undefined);
  }

  /** Listens; resolves with the endpoint senders use, `http://host:port`. */
  async listen(host: string, port: number): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  }

  /** Stops taking connections and calls (GOAWAY); calls already open are answered. Resolves once every connection is closed. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.close();
    return closed;
  }

  /** Cuts every connection still open (after close(), once the grace period is over). */
  destroy(): void {
    for (const session of this.sessions) session.destroy();
  }

  /** Serves its calls; closes a connection that opens no call within the headers timeout, or stays without one for the idle timeout. */
  private watch(session: ServerHttp2Session): void {
    this.sessions.add(session);
    session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
    const { httpHeadersTimeoutMs, httpIdleTimeoutMs } = this.opts.limits;
    let open = 0;
    let timer: NodeJS.Timeout | undefined;
    const closeAfter = (ms: number): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        session.close();
        // A peer that never finishes a header block has no call that close() would wait for; it does not linger either.
        setTimeout(() => {
          if (open === 0) session.destroy();
        }, 1000).unref();
      }, ms);
      timer.unref();
    };
    closeAfter(httpHeadersTimeoutMs);
    session.on('stream', (stream, headers) => {
      open++;
      clearTimeout(timer);
      void this.serve(stream, headers);
      stream.once('close', () => {
        if (--open === 0 && !session.closed) closeAfter(httpIdleTimeoutMs);
      });
    });
    session.once('close', () => {
      clearTimeout(timer);
      this.sessions.delete(session);
    });
  }

  private async serve(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    // A call reset by the client (any error code) surfaces here; it is not Consentry's error.
    stream.on('error', () => undefined);
    const receivedAtMs = Date.now();
    const { service } = this.opts;
    const signal = METHODS[headers[':path'] ?? ''];
    const type = (headers['content-type'] ?? '').toLowerCase();
    // gRPC's own rule (PROTOCOL-HTTP2.md): a request that is not gRPC gets an HTTP status, so no HTTP client mistakes a gRPC answer for success.
    if (type !== 'application/grpc' && type !== 'application/grpc+proto') {
      this.answerHttp(stream, signal, 415, `unsupported content-type "${type}": OTLP/gRPC sends application/grpc (OTLP/HTTP goes to the HTTP port)`);
      return;
    }
    if (headers[':method'] !== 'POST') {
      this.answerHttp(stream, signal, 405, 'gRPC calls are POST requests');
      return;
    }
    if (signal === undefined) {
      this.answer(stream, 'other', GrpcCode.UNIMPLEMENTED, `unknown method ${headers[':path']}: Consentry serves ${Object.keys(METHODS).join(' and ')}`);
      return;
    }
    const encoding = String(headers['grpc-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity' && encoding !== 'gzip') {
      this.answerFailure(stream, signal, { kind: 'unsupported', message: `unsupported grpc-encoding "${encoding}": use gzip or identity` });
      return;
    }
    const tenantId = service.admit(headers.authorization, 0);
    if (typeof tenantId !== 'string') {
      this.answerFailure(stream, signal, tenantId);
      return;
    }
    const read = await this.readMessage(stream);
    if (read === 'gone') return this.count(signal, 'CANCELLED');
    if (read === 'timeout') {
      this.answer(stream, signal, GrpcCode.DEADLINE_EXCEEDED, `request not received within ${this.opts.limits.httpRequestTimeoutMs} ms: send it faster, or in smaller batches`);
      return;
    }
    if ('kind' in read) {
      this.answerFailure(stream, signal, read);
      return;
    }
    try {
      let body = read.message;
      if (read.compressed) {
        if (encoding !== 'gzip') {
          this.answerFailure(stream, signal, { kind: 'malformed', message: 'compressed message without grpc-encoding: gzip' });
          return;
        }
        const inflated = await service.gunzip(body);
        if (!Buffer.isBuffer(inflated)) {
          this.answerFailure(stream, signal, inflated);
          return;
        }
        body = inflated;
      }
      const outcome = await service.export({ signal, format: 'proto', tenantId, body, receivedAtMs });
      if (outcome.kind !== 'accepted') {
        this.answerFailure(stream, signal, outcome);
        return;
      }
      this.answerMessage(stream, signal, encodeExportResponse({ signal, format: 'proto', rejected: outcome.rejected, message: outcome.message }));
    } catch (err) {
      service.opts.logger.error({ err }, 'OTLP/gRPC call failed');
      this.answer(stream, signal, GrpcCode.INTERNAL, 'internal error');
    }
  }

  /**
   * The one message of a unary call: its prefix checked against the size
   * limit and the in-flight budget before the message itself is read.
   */
  private readMessage(stream: ServerHttp2Stream): Promise<Read> {
    const { service, limits } = this.opts;
    return new Promise<Read>((resolve) => {
      const prefix = Buffer.alloc(PREFIX_BYTES);
      let prefixed = 0;
      let length = -1;
      let compressed = false;
      const chunks: Buffer[] = [];
      let received = 0;
      let done = false;
      const finish = (r: Read): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        stream.off('data', onData);
        resolve(r);
      };
      const malformed = (message: string): void => finish({ kind: 'malformed', message });
      const timer = setTimeout(() => finish('timeout'), limits.httpRequestTimeoutMs);
      const onData = (chunk: Buffer): void => {
        let at = 0;
        if (length < 0) {
          at = Math.min(PREFIX_BYTES - prefixed, chunk.length);
          chunk.copy(prefix, prefixed, 0, at);
          prefixed += at;
          if (prefixed < PREFIX_BYTES) return;
          const flag = prefix[0]!;
          length = prefix.readUInt32BE(1);
          if (flag > 1) return malformed(`invalid gRPC message prefix: compressed flag ${flag}, expected 0 or 1`);
          if (length > service.opts.maxBodyBytes) return finish(service.tooLarge());
          const full = service.room(length);
          if (full !== undefined) return finish(full);
          compressed = flag === 1;
        }
        if (received + chunk.length - at > length) return malformed('more than one message in a unary call, or a length prefix shorter than its message');
        chunks.push(at === 0 ? chunk : chunk.subarray(at));
        received += chunk.length - at;
      };
      stream.on('data', onData);
      stream.once('end', () => {
        if (length < 0) return malformed(prefixed === 0 ? 'no request message: a unary call sends exactly one' : `truncated gRPC message prefix: ${prefixed} of ${PREFIX_BYTES} bytes`);
        if (received < length) return malformed(`truncated gRPC message: ${received} of the ${length} bytes its prefix announced`);
        finish({ compressed, message: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received) });
      });
      stream.once('close', () => finish('gone'));
    });
  }

  /** A failure of the export service, with RetryInfo when it is worth retrying (OTLP/gRPC retries RESOURCE_EXHAUSTED only then). */
  private answerFailure(stream: ServerHttp2Stream, signal: Signal | 'other', failure: Failure): void {
    const extra: Record<string, string> = {};
    const retryAfter = retryAfterOf(failure);
    if (retryAfter !== undefined) {
      // Go and Java clients read the Status details; Python's OTLP exporter reads this trailer.
      extra['google.rpc.retryinfo-bin'] = encodeRetryInfo(retryAfter).toString('base64');
    }
    if (failure.kind === 'unsupported') extra['grpc-accept-encoding'] = ACCEPT_ENCODING;
    this.answer(stream, signal, GRPC_CODE[failure.kind], failure.message, retryAfter, extra);
  }

  /** A status without a message (gRPC "trailers-only"); a request still being sent is cut (RST_STREAM NO_ERROR), not read. */
  private answer(stream: ServerHttp2Stream, signal: Signal | 'other', code: GrpcCode, message: string, retryAfterSeconds?: number, extra: Record<string, string> = {}): void {
    this.count(signal, CODE_NAMES.get(code) ?? String(code));
    if (stream.destroyed || stream.closed) return;
    const status = encodeStatus({ format: 'proto', code, message, retryAfterSeconds });
    stream.respond(
      {
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-status': String(code),
        'grpc-message': percentEncode(message),
        'grpc-status-details-bin': status.toString('base64'),
        ...extra,
      },
      { endStream: true },
    );
    this.stopReading(stream);
  }

  /** The response message, then status OK in trailers. */
  private answerMessage(stream: ServerHttp2Stream, signal: Signal, message: Buffer): void {
    this.count(signal, 'OK');
    if (stream.destroyed || stream.closed) return;
    const frame = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
    frame[0] = 0;
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, PREFIX_BYTES);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': ACCEPT_ENCODING }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(frame);
  }

  /** Not a gRPC request: an HTTP status, and the body is not read. */
  private answerHttp(stream: ServerHttp2Stream, signal: Signal | undefined, status: number, message: string): void {
    this.count(signal ?? 'other', `HTTP ${status}`);
    if (stream.destroyed || stream.closed) return;
    stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8' });
    stream.end(message);
    this.stopReading(stream);
  }

  /**
   * Once the complete answer is on its way, asks the client to stop sending
   * the request (RST_STREAM NO_ERROR, RFC 9113 section 8.1). In the next turn:
   * on Node 26 a reset made in the same turn as respond() reached the client
   * without the answer (seen in test/faults/grpc.test.ts; Node 20 sent both).
   */
  private stopReading(stream: ServerHttp2Stream): void {
    if (stream.readableEnded) return;
    setImmediate(() => {
      if (!stream.destroyed && !stream.readableEnded) stream.close(constants.NGHTTP2_NO_ERROR);
    });
  }

  private count(signal: Signal | 'other', code: string): void {
    this.opts.service.opts.metrics.grpcRequests.inc({ signal, code });
  }
}

/** grpc-message: UTF-8, with every byte outside printable ASCII, and '%', percent-encoded (PROTOCOL-HTTP2.md). */
export function percentEncode(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}
