// Entry of an ingest worker thread: registers tsx in this thread (workers do
// not inherit `--import tsx`) and runs the TypeScript module.
import { register } from 'tsx/esm/api';

register();
await import('./ingest-worker.ts');
