// An OpenAI-compatible upstream on loopback for the interop clients:
// /v1/chat/completions, JSON, or SSE when `stream` is set (with a usage chunk
// when `stream_options.include_usage` is). Answers are
// deterministic (traffic.ts), so stored token counts can be checked exactly.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { COMPLETION, USAGE } from './traffic.ts';

export interface MockCall {
  path: string;
  model: string;
  stream: boolean;
}

export interface MockOpenAI {
  /** Base URL the OpenAI clients take (`http://127.0.0.1:PORT/v1`). */
  baseUrl: string;
  /** Every call answered, in order. */
  calls: MockCall[];
  close(): Promise<void>;
}

const usage = { prompt_tokens: USAGE.input, completion_tokens: USAGE.output, total_tokens: USAGE.input + USAGE.output };

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function chat(res: ServerResponse, body: Record<string, unknown>, n: number): void {
  const model = String(body['model']);
  const id = `chatcmpl-interop-${n}`;
  const created = Math.floor(Date.now() / 1000);
  if (body['stream'] !== true) {
    send(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: COMPLETION, refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage,
      system_fingerprint: 'fp_interop',
    });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_interop', choices, ...extra })}\n\n`);
  chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
  // Three pieces, so clients that join deltas are exercised.
  const words = COMPLETION.split(' ');
  const third = Math.ceil(words.length / 3);
  for (let i = 0; i < words.length; i += third) {
    const piece = (i === 0 ? '' : ' ') + words.slice(i, i + third).join(' ');
    chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]);
  }
  chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
  const options = body['stream_options'] as { include_usage?: boolean } | undefined;
  if (options?.include_usage === true) chunk([], { usage });
  res.end('data: [DONE]\n\n');
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function startMockOpenAI(): Promise<MockOpenAI> {
  const calls: MockCall[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '').split('?')[0]!;
      const body = req.method === 'POST' ? await readJson(req) : undefined;
      if (body === undefined) {
        send(res, 400, { error: { message: `mock OpenAI: expected a POST with a JSON object body to ${path}`, type: 'invalid_request_error' } });
        return;
      }
      if (path === '/v1/chat/completions') {
        calls.push({ path, model: String(body['model']), stream: body['stream'] === true });
        chat(res, body, calls.length);
      } else {
        send(res, 404, { error: { message: `mock OpenAI: no route ${path}`, type: 'invalid_request_error' } });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
