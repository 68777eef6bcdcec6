// The fetch wrapper (global fetch, undici's fetch, or any function of the
// same shape) for a gateway's upstream calls.
//
// Inside a request captured by the fastify plugin, the upstream call adds to
// that request's span: the provider of the upstream host, the requested model
// when the gateway did not parse it, and the upstream failure. The response
// the gateway sends back is observed by the plugin (bodies, usage), so the
// upstream response is returned untouched.
//
// Outside any request (a gateway that is not built on fastify, a batch job),
// each call becomes a CLIENT span of its own with the same conventions; its
// response body is observed as the caller reads it, and the span ends when the
// body was read to the end, failed or was cancelled. A body never read leaves
// no span.
import { BodyObserver, observeWebStream, parseModeOf } from './body.ts';
import { type Capture, errorTypeOf, requestHeaderAttributes, responseHeaderAttributes, safeUrl } from './capture.ts';
import { NO_CAPTURE, type Core } from './core.ts';
import { providerOfHost } from './usage.ts';

type Fetch = typeof globalThis.fetch;

function urlOf(input: Parameters<Fetch>[0]): URL | undefined {
  try {
    if (typeof input === 'string') return new URL(input);
    if (input instanceof URL) return input;
    return new URL(input.url);
  } catch {
    return undefined;
  }
}

/** The body as text or bytes when it is readable without consuming a stream. */
function bodyOf(init: RequestInit | undefined): string | Uint8Array | undefined {
  const b = init?.body;
  if (typeof b === 'string') return b;
  if (b instanceof Uint8Array) return b;
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  if (b instanceof URLSearchParams) return b.toString();
  return undefined;
}

function methodOf(input: Parameters<Fetch>[0], init: RequestInit | undefined): string {
  return (init?.method ?? (typeof input === 'object' && 'method' in input ? input.method : 'GET')).toUpperCase();
}

function describeCall(core: Core, c: Capture, input: Parameters<Fetch>[0], init: RequestInit | undefined, url: URL | undefined): void {
  const a = c.attrs;
  const method = methodOf(input, init);
  c.name = method;
  a['http.request.method'] = method;
  if (url !== undefined) {
    a['url.full'] = safeUrl(url);
    a['server.address'] = url.hostname;
    a['server.port'] = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    c.provider = providerOfHost(url.hostname);
  }
  if (typeof core.opts.provider === 'string') c.provider = core.opts.provider;
  if (c.policy.headers || c.policy.apiKeys) {
    const headers = new Headers(init?.headers ?? (typeof input === 'object' && 'headers' in input ? input.headers : undefined));
    requestHeaderAttributes(headers.entries(), c.policy, a);
  }
  // Cut, sized and parsed when the span ends, off the request path.
  c.requestRaw = bodyOf(init);
}

/** The response, its body observed; the span ends with the body. */
function observeResponse(core: Core, c: Capture, res: Response): Response {
  responseHeaderAttributes(res.headers.entries(), c.policy, c.attrs);
  const parse = parseModeOf(res.headers.get('content-type') ?? undefined);
  if (parse === 'sse') c.streaming = true;
  // A Response cannot be rebuilt with these: pass it through untouched.
  if (res.body === null || res.status < 200 || res.status > 599) {
    core.finish(c, res.status);
    return res;
  }
  const observer = new BodyObserver({ keepBytes: c.policy.bodies ? core.opts.maxBodyBytes : 0, parse, maxParseBytes: core.opts.maxParseBytes });
  c.responseBody = observer;
  const body = observeWebStream(res.body, observer, (err) => {
    if (err !== undefined) c.errorType ??= err.message === 'cancelled' ? 'cancelled' : errorTypeOf(err);
    core.finish(c, res.status);
  });
  const wrapped = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  // What a Response built here cannot take in its init.
  for (const key of ['url', 'redirected', 'type'] as const) Object.defineProperty(wrapped, key, { value: res[key] });
  return wrapped;
}

export function wrapFetch<F extends Fetch>(core: Core, fetchImpl: F): F {
  const wrapped = (input: Parameters<Fetch>[0], init?: RequestInit): Promise<Response> => {
    const store = core.als.getStore();
    if (store === NO_CAPTURE || core.closed) return fetchImpl(input, init);

    if (store !== undefined) {
      // Inside a captured request: annotate it.
      try {
        const url = urlOf(input);
        if (url !== undefined) store.provider ??= providerOfHost(url.hostname);
        store.upstreamRequestRaw ??= bodyOf(init);
      } catch {
        core.counters.captureErrors++;
      }
      return fetchImpl(input, init).catch((err: unknown) => {
        store.upstreamErrorType ??= errorTypeOf(err);
        throw err;
      });
    }

    const c = core.begin('client');
    if (c === undefined) return fetchImpl(input, init);
    try {
      describeCall(core, c, input, init, urlOf(input));
    } catch {
      core.counters.captureErrors++;
      return fetchImpl(input, init);
    }
    return fetchImpl(input, init).then(
      (res) => {
        try {
          return observeResponse(core, c, res);
        } catch {
          core.counters.captureErrors++;
          return res;
        }
      },
      (err: unknown) => {
        c.errorType = errorTypeOf(err);
        core.finish(c, undefined);
        throw err;
      },
    );
  };
  return wrapped as F;
}
