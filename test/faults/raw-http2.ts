// A raw HTTP/2 client for the gRPC faults: any headers, any bytes as the
// request body (malformed gRPC frames), as fast or as slowly as an attacker
// sends them, and what came back: the HTTP status, the gRPC status wherever it
// was sent (trailers-only or trailers), and whether the server reset the call.
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';

export const GRPC_HEADERS = { ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' } as const;

/** A gRPC message with its 5-byte prefix (compressed flag, big-endian length). */
export function grpcFrame(message: Uint8Array, opts: { compressed?: boolean; flag?: number; length?: number } = {}): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = opts.flag ?? (opts.compressed === true ? 1 : 0);
  prefix.writeUInt32BE(opts.length ?? message.length, 1);
  return Buffer.concat([prefix, message]);
}

export interface RawAnswer {
  /** HTTP :status. */
  status: number;
  /** grpc-status from the headers (trailers-only) or the trailers, as a number; undefined when none came. */
  grpcStatus?: number;
  grpcMessage: string;
  headers: Record<string, unknown>;
  /** RST_STREAM code the call ended with (0: NO_ERROR). */
  rstCode: number;
  /** Request bytes written when the call ended. */
  sent: number;
}

export class RawH2 {
  readonly session: ClientHttp2Session;
  /** Resolves when the server (or an error) closed the connection. */
  readonly closed: Promise<void>;

  private constructor(url: string) {
    this.session = http2.connect(url);
    // A connection the server cut: the close is what is watched.
    this.session.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.session.once('close', () => resolve()));
  }

  static async open(url: string): Promise<RawH2> {
    const c = new RawH2(url);
    await new Promise<void>((resolve, reject) => c.session.once('connect', () => resolve()).once('error', reject));
    return c;
  }

  /**
   * One call: `headers` (over GRPC_HEADERS), then `body` and the end of the
   * request; with `trickle`, `trickle.bytes` more every `trickle.everyMs`
   * until the call ends, never ending the request.
   */
  call(headers: OutgoingHttpHeaders, body: Buffer, trickle?: { bytes: number; everyMs: number }): Promise<RawAnswer> {
    const stream: ClientHttp2Stream = this.session.request({ ...GRPC_HEADERS, ...headers });
    stream.on('error', () => undefined);
    let sent = 0;
    const write = (b: Buffer) => {
      if (stream.destroyed || stream.closed || !stream.writable) return;
      stream.write(b);
      sent += b.length;
    };
    write(body);
    let timer: NodeJS.Timeout | undefined;
    if (trickle === undefined) stream.end();
    else timer = setInterval(() => write(Buffer.alloc(trickle.bytes, 0x78)), trickle.everyMs);
    return new Promise((resolve) => {
      const answer: RawAnswer = { status: 0, grpcMessage: '', headers: {}, rstCode: 0, sent: 0 };
      const grpc = (h: Record<string, unknown>) => {
        if (h['grpc-status'] !== undefined) answer.grpcStatus = Number(h['grpc-status']);
        const message = h['grpc-message'];
        if (typeof message === 'string') answer.grpcMessage = decodeURIComponent(message);
      };
      stream.on('response', (h) => {
        answer.status = Number(h[':status']);
        answer.headers = { ...h };
        grpc(h);
      });
      stream.on('trailers', (t) => grpc(t));
      stream.resume();
      stream.on('close', () => {
        clearInterval(timer);
        answer.rstCode = stream.rstCode ?? 0;
        answer.sent = sent;
        resolve(answer);
      });
    });
  }

  /** True if the server closed the connection within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
    clearTimeout(timer);
    return closed;
  }

  destroy(): void {
    this.session.destroy();
  }
}
