#!/usr/bin/env node
// Bundles the server and CLI into dist/ with esbuild, so that `pqscep` (bin/pqscep.js) runs
// plain JavaScript instead of registering the tsx loader at start. Why: on Node 20 a module
// loader runs in a thread of its own, and each PKIOperation worker registers one too: about
// 30 MB of RSS per thread, the difference between meeting the 200 MB target or not (issue 5).
// Runs on `npm install` (the `prepare` script), `npm start`, `npm test` and `npm run bench`; in between,
// bin/pqscep.js falls back to tsx when the sources are not those listed in dist/sources.json
// (scripts/bundle-sources.js), which is written last, from a listing taken before bundling.
// Two entries, each a separate bundle: the CLI, and the PKIOperation worker, emitted under the
// name src/scep/pki-pool.ts starts a worker from (next to the bundle that imports it).
// Packages stay external (node_modules is there at run time; better-sqlite3 is native).
// `--outdir NAME` writes elsewhere (test/bundle.test.ts); NAME must be one folder directly in the
// project, as dist/ is, because the bundle finds profiles/ one level up (src/project-root.ts).
import { build } from 'esbuild';
import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleEntry, sourceListing, writeManifest } from './bundle-sources.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { outdir: { type: 'string', default: 'dist' } } });
if (!/^[\w.-]+$/.test(values.outdir)) {
  console.error(`build: --outdir must be one folder name directly in the project, not ${values.outdir}`);
  process.exit(1);
}

try {
  // Taken first: a source edited while esbuild runs then no longer matches, and the bundle is not used.
  const listing = sourceListing(root);
  const { outputFiles } = await build({
    absWorkingDir: root,
    entryPoints: { pqscep: 'src/cli/main.ts', 'pki-worker-boot': 'src/scep/pki-worker.ts' },
    outdir: values.outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    tsconfig: 'tsconfig.json', // legacy decorators (@peculiar/asn1-schema)
    logLevel: 'warning',
    write: false,
  });
  // Each file is written beside its place and renamed into it: a pqscep starting meanwhile
  // loads the old bundle or the new one, never half of one.
  // Each is recorded as written (before the rename, which keeps size and time): another
  // build renaming its own bundle over it meanwhile then does not pass for this one.
  const bundle = [];
  for (const file of outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(`${file.path}.${process.pid}.tmp`, file.contents);
    bundle.push(bundleEntry(relative(join(root, values.outdir), file.path), statSync(`${file.path}.${process.pid}.tmp`)));
    renameSync(`${file.path}.${process.pid}.tmp`, file.path);
  }
  writeManifest(root, values.outdir, listing, bundle);
} catch (err) {
  // esbuild has already printed each of its errors with file and line; anything else gets one line.
  if (!Array.isArray(err?.errors)) console.error(`build: ${err?.message ?? err}`);
  process.exit(1);
}
