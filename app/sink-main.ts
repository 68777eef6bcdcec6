// The sink process entry point (`npm run sink`): reads what collectors
// produced to Kafka and writes it to ClickHouse. Run as many as there are
// partitions to share the work; the only place in the sink that exits the
// process.
import { loadSettings } from '../core/settings.ts';
import { runMain, stopOnSignals } from '../core/lifecycle.ts';
import { startSinkService } from './sink.ts';

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
  stopOnSignals(s, 'writing and committing what is buffered, then stopping...');
}

runMain('Consentry sink', main);
