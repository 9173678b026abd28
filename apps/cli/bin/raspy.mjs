#!/usr/bin/env node
// The `raspy` command. It lives here (not in dist/) so that npm links it at
// install time, before anything is built.
try {
  await import('../dist/main.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/main.js')) {
    process.stderr.write('raspy: not built yet; run `npm run build` (or `npm start`) in the RasPy checkout first\n');
    process.exit(1);
  }
  throw err;
}
