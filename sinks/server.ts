// The sink process entry point (`npm run sink`): reads what collectors
// produced to Kafka and writes it to ClickHouse. Run as many as there are
// partitions to share the work; the only place in the sink that exits the
// process.
import { ConfigError, loadSettings } from '../collector/config.ts';
import { TierConfigError } from '../processors/tiers/config.ts';
import { startSinkService } from './kafka/service.ts';

async function main(): Promise<void> {
  const settings = loadSettings();
  process.stdout.write(`Consentry sink starting (Kafka ${settings.kafkaBrokers.join(',') || '(none)'}, ClickHouse ${settings.clickhouseUrl === '' ? `embedded in ${settings.dataDir}` : settings.clickhouseUrl})...\n`);
  const s = await startSinkService(settings);
  process.stdout.write(
    [
      '',
      'Consentry sink is running.',
      `  consumer group  ${settings.sinkGroup} on ${settings.kafkaBrokers.join(',')}`,
      `  health          ${s.url}/healthz  ${s.url}/readyz  ${s.url}/metrics`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: writing and committing what is buffered, then stopping...\n`);
    s.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        s.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof TierConfigError) {
    process.stderr.write(`${err.message}\nFix the settings above and start again.\n`);
  } else {
    process.stderr.write(`Consentry sink failed to start: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(1);
});
