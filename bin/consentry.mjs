#!/usr/bin/env node
// Launcher for `npx consentry ...`: the compiled client (dist/bin/consentry.js,
// built by `npm install` or `npm run build`).
try {
  await import('../dist/bin/consentry.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/bin/consentry.js')) throw err;
  process.stderr.write('consentry: the client is not built yet: run `npm run build` in the Consentry folder, then try again.\n');
  process.exit(1);
}
