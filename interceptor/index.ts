// consentry/interceptor: capture a Node.js gateway's requests as spans for
// Consentry (a fastify plugin and a fetch wrapper), captured only as far as
// the tenant's tier keeps them. See interceptor.ts.
export { createInterceptor, type Interceptor, type InterceptorStats } from './interceptor.ts';
export { InterceptorConfigError, type InterceptorOptions, type RequestValue } from './config.ts';
export type { CapturePolicy } from './policy.ts';
