// Watching bodies go by without changing them: byte counts, the first
// `keepBytes` as text (cut on a character boundary, truncation flagged), and
// LLM usage from JSON or SSE. Observation never throws into the stream: an
// observer that fails stops observing and the data flows on untouched.
import { Transform, pipeline, type Readable } from 'node:stream';
import { SseUsageScanner, usageFromJson, type LlmUsage } from './usage.ts';

export type ParseMode = 'sse' | 'json' | 'none';

/** How a body of this Content-Type is read for LLM usage. */
export function parseModeOf(contentType: string | undefined): ParseMode {
  if (contentType === undefined) return 'none';
  const t = contentType.toLowerCase();
  if (t.includes('text/event-stream')) return 'sse';
  if (t.includes('json')) return 'json';
  return 'none';
}

export interface CutBody {
  text: string;
  truncated: boolean;
  /** Whole body, UTF-8 bytes. */
  size: number;
}

/** Drops an incomplete trailing UTF-8 sequence instead of turning it into U+FFFD. */
function decodePrefix(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes, { stream: true });
}

/** The first `maxBytes` of a body as text, cut at a character boundary. */
export function cutBody(body: string | Uint8Array, maxBytes: number): CutBody {
  if (typeof body === 'string') {
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    if (body.length * 3 <= maxBytes) return { text: body, truncated: false, size: Buffer.byteLength(body, 'utf8') };
    const bytes = Buffer.from(body, 'utf8');
    if (bytes.length <= maxBytes) return { text: body, truncated: false, size: bytes.length };
    return { text: decodePrefix(bytes.subarray(0, maxBytes)), truncated: true, size: bytes.length };
  }
  if (body.length <= maxBytes) return { text: decodePrefix(body), truncated: false, size: body.length };
  return { text: decodePrefix(body.subarray(0, maxBytes)), truncated: true, size: body.length };
}

export interface BodyObserverOptions {
  /** Bytes of the body kept as text; 0 keeps none. */
  keepBytes: number;
  parse: ParseMode;
  /** Largest JSON body parsed for usage, bytes; a longer one is not parsed. */
  maxParseBytes: number;
}

/** Accumulates what a body stream shows, chunk by chunk. */
export class BodyObserver {
  size = 0;
  failed = false;
  private readonly kept: Uint8Array[] = [];
  private keptBytes = 0;
  private truncated = false;
  private json: Uint8Array[] | undefined;
  private jsonBytes = 0;
  private readonly sse: SseUsageScanner | undefined;
  private readonly decoder: TextDecoder | undefined;
  private result: LlmUsage | undefined;

  constructor(private readonly opts: BodyObserverOptions) {
    if (opts.parse === 'sse') {
      this.sse = new SseUsageScanner();
      this.decoder = new TextDecoder();
    } else if (opts.parse === 'json') this.json = [];
  }

  push(chunk: Uint8Array | string): void {
    if (this.failed) return;
    try {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      this.size += bytes.length;
      const room = this.opts.keepBytes - this.keptBytes;
      if (room > 0) {
        // A copy: chunks may be views over a buffer the stream reuses.
        const part = bytes.length <= room ? bytes : bytes.subarray(0, room);
        this.kept.push(Uint8Array.prototype.slice.call(part));
        this.keptBytes += part.length;
      }
      if (bytes.length > room) this.truncated = this.opts.keepBytes > 0;
      if (this.sse !== undefined) this.sse.push(this.decoder!.decode(bytes, { stream: true }));
      else if (this.json !== undefined) {
        this.jsonBytes += bytes.length;
        if (this.jsonBytes > this.opts.maxParseBytes) this.json = undefined;
        else this.json.push(Uint8Array.prototype.slice.call(bytes));
      }
    } catch {
      this.failed = true;
    }
  }

  end(): void {
    if (this.failed || this.result !== undefined) return;
    try {
      if (this.sse !== undefined) {
        this.sse.push(this.decoder!.decode());
        this.sse.end();
        this.result = this.sse.usage;
      } else if (this.json !== undefined) {
        this.result = usageFromJson(Buffer.concat(this.json).toString('utf8'));
        this.json = undefined;
      }
    } catch {
      this.failed = true;
    }
  }

  usage(): LlmUsage | undefined {
    return this.result;
  }

  /** The kept prefix, or undefined when nothing was to be kept. */
  body(): CutBody | undefined {
    if (this.opts.keepBytes === 0) return undefined;
    return { text: decodePrefix(Buffer.concat(this.kept)), truncated: this.truncated, size: this.size };
  }
}

/**
 * The same bytes as `source`, observed. Errors and early ends of either side
 * propagate as `pipeline` does; `onEnd` runs once, with the error if any.
 */
export function observeNodeStream(source: Readable, observer: BodyObserver, onEnd: (err?: Error) => void): Transform {
  let ended = false;
  const end = (err?: Error) => {
    if (ended) return;
    ended = true;
    observer.end();
    onEnd(err);
  };
  const tap = new Transform({
    transform(chunk: Buffer | string, _enc, cb) {
      observer.push(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      end();
      cb();
    },
  });
  pipeline(source, tap, (err) => end(err ?? undefined));
  return tap;
}

/** The same chunks as `source`, observed; cancelling the result cancels the source. */
export function observeWebStream(source: ReadableStream<Uint8Array>, observer: BodyObserver, onEnd: (err?: Error) => void): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let ended = false;
  const end = (err?: Error) => {
    if (ended) return;
    ended = true;
    observer.end();
    onEnd(err);
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let next: Awaited<ReturnType<typeof reader.read>>;
        try {
          next = await reader.read();
        } catch (err) {
          end(err instanceof Error ? err : new Error(String(err)));
          controller.error(err);
          return;
        }
        if (next.done) {
          end();
          controller.close();
          return;
        }
        observer.push(next.value);
        controller.enqueue(next.value);
      },
      cancel(reason) {
        end(new Error('cancelled'));
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
