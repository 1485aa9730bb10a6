/**
 * The few SQLite calls the store needs, behind one small interface with two implementations:
 * better-sqlite3 (a native addon, built for one Node ABI) and the built-in `node:sqlite`
 * (`DatabaseSync`, Node 22.5+, stable in the Node 26 reference runtime).
 *
 * Why: better-sqlite3 is compiled for the Node that ran `npm install`; another Node (the
 * reference runtime) cannot load it. So the first open probes better-sqlite3 and falls back to
 * `node:sqlite`. Both are loaded lazily through `createRequire`, so Node 20 never asks for
 * `node:sqlite` and a Node that cannot load the addon never crashes on it. The choice is made
 * once per process and reported by {@link sqliteDriverName} (`pqscep serve` prints it).
 *
 * Semantics kept the same across both:
 * - `prepare(sql).run/get/all` take positional values, or one object for `@name` parameters
 *   (keys the statement does not use are ignored, as better-sqlite3 does);
 * - BLOBs come back as Uint8Array (better-sqlite3's Buffer is one), integers as number;
 * - `transaction(fn)` wraps fn in BEGIN IMMEDIATE / COMMIT, ROLLBACK when fn throws; called
 *   inside another transaction it becomes a SAVEPOINT (better-sqlite3 does this by itself);
 * - a violated UNIQUE or PRIMARY KEY constraint throws {@link UniqueConstraintError}.
 *
 * Left out: BigInt integers, user functions, anything async.
 * @module
 */
import { createRequire } from 'node:module';

export type SqliteDriverName = 'better-sqlite3' | 'node:sqlite';
export type SqlValue = string | number | bigint | Uint8Array | null;
export type SqlParams = SqlValue[] | [Record<string, SqlValue>, ...SqlValue[]];
export type Row = Record<string, unknown>;

export interface SqliteStatement {
  run(...params: SqlParams): { changes: number };
  get(...params: SqlParams): Row | undefined;
  all(...params: SqlParams): Row[];
}

export interface SqliteDatabase {
  readonly driver: SqliteDriverName;
  exec(sql: string): void;
  /** `PRAGMA name`: the first column of the first row (better-sqlite3's `{ simple: true }`). */
  getPragma(name: string): unknown;
  /** `PRAGMA name = value`. */
  setPragma(name: string, value: string | number): void;
  prepare(sql: string): SqliteStatement;
  /** Wraps fn in BEGIN IMMEDIATE ... COMMIT; ROLLBACK and rethrow when fn throws. */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  close(): void;
}

/** A UNIQUE or PRIMARY KEY constraint was violated; the driver's own error is the `cause`. */
export class UniqueConstraintError extends Error {
  override readonly name = 'UniqueConstraintError';
}

// SQLite extended result codes (https://sqlite.org/rescode.html).
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;

/** Rethrows `err` as UniqueConstraintError when either driver reports such a violation. */
function translate(err: unknown): never {
  const e = err as { code?: unknown; errcode?: unknown; message?: string };
  const unique =
    e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e.code === 'SQLITE_CONSTRAINT_UNIQUE' || // better-sqlite3
    e.errcode === SQLITE_CONSTRAINT_PRIMARYKEY || e.errcode === SQLITE_CONSTRAINT_UNIQUE; // node:sqlite
  if (unique) throw new UniqueConstraintError(e.message ?? 'UNIQUE constraint failed', { cause: err });
  throw err;
}

function guarded<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return fn(...args);
    } catch (err) {
      return translate(err);
    }
  };
}

/** PRAGMA text from a name and value that cannot smuggle in SQL (programmer misuse otherwise). */
function pragmaSql(name: string, value?: string | number): string {
  if (!/^[a-z_]+$/i.test(name) || (value !== undefined && !/^[\w-]+$/.test(String(value)))) {
    throw new RangeError(`invalid PRAGMA ${name}${value === undefined ? '' : ` = ${value}`}`);
  }
  return value === undefined ? `PRAGMA ${name}` : `PRAGMA ${name} = ${value}`;
}

const load = createRequire(import.meta.url);

// --- better-sqlite3 --------------------------------------------------------------------------

type BetterSqlite3 = typeof import('better-sqlite3');

