import { defineConfig } from 'vitest/config';

// One test command runs every suite: unit tests beside the code, integration
// and end-to-end suites under test/. Files run in separate processes (forks),
// so each has its own embedded ClickHouse.
export default defineConfig({
  test: {
    include: ['{core,storage,control,processors,collector,sinks,app}/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
