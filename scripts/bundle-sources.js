// Is a bundle in dist/ built from the sources as they are now? scripts/build.js records, beside
// the bundle, every file the bundle is built from (tsconfig.json, src/, algorithms/) with its size
// and modification time; bin/pqscep.js runs the bundle only while the same files have the same
// size and time. Comparing for equality, not "bundle newer than the newest source", also catches
// sources that went back in time: an older checkout's files, or files copied with their old times
// (`cp -p`, `rsync -t`), which a newer bundle would otherwise shadow.
// Leaves out: content hashes (reading every source at each start costs more than it buys: an edit
// that keeps both size and time to the nanosecond is not one an editor or git makes).
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The folders and files a bundle is built from, relative to the project root. */
const SOURCES = ['tsconfig.json', 'src', 'algorithms'];

/** The name of the record beside the bundle. */
export const MANIFEST = 'sources.json';

/**
 * `path\tsize\tmtimeMs` for every source file, sorted: what the bundle was built from. An entry
 * gone by the time it is looked at is left out: a file removed while listing (an editor's atomic
 * save) or a symlink to nowhere (Emacs marks a modified buffer with one, `.#name`), neither of
 * which esbuild could read either.
 */
export function sourceListing(root) {
  const lines = [];
  const add = (rel) => {
    const st = statSync(join(root, rel), { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) for (const name of readdirSync(join(root, rel))) add(`${rel}/${name}`);
    else lines.push(`${rel}\t${st.size}\t${st.mtimeMs}`);
  };
  for (const rel of SOURCES) add(rel);
  return lines.sort();
}

/**
 * Records `listing` (taken before the build) in `outdir`, a folder directly in `root`; written
 * last and renamed into place, so a pqscep starting meanwhile reads a whole record or none.
 */
export function writeManifest(root, outdir, listing) {
  const file = join(root, outdir, MANIFEST);
  writeFileSync(`${file}.${process.pid}.tmp`, `${JSON.stringify(listing, null, 1)}\n`);
  renameSync(`${file}.${process.pid}.tmp`, file);
}

/** True when `outdir`'s record lists exactly the source files there are now, each of the same size and time. */
export function bundleIsFresh(root, outdir = 'dist') {
  let recorded;
  try {
    recorded = JSON.parse(readFileSync(join(root, outdir, MANIFEST), 'utf8'));
  } catch {
    return false; // no bundle yet, or one built before the record existed
  }
  let now;
  try {
    now = sourceListing(root);
  } catch {
    return false; // a source that cannot be listed (unreadable folder): the sources decide, as before
  }
  return Array.isArray(recorded) && recorded.length === now.length && recorded.every((line, i) => line === now[i]);
}
