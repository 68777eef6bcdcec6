// The process entry point (`npm start`); it and app/sink-main.ts are the only places that exit (through core/lifecycle.ts).
import { loadSettings } from '../core/settings.ts';
import { runMain, stopOnSignals } from '../core/lifecycle.ts';
import { startConsentry } from './collector.ts';

async function main(): Promise<void> {
  const settings = loadSettings();
  process.stdout.write(`Consentry starting (data in ${settings.dataDir}, ClickHouse ${settings.clickhouseUrl === '' ? 'embedded' : settings.clickhouseUrl})...\n`);
  const c = await startConsentry(settings);
  // Before the banner: whoever reads it may stop the process at once.
  stopOnSignals(c, 'flushing pending data and stopping...');
  const tokenHint = c.adminTokenFile === undefined ? 'from CONSENTRY_ADMIN_TOKEN' : `in ${c.adminTokenFile}`;
  process.stdout.write(
    [
      '',
      `Consentry is running.`,
      `  OTLP/HTTP      ${c.otlpUrl}/v1/traces  ${c.otlpUrl}/v1/logs`,
      `  OTLP/gRPC      ${c.otlpGrpcUrl ?? 'off (CONSENTRY_OTLP_GRPC_PORT=off)'}`,
      `  management API ${c.apiUrl}/api   (health: ${c.apiUrl}/healthz, metrics: ${c.apiUrl}/metrics)`,
      `  admin token    ${tokenHint}`,
      `  tiers          ${c.engine.names().join(', ')}`,
      '',
      'Try it:',
      `  ADMIN=$(cat ${c.adminTokenFile ?? '<your admin token file>'})`,
      `  curl -s -X POST ${c.apiUrl}/api/tenants -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' -d '{"id":"acme","tier":"full"}'`,
      `  # copy ingestKey from the answer, then send a span:`,
      `  curl -s ${c.otlpUrl}/v1/traces -H "Authorization: Bearer <ingestKey>" -H 'content-type: application/json' \\`,
      `    -d '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my-gateway"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"POST /v1/chat/completions","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000250000000","attributes":[{"key":"http.route","value":{"stringValue":"/v1/chat/completions"}}]}]}]}]}'`,
      `  # and see it stored (query key from the tenant answer):`,
      `  curl -s -X POST ${c.apiUrl}/api/query -H "Authorization: Bearer <queryKey>" -H 'content-type: application/json' -d '{"sql":"SELECT SpanName, Duration FROM otel_traces"}'`,
      '',
    ].join('\n'),
  );
}

runMain('Consentry', main);
