// Consentry's own logs. Secrets never reach them: known secret-bearing fields
// are redacted by path, and every logged string goes through the same secret
// scrubber that guards storage.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level: string; scrub: (s: string) => string }): Logger {
  return pino({
    level: opts.level,
    base: { service: 'consentry' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie', '*.ingestKey', '*.queryKey', 'token'],
      censor: '[REDACTED]',
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? opts.scrub(a) : a));
        return method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
    formatters: {
      log(obj) {
        const err = obj['err'];
        if (err instanceof Error) {
          return { ...obj, err: { type: err.name, message: opts.scrub(err.message), code: (err as { code?: unknown }).code } };
        }
        return obj;
      },
    },
  });
}
