// The layers, and the one direction imports may point (checked in `npm test`):
//
//   core  <-  storage, control  <-  processors, collector (the edge), sinks  <-  app (processes)
//
// core: settings, logging, metrics, process lifecycle, record types, transport seam.
// storage: ClickHouse client, migrations, SQL.  control: tenants, keys, tiers, tombstones.
// processors: pure functions over records (core only). collector: OTLP receiver,
// management API, UI, analytics. sinks: transports and the ClickHouse writer.
// app: what assembles them into the collector, sink and chdb-server processes.
const LAYERS = ['core', 'storage', 'control', 'processors', 'collector', 'sinks', 'app'];
const MAY_USE = {
  core: [],
  storage: ['core'],
  control: ['core', 'storage'],
  processors: ['core'],
  collector: ['core', 'storage', 'control', 'processors'],
  sinks: ['core', 'storage', 'control', 'processors'],
  app: LAYERS,
};
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...LAYERS.filter((l) => l !== 'app').map((layer) => ({
      name: `${layer}-imports-one-way`,
      comment: `${layer}/ may import only ${MAY_USE[layer].join(', ') || 'nothing of Consentry'} (and itself): see .dependency-cruiser.cjs`,
      severity: 'error',
      from: { path: `^${layer}/`, pathNot: '\\.test\\.ts$' },
      to: { path: `^(${LAYERS.filter((l) => l !== layer && !MAY_USE[layer].includes(l)).join('|')})/` },
    })),
    {
      name: 'no-test-code-in-product',
      comment: 'the product never imports tests, benchmarks or scripts',
      severity: 'error',
      from: { path: `^(${LAYERS.join('|')}|interceptor|bin)/`, pathNot: '\\.test\\.ts$' },
      to: { path: '^(test|bench|scripts)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|\\.cache|data)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs'] },
  },
};
