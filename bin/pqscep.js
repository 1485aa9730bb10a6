#!/usr/bin/env node
// The `pqscep` command. It runs the bundle scripts/build.js writes into dist/ (built by
// `npm install`, `npm start`, `npm test` and `npm run bench`): plain JavaScript, no loader
// thread. When the bundle is missing, or the source files are not those it was built from
// (edited, added, removed, or an older copy put back: scripts/bundle-sources.js), it runs the
// TypeScript sources through tsx instead, never stale code.
// PQSCEP_SOURCES=1 (or true, yes, on) forces the sources.
import { fileURLToPath } from 'node:url';
import { bundleIsFresh } from '../scripts/bundle-sources.js';

const root = new URL('../', import.meta.url);
const bundle = new URL('dist/pqscep.js', root);
// as src/config.ts reads PQSCEP_* switches
const forceSources = /^\s*(1|true|yes|on)\s*$/i.test(process.env.PQSCEP_SOURCES ?? '');

if (!forceSources && bundleIsFresh(fileURLToPath(root))) {
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  // The project's tsconfig (legacy decorators for @peculiar/asn1-schema), wherever pqscep is run from.
  register({ tsconfig: fileURLToPath(new URL('tsconfig.json', root)) });
  await import(new URL('src/cli/main.ts', root).href);
}
