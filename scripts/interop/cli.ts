/**
 * `npm run interop:setup`: builds the interop client environment ahead of a
 * test run (the tests build it on first use anyway) and prints how long each
 * part took.
 */
import { ensureTelemetrygen } from './go-tools.ts';
import { ensurePythonEnv } from './python-env.ts';

const py = await ensurePythonEnv();
console.log(`python: ${py.python} (${py.created ? 'created' : 'already there'}, ${(py.elapsedMs / 1000).toFixed(1)} s)`);
const tg = await ensureTelemetrygen();
console.log(`telemetrygen: ${tg.path} (${tg.created ? 'built' : 'already there'}, ${(tg.elapsedMs / 1000).toFixed(1)} s)`);
