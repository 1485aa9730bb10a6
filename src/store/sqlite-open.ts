/**
 * Opening the store's SQLite file: whatever goes wrong is one line naming the file
 * (`<path>: ...`, StoreOpenError), and a file that is not ours is refused before anything is
 * written to it: not SQLite at all, another program's database (tables but no schema version:
 * every pqscep file has one, set in the transaction that made its tables), a folder, or a file
 * of a newer schema.
 * Leaves out: the schema itself and its migrations (sqlite-store.ts).
 * @module
 */
import { statSync } from 'node:fs';
import { openSqlite, type SqliteDatabase } from './sqlite-driver.ts';

/** A file that cannot be opened as a pqscep store; the message names it, on one line. */
export class StoreOpenError extends Error {
  override readonly name = 'StoreOpenError';
}

/** A file written by a later pqscep. */
export const newerSchema = (version: number, supported: number): StoreOpenError =>
  new StoreOpenError(`schema version ${version} is newer than this pqscep supports (${supported}): use a newer pqscep`);

/** Refuses a file that is not a pqscep store of `schemaVersion` or earlier (before any write). */
function checkIsStore(db: SqliteDatabase, schemaVersion: number): void {
  let version: number;
  let tables: string[];
  try {
    version = db.getPragma('user_version') as number;
    tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all().map((r) => String(r.name));
  } catch (err) {
    const reason = /not a database|malformed|encrypted/i.test((err as Error).message) ? 'not an SQLite database' : (err as Error).message.split('\n')[0];
    throw new StoreOpenError(`not a pqscep store (${reason})`, { cause: err });
  }
  if (version > schemaVersion) throw newerSchema(version, schemaVersion);
  if (version === 0 && tables.length > 0) {
    throw new StoreOpenError(`not a pqscep store: it holds other tables (${tables.slice(0, 5).join(', ')}${tables.length > 5 ? ', ...' : ''}) and no pqscep schema version`);
  }
}

/**
 * Opens `path` (`':memory:'` for a private database), checks it is a pqscep store, then runs
 * `setUp` (pragmas, migrations); closes it again if any of that fails.
 */
export function openPqscepFile(path: string, schemaVersion: number, setUp: (db: SqliteDatabase) => void): SqliteDatabase {
  const refuse = (err: unknown): never => {
    const reason = err instanceof StoreOpenError ? err.message : `cannot open (${(err as Error).message.split('\n')[0]})`;
    throw new StoreOpenError(`${path}: ${reason}`, { cause: err });
  };
  if (path !== ':memory:' && statSync(path, { throwIfNoEntry: false })?.isDirectory()) refuse(new StoreOpenError('is a folder, not a pqscep database file'));
  let db: SqliteDatabase;
  try {
    db = openSqlite(path);
  } catch (err) {
    return refuse(err);
  }
  try {
    db.setPragma('busy_timeout', 5000); // the CLI may hold the write lock briefly
    checkIsStore(db, schemaVersion); // before the first write (setUp's pragmas are writes)
    setUp(db);
    return db;
  } catch (err) {
    db.close();
    return refuse(err);
  }
}
