// Is a bundle in dist/ built from the sources as they are now? scripts/build.js records, beside
// the bundle, every file the bundle is built from (tsconfig.json, src/, algorithms/) with its size
// and modification time; bin/pqscep.js runs the bundle only while the same files have the same
// size and time. Comparing for equality, not "bundle newer than the newest source", also catches
// sources that went back in time: an older checkout's files, or files copied with their old times
// (`cp -p`, `rsync -t`), which a newer bundle would otherwise shadow.
// The record also names the bundle files it goes with (size and time of each as written; not the
// inode, which a copy that keeps times, `cp -a` or a container image's COPY, does not keep):
// two builds running at once each write the bundle and then their record, so the last record
// written may describe the other build's bundle; a record only counts for its own bundle files.
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

/** `name\tsize\tmtimeMs` of a bundle file, from its stat (a rename keeps both). */
export const bundleEntry = (name, st) => `${name}\t${st.size}\t${st.mtimeMs}`;

/**
 * Records `listing` (taken before the build) and the bundle files this build wrote (`bundle`,
 * {@link bundleEntry} lines) in `outdir`, a folder directly in `root`; written last and renamed
 * into place, so a pqscep starting meanwhile reads a whole record or none.
 */
export function writeManifest(root, outdir, listing, bundle) {
  const file = join(root, outdir, MANIFEST);
  writeFileSync(`${file}.${process.pid}.tmp`, `${JSON.stringify({ sources: listing, bundle }, null, 1)}\n`);
  renameSync(`${file}.${process.pid}.tmp`, file);
}

const sameLines = (a, b) => Array.isArray(a) && a.length === b.length && a.every((line, i) => line === b[i]);

/**
 * True when `outdir`'s record lists exactly the source files there are now, each of the same size
 * and time, and its bundle files are still those this record's build wrote.
 */
export function bundleIsFresh(root, outdir = 'dist') {
  let recorded;
  try {
    recorded = JSON.parse(readFileSync(join(root, outdir, MANIFEST), 'utf8'));
  } catch {
    return false; // no bundle yet, or one built before the record existed
  }
  if (!Array.isArray(recorded?.bundle) || recorded.bundle.length === 0) return false; // an older record's form
  let now;
  let bundle;
  try {
    now = sourceListing(root);
    bundle = recorded.bundle.map((line) => {
      const name = String(line).split('\t')[0];
      return bundleEntry(name, statSync(join(root, outdir, name)));
    });
  } catch {
    return false; // a source that cannot be listed, a bundle file gone: the sources decide, as before
  }
  return sameLines(recorded.sources, now) && sameLines(recorded.bundle, bundle);
}
