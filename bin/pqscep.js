#!/usr/bin/env node
// The `pqscep` command. It runs the bundle scripts/build.js writes into dist/ (built by
// `npm install`, `npm start`, `npm test` and `npm run bench`): plain JavaScript, no loader
// thread. When the bundle is missing, or a source file changed after it was built (editing
// without rebuilding), it runs the TypeScript sources through tsx instead, never stale code.
// PQSCEP_SOURCES=1 (or true, yes) forces the sources.
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const bundle = new URL('dist/pqscep.js', root);

/** Newest modification time (ms) of the files the bundle is built from (tsconfig.json: decorators). */
function newestSource() {
  let newest = statSync(new URL('tsconfig.json', root)).mtimeMs;
  for (const dir of ['src', 'algorithms']) {
    const base = fileURLToPath(new URL(dir, root));
    for (const name of readdirSync(base, { recursive: true })) newest = Math.max(newest, statSync(`${base}/${name}`).mtimeMs);
  }
  return newest;
}

function bundleIsFresh() {
  if (/^(1|true|yes)$/i.test(process.env.PQSCEP_SOURCES ?? '')) return false; // as src/config.ts reads PQSCEP_* switches
  try {
    return statSync(bundle).mtimeMs >= newestSource();
  } catch {
    return false; // no bundle yet
  }
}

if (bundleIsFresh()) {
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  // The project's tsconfig (legacy decorators for @peculiar/asn1-schema), wherever pqscep is run from.
  register({ tsconfig: fileURLToPath(new URL('tsconfig.json', root)) });
  await import(new URL('src/cli/main.ts', root).href);
}