function betterSqlite3(Database: BetterSqlite3, path: string): SqliteDatabase {
  const db = new Database(path);
  return {
    driver: 'better-sqlite3',
    exec: guarded((sql: string) => void db.exec(sql)),
    getPragma: (name) => {
      pragmaSql(name); // validates the name
      return db.pragma(name, { simple: true });
    },
    setPragma: (name, value) => void db.exec(pragmaSql(name, value)),
    prepare(sql) {
      const s = db.prepare(sql);
      return {
        run: guarded((...p: SqlParams) => ({ changes: s.run(...p).changes })),
        get: guarded((...p: SqlParams) => s.get(...p) as Row | undefined),
        all: guarded((...p: SqlParams) => s.all(...p) as Row[]),
      };
    },
    transaction(fn) {
      const t = db.transaction(fn);
      return guarded((...args) => t.immediate(...args));
    },
    close: () => void db.close(),
  };
}

// --- node:sqlite -----------------------------------------------------------------------------

/** The part of node:sqlite used here (@types/node 20 has no declarations for it). */
interface NodeSqlite {
  DatabaseSync: new (path: string) => {
    exec(sql: string): void;
    prepare(sql: string): {
      run(...p: unknown[]): { changes: number | bigint };
      get(...p: unknown[]): unknown;
      all(...p: unknown[]): unknown[];
      setAllowUnknownNamedParameters?(allow: boolean): void;
    };
    close(): void;
  };
}

function nodeSqlite({ DatabaseSync }: NodeSqlite, path: string): SqliteDatabase {
  const db = new DatabaseSync(path);
  const exec = guarded((sql: string) => db.exec(sql));
  let depth = 0; // open transactions: the outer one is BEGIN IMMEDIATE, inner ones savepoints
  const prepare = (sql: string): SqliteStatement => {
    const s = db.prepare(sql);
    s.setAllowUnknownNamedParameters?.(true); // as better-sqlite3: extra keys are ignored
    return {
      run: guarded((...p: SqlParams) => ({ changes: Number(s.run(...p).changes) })),
      get: guarded((...p: SqlParams) => s.get(...p) as Row | undefined),
      all: guarded((...p: SqlParams) => s.all(...p) as Row[]),
    };
  };
  return {
    driver: 'node:sqlite',
    exec,
    getPragma: (name) => {
      const row = prepare(pragmaSql(name)).get();
      return row === undefined ? undefined : Object.values(row)[0];
    },
    setPragma: (name, value) => exec(pragmaSql(name, value)),
    prepare,
    transaction: (fn) => (...args) => {
      const savepoint = depth > 0 ? `sp${depth}` : undefined;
      exec(savepoint ? `SAVEPOINT ${savepoint}` : 'BEGIN IMMEDIATE');
      depth++;
      try {
        const result = fn(...args);
        exec(savepoint ? `RELEASE ${savepoint}` : 'COMMIT');
        return result;
      } catch (err) {
        try {
          db.exec(savepoint ? `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}` : 'ROLLBACK');
        } catch {
          // SQLite already ended the transaction (some errors roll back by themselves)
        }
        throw err;
      } finally {
        depth--;
      }
    },
    close: () => db.close(),
  };
}

// --- choice ----------------------------------------------------------------------------------

type Opener = (path: string) => SqliteDatabase;
let chosen: { name: SqliteDriverName; open: Opener } | undefined;

/** better-sqlite3 if its addon loads in this Node (probed on ':memory:'), else node:sqlite. */
function choose(): { name: SqliteDriverName; open: Opener } {
  if (chosen) return chosen;
  let addonError: unknown;
  try {
    const Database = load('better-sqlite3') as BetterSqlite3;
    new Database(':memory:').close(); // the addon itself loads here, not at require
    chosen = { name: 'better-sqlite3', open: (path) => betterSqlite3(Database, path) };
    return chosen;
  } catch (err) {
    addonError = err;
  }
  try {
    const mod = load('node:sqlite') as NodeSqlite;
    chosen = { name: 'node:sqlite', open: (path) => nodeSqlite(mod, path) };
    return chosen;
  } catch (err) {
    throw new Error(`no SQLite driver in Node ${process.version}: better-sqlite3 failed (${(addonError as Error).message.split('\n')[0]}), node:sqlite failed (${(err as Error).message.split('\n')[0]})`, { cause: err });
  }
}

/** Opens (creating if needed) the database at `path`, or a private one for `':memory:'`. */
export function openSqlite(path: string): SqliteDatabase {
  return choose().open(path);
}

/** The driver this process uses (chooses it if no database was opened yet). */
export function sqliteDriverName(): SqliteDriverName {
  return choose().name;
}
