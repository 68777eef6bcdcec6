// A fake LLM provider for the example gateway: OpenAI-style chat completions
// and Anthropic-style messages, as JSON or streamed (SSE) with token usage in
// the last event(s), as the real APIs send it. Deterministic: the answer and
// its token counts depend only on the request. Model "fail" answers 500.
import { PassThrough } from 'node:stream';
import Fastify, { type FastifyReply } from 'fastify';

export interface FakeUpstream {
  url: string;
  close(): Promise<void>;
}

export interface FakeUpstreamOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Pause between streamed events, ms. Default 5. */
  chunkDelayMs?: number;
}

interface ChatRequest {
  model?: unknown;
  messages?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown };
}

const words = (s: string): string[] => s.split(/\s+/).filter((w) => w !== '');

function promptOf(body: ChatRequest): string {
  if (!Array.isArray(body.messages)) return '';
  return body.messages
    .map((m: unknown) => {
      const content = (m as { content?: unknown }).content;
      return typeof content === 'string' ? content : JSON.stringify(content ?? '');
    })
    .join(' ');
}

function answerOf(prompt: string): string {
  const said = words(prompt).slice(0, 8).join(' ');
  return `Hello from the fake upstream. You said: ${said}`;
}

/** Dated snapshot names, as providers answer for an alias. */
const openaiModel = (m: string) => (/\d{4}-\d{2}-\d{2}$/.test(m) ? m : `${m}-2024-07-18`);
const anthropicModel = (m: string) => (m.endsWith('-latest') ? m.replace(/-latest$/, '-20241022') : m);

function sse(reply: FastifyReply, events: string[], delayMs: number): FastifyReply {
  const stream = new PassThrough();
  void (async () => {
    for (const e of events) {
      if (stream.destroyed) return;
      stream.write(e);
      await new Promise((r) => setTimeout(r, delayMs));
    }
    stream.end();
  })();
  return reply.header('content-type', 'text/event-stream; charset=utf-8').header('cache-control', 'no-cache').send(stream);
}

export async function startFakeUpstream(opts: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const delay = opts.chunkDelayMs ?? 5;
  const app = Fastify({ logger: false });

  app.post('/v1/chat/completions', async (req, reply) => {
    const body = (req.body ?? {}) as ChatRequest;
    const model = typeof body.model === 'string' ? body.model : 'gpt-4o-mini';
    if (model === 'fail') return reply.code(500).send({ error: { message: 'the fake upstream failed on purpose', type: 'server_error' } });
    const prompt = promptOf(body);
    const answer = answerOf(prompt);
    const usage = { prompt_tokens: words(prompt).length + 3, completion_tokens: words(answer).length, total_tokens: 0 };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const id = `chatcmpl-${Date.now().toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const responseModel = openaiModel(model);
    if (body.stream !== true) {
      return {
        id,
        object: 'chat.completion',
        created,
        model: responseModel,
        choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }],
        usage,
      };
    }
    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: responseModel, choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
    const events = [chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }])];
    for (const w of words(answer)) events.push(chunk([{ index: 0, delta: { content: `${w} ` }, finish_reason: null }]));
    events.push(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
    if (includeUsage) events.push(chunk([], { usage }));
    events.push('data: [DONE]\n\n');
    return sse(reply, events, delay);
  });

  app.post('/v1/messages', async (req, reply) => {
    const body = (req.body ?? {}) as ChatRequest;
    const model = typeof body.model === 'string' ? body.model : 'claude-3-5-sonnet-latest';
    if (model === 'fail') return reply.code(500).send({ type: 'error', error: { type: 'api_error', message: 'the fake upstream failed on purpose' } });
    const prompt = promptOf(body);
    const answer = answerOf(prompt);
    const usage = { input_tokens: words(prompt).length + 5, output_tokens: words(answer).length };
    const id = `msg_${Date.now().toString(36)}`;
    const responseModel = anthropicModel(model);
    if (body.stream !== true) {
      return { id, type: 'message', role: 'assistant', model: responseModel, content: [{ type: 'text', text: answer }], stop_reason: 'end_turn', stop_sequence: null, usage };
    }
    const event = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
    const events = [
      event('message_start', { type: 'message_start', message: { id, type: 'message', role: 'assistant', model: responseModel, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: usage.input_tokens, output_tokens: 1 } } }),
      event('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    ];
    for (const w of words(answer)) events.push(event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `${w} ` } }));
    events.push(
      event('content_block_stop', { type: 'content_block_stop', index: 0 }),
      event('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.output_tokens } }),
      event('message_stop', { type: 'message_stop' }),
    );
    return sse(reply, events, delay);
  });

  const url = await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  return { url, close: () => app.close() };
}
