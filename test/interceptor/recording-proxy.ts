// A small HTTP proxy between the interceptor and Consentry's OTLP port that
// keeps every request it forwards (decompressed), so a test can check what
// left the gateway, not only what was stored.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeTracesJson } from '../../collector/otlp/decode-json.ts';
import { decodeTracesProto } from '../../collector/otlp/decode-proto.ts';
import type { SpanRecord } from '../../core/record.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The body as sent, gunzipped when it was gzip. */
  body: Buffer;
}

export interface RecordingProxy {
  url: string;
  requests: RecordedRequest[];
  /** Every span of every POST /v1/traces seen, decoded as the receiver decodes it. */
  spans(): SpanRecord[];
  traceRequests(): RecordedRequest[];
  /** From now on requests are taken and never answered: a hung Consentry. */
  hang(): void;
  /** Closes the port and every open connection: Consentry looks down from here on. */
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['host', 'connection', 'content-length', 'keep-alive', 'transfer-encoding']);

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const requests: RecordedRequest[] = [];
  let hung = false;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const gzip = (req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip';
      requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body: gzip ? gunzipSync(raw) : raw });
      if (hung) return;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && typeof v === 'string') headers[k] = v;
      fetch(target + (req.url ?? '/'), { method: req.method ?? 'GET', headers, ...(raw.length > 0 ? { body: raw } : {}) })
        .then(async (r) => {
          const body = Buffer.from(await r.arrayBuffer());
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/octet-stream' });
          res.end(body);
        })
        .catch(() => {
          res.writeHead(502);
          res.end();
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const traceRequests = () => requests.filter((r) => r.method === 'POST' && r.path === '/v1/traces');
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    traceRequests,
    hang: () => {
      hung = true;
    },
    spans: () =>
      traceRequests().flatMap((r) =>
        (String(r.headers['content-type']).includes('protobuf') ? decodeTracesProto(r.body) : decodeTracesJson(r.body)).records,
      ),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
