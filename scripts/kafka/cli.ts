/**
 * npx tsx scripts/kafka/cli.ts fetch
 * npx tsx scripts/kafka/cli.ts start [--port N] [--controller-port N] [--data-dir DIR] [--log-file FILE] [--heap 512m]
 *
 * `start` prints `KAFKA_BROKERS=127.0.0.1:PORT` on stdout (progress goes to
 * stderr), then runs until Ctrl-C or SIGTERM and stops the broker cleanly.
 * Without --data-dir the data lives in a temp folder removed on exit.
 * This file is the only one of scripts/kafka/ that exits the process.
 */
import { parseArgs } from 'node:util';
import { startKafka } from './broker.ts';
import { KafkaScriptError } from './errors.ts';
import { fetchKafka } from './fetch.ts';

const USAGE = `usage:
  npx tsx scripts/kafka/cli.ts fetch
  npx tsx scripts/kafka/cli.ts start [--port N] [--controller-port N] [--data-dir DIR] [--log-file FILE] [--heap 512m]`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      port: { type: 'string' },
      'controller-port': { type: 'string' },
      'data-dir': { type: 'string' },
      'log-file': { type: 'string' },
      heap: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help === true || command === undefined || positionals.length > 1) {
    process.stderr.write(`${USAGE}\n`);
    return values.help === true ? 0 : 2;
  }
  switch (command) {
    case 'fetch': {
      const libs = await fetchKafka();
      process.stderr.write(`[kafka] ${libs.fetched ? 'fetched' : 'already present'}: ${libs.libsDir}\n`);
      return 0;
    }
    case 'start':
      return start({
        port: toPort('--port', values.port),
        controllerPort: toPort('--controller-port', values['controller-port']),
        dataDir: values['data-dir'],
        logFile: values['log-file'],
        heap: values.heap,
      });
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

async function start(opts: Parameters<typeof startKafka>[0]): Promise<number> {
  const broker = await startKafka(opts);
  process.stdout.write(`KAFKA_BROKERS=${broker.brokers}\n`);
  process.stderr.write(`[kafka] pid ${broker.pid}, data ${broker.dataDir}, log ${broker.logFile}; Ctrl-C to stop\n`);
  const signal = await new Promise<NodeJS.Signals | 'exited'>((resolveSignal) => {
    process.once('SIGINT', () => resolveSignal('SIGINT'));
    process.once('SIGTERM', () => resolveSignal('SIGTERM'));
    void broker.exited.then(() => resolveSignal('exited'));
  });
  if (signal === 'exited') {
    const exit = await broker.exited;
    process.stderr.write(
      `[kafka] broker exited on its own (code ${exit.code}, signal ${exit.signal}); see ${broker.logFile}\n`,
    );
    await broker.stop();
    return 1;
  }
  process.stderr.write(`[kafka] ${signal}: stopping broker\n`);
  await broker.stop();
  process.stderr.write('[kafka] stopped\n');
  return 0;
}

function toPort(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new KafkaScriptError('KAFKA_INVALID_OPTIONS', `${flag} must be a port number 0..65535, got "${value}"`);
  }
  return n;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof KafkaScriptError ? 1 : 2);
  },
);
