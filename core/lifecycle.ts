// What every Consentry process entry point (collector, sink) does around its
// service: stop cleanly on SIGTERM/SIGINT, and turn a failed start into a
// message that says what to do. Entry points are the only places that exit.
import { ConfigError } from './settings.ts';
import type { Logger } from './logger.ts';

/** Stops the service on the first SIGTERM or SIGINT, then exits 0 (1 if stopping failed). */
export function stopOnSignals(service: { stop(): Promise<void>; logger: Logger }, stoppingMessage: string): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: ${stoppingMessage}\n`);
    service.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        service.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** A start refused for a reason its message tells the operator, with what to do: printed as it is, without a stack. */
export class StartRefused extends Error {}

/** Runs an entry point's main; a start failure is printed with what to do, and exits 1. */
export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nFix the settings above and start again.\n`);
    } else if (err instanceof StartRefused) {
      process.stderr.write(`${name} cannot start: ${err.message}\n`);
    } else {
      process.stderr.write(`${name} failed to start: ${(err as Error).stack ?? String(err)}\n`);
    }
    process.exit(1);
  });
}

/** What to undo if starting fails half-way: steps run in reverse order, errors logged, not thrown. */
export class UndoOnFailure {
  private readonly steps: Array<() => Promise<unknown>> = [];
  constructor(private readonly logger: Logger) {}

  push(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.reverse()) await step().catch((err: unknown) => this.logger.error({ err }, 'error while stopping'));
  }
}
