/**
 * SQLite implementation of {@link Store} (synchronous; better-sqlite3 or node:sqlite through
 * `sqlite-driver.ts`, whichever this Node can load).
 *
 * What: certificates, answered transactions, pending requests and CRL numbers in one SQLite file
 * (or `':memory:'`); fleets, the audit log and client records come from `sqlite-fleets.ts`
 * (schema version 2), challenges from `sqlite-lifecycle.ts` (version 3), the fleet of each
 * transaction from `sqlite-schema-v4.ts` (version 4). The schema version lives in `PRAGMA
 * user_version` so later releases can migrate step by step; a file written by a newer schema, or
 * not by pqscep, is refused rather than guessed at (`sqlite-open.ts`).
 *
 * Why: the server must only acknowledge a reply once its rows are durable, and the CLI may open
 * the same file from another process while the server runs. Hence `journal_mode = WAL`,
 * `synchronous = FULL` (each commit is fsynced before returning), a `busy_timeout`, and every
 * read-then-write runs in a `BEGIN IMMEDIATE` transaction so two processes cannot interleave.
 *
 * Choices worth knowing:
 * - Dates are stored as INTEGER milliseconds since the epoch: exact round-trip, cheap ordering.
 * - A duplicate `(fleet, request_hash)` is ignored (`INSERT OR IGNORE`): a fleet's first answer
 *   for an exact request body wins, which is what a replay to that fleet must get back (RFC 8894
 *   §3.3.1); the same body sent to another fleet is recorded there on its own. In
 *   `recordIssuance` the certificate insert is still a plain INSERT, so a duplicate serial
 *   raises {@link SerialCollisionError} and the whole transaction rolls back; a certificate that
 *   was signed for a racing duplicate request is kept (it exists, so it must be inventoried).
 * - `recordIssuance(..., pendingId)` requires that request to be open ('pending' or 'approved');
 *   otherwise (unknown, rejected, already issued) it throws and nothing is written.
 * - `addPending` returns the fleet's existing open request of that transactionId instead of
 *   adding a second one; a partial UNIQUE index (fleet, transactionId) enforces the rule even
 *   across processes. One key enrolled in two fleets has one transactionID in both.
 * - `pendingByTransaction` prefers the fleet's open request, else its most recent one.
 *
 * Left out: pruning of old transactions, encryption at rest, and any async API (calls block;
 * they are short and local).
 * @module
 */
import { UniqueConstraintError, type Row, type SqliteDatabase } from './sqlite-driver.ts';
import { newerSchema, openPqscepFile } from './sqlite-open.ts';
export { StoreOpenError } from './sqlite-open.ts';
import { auditAppender, SCHEMA_V2, sqliteFleets } from './sqlite-fleets.ts';
import { SCHEMA_V3, sqliteLifecycle } from './sqlite-lifecycle.ts';
import { SCHEMA_V4 } from './sqlite-schema-v4.ts';
import { SerialCollisionError } from './store.ts';
import type { AuditInput, CertificateRecord, CertificateStatus, IssuanceEffects, PendingRequest, PendingStatus,
  RevokedEntry, Store, TransactionRecord } from './store.ts';

const SCHEMA_VERSION = 4;

/** Version 1: certificates, transactions, pending requests, CRL numbers (version 4 rebuilds `transactions`). */
export const SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS certificates (
  serial              TEXT PRIMARY KEY,
  subject             TEXT NOT NULL,
  sans                TEXT NOT NULL,            -- JSON array of "DNS:x", "IP:x", ...
  not_before          INTEGER NOT NULL,         -- ms since epoch
  not_after           INTEGER NOT NULL,
  key_algorithm       TEXT NOT NULL,
  signature_algorithm TEXT NOT NULL,
  issuer              TEXT NOT NULL,            -- SHA-256 hex of the CA certificate
  transaction_id      TEXT NOT NULL,
  status              TEXT NOT NULL CHECK (status IN ('valid', 'revoked')),
  revoked_at          INTEGER,
  revocation_reason   TEXT,
  der                 BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS certificates_transaction ON certificates (transaction_id);
CREATE INDEX IF NOT EXISTS certificates_issuer ON certificates (issuer, status);
CREATE TABLE IF NOT EXISTS transactions (
  id             INTEGER PRIMARY KEY,
  transaction_id TEXT NOT NULL,
  request_hash   TEXT NOT NULL UNIQUE,
  message_type   TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('SUCCESS', 'FAILURE', 'PENDING')),
  reply          BLOB NOT NULL,
  cert_serial    TEXT,
  created_at     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS transactions_transaction ON transactions (transaction_id);
CREATE TABLE IF NOT EXISTS pending (
  id             TEXT PRIMARY KEY,
  transaction_id TEXT NOT NULL,
  subject        TEXT NOT NULL,
  csr            BLOB NOT NULL,
  signer_cert    BLOB NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'issued')),
  reason         TEXT,
  cert_serial    TEXT,
  created_at     INTEGER NOT NULL,
  decided_at     INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS pending_open ON pending (transaction_id)
  WHERE status IN ('pending', 'approved');
CREATE TABLE IF NOT EXISTS crl_numbers (
  issuer TEXT PRIMARY KEY,
  "next" INTEGER NOT NULL                       -- the number the next call hands out
);
`;

/** better-sqlite3 returns Buffer, node:sqlite Uint8Array; hand out plain Uint8Array views. */
const bytes = (b: unknown): Uint8Array =>
  new Uint8Array((b as Buffer).buffer, (b as Buffer).byteOffset, (b as Buffer).byteLength);
const date = (ms: unknown): Date => new Date(ms as number);

function toCertificate(r: Row): CertificateRecord {
  return {
    serial: r.serial as string,
    subject: r.subject as string,
    sans: JSON.parse(r.sans as string) as string[],
    notBefore: date(r.not_before),
    notAfter: date(r.not_after),
    keyAlgorithm: r.key_algorithm as string,
    signatureAlgorithm: r.signature_algorithm as string,
    issuer: r.issuer as string,
    transactionId: r.transaction_id as string,
    fleet: r.fleet as string,
    ...(r.ca_key_type != null && { caKeyType: r.ca_key_type as string }),
    status: r.status as CertificateStatus,
    ...(r.revoked_at != null && { revokedAt: date(r.revoked_at) }),
    ...(r.revocation_reason != null && { revocationReason: r.revocation_reason as string }),
    der: bytes(r.der),
  };
}

function toTransaction(r: Row): TransactionRecord {
  return {
    transactionId: r.transaction_id as string,
    fleet: r.fleet as string,
    requestHash: r.request_hash as string,
    messageType: r.message_type as string,
    status: r.status as TransactionRecord['status'],
    reply: bytes(r.reply),
    ...(r.cert_serial != null && { certSerial: r.cert_serial as string }),
    createdAt: date(r.created_at),
  };
}

function toPending(r: Row): PendingRequest {
  return {
    id: r.id as string,
    transactionId: r.transaction_id as string,
    fleet: (r.fleet as string | undefined) ?? 'default',
    subject: r.subject as string,
    csr: bytes(r.csr),
    signerCert: bytes(r.signer_cert),
    status: r.status as PendingStatus,
    ...(r.reason != null && { reason: r.reason as string }),
    ...(r.cert_serial != null && { certSerial: r.cert_serial as string }),
    createdAt: date(r.created_at),
    ...(r.decided_at != null && { decidedAt: date(r.decided_at) }),
  };
}

function migrate(db: SqliteDatabase): void {
  db.transaction(() => {
    const version = db.getPragma('user_version') as number;
    if (version > SCHEMA_VERSION) {
      throw newerSchema(version, SCHEMA_VERSION);
    }
    if (version < 1) db.exec(SCHEMA_V1);
    if (version < 2) db.exec(SCHEMA_V2); // adds tables, and two certificate columns
    if (version < 3) db.exec(SCHEMA_V3); // challenges, pending.fleet
    if (version < 4) db.exec(SCHEMA_V4); // transactions.fleet; replays and open pending requests per fleet
    db.setPragma('user_version', SCHEMA_VERSION);
  })();
}

/** Opens (creating if needed) the SQLite store at `path`; `':memory:'` gives a private store. */
export function openSqliteStore(path: string): Store {
  const db = openPqscepFile(path, SCHEMA_VERSION, (d) => {
    d.setPragma('journal_mode', 'WAL'); // ':memory:' stays 'memory', which is fine
    d.setPragma('synchronous', 'FULL');
    migrate(d);
  });

  const q = {
    insertCert: db.prepare(`INSERT INTO certificates (serial, subject, sans, not_before, not_after,
      key_algorithm, signature_algorithm, issuer, transaction_id, fleet, ca_key_type, status,
      revoked_at, revocation_reason, der) VALUES (@serial, @subject, @sans, @notBefore, @notAfter,
      @keyAlgorithm, @signatureAlgorithm, @issuer, @transactionId, @fleet, @caKeyType, @status,
      @revokedAt, @revocationReason, @der)`),
    insertTx: db.prepare(`INSERT OR IGNORE INTO transactions (transaction_id, fleet, request_hash,
      message_type, status, reply, cert_serial, created_at) VALUES (@transactionId, @fleet, @requestHash,
      @messageType, @status, @reply, @certSerial, @createdAt)`),
    markIssued: db.prepare(`UPDATE pending SET status = 'issued', cert_serial = ?,
      decided_at = COALESCE(decided_at, ?) WHERE id = ? AND status IN ('pending', 'approved')`),
    txByHash: db.prepare('SELECT * FROM transactions WHERE fleet = ? AND request_hash = ?'),
    latestTx: db.prepare(`SELECT * FROM transactions WHERE transaction_id = ?
      ORDER BY created_at DESC, id DESC LIMIT 1`),
    cert: db.prepare('SELECT * FROM certificates WHERE serial = ?'),
    certsByTx: db.prepare(`SELECT * FROM certificates WHERE transaction_id = ?
      ORDER BY not_before DESC, rowid DESC`),
    listCerts: db.prepare(`SELECT * FROM certificates WHERE (@status IS NULL OR status = @status)
      AND (@issuer IS NULL OR issuer = @issuer) AND (@fleet IS NULL OR fleet = @fleet)
      ORDER BY not_before, rowid`),
    revoke: db.prepare(`UPDATE certificates SET status = 'revoked', revoked_at = ?,
      revocation_reason = ? WHERE serial = ? AND status = 'valid'`),
    revoked: db.prepare(`SELECT serial, revoked_at, revocation_reason FROM certificates
      WHERE issuer = ? AND status = 'revoked' ORDER BY revoked_at, serial`),
    openPending: db.prepare(`SELECT * FROM pending WHERE fleet = ? AND transaction_id = ?
      AND status IN ('pending', 'approved')`),
    insertPending: db.prepare(`INSERT INTO pending (id, transaction_id, fleet, subject, csr, signer_cert,
      status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)`),
    pendingByTx: db.prepare(`SELECT * FROM pending WHERE fleet = ? AND transaction_id = ?
      ORDER BY status IN ('pending', 'approved') DESC, created_at DESC, rowid DESC LIMIT 1`),
    pending: db.prepare('SELECT * FROM pending WHERE id = ?'),
    listPending: db.prepare(`SELECT * FROM pending WHERE (@status IS NULL OR status = @status)
      AND (@fleet IS NULL OR fleet = @fleet) ORDER BY created_at, rowid`),
    active: db.prepare(`SELECT * FROM certificates WHERE fleet = ? AND subject = ? AND status = 'valid'
      AND not_after >= ? ORDER BY not_before, rowid`),
    decide: db.prepare(`UPDATE pending SET status = ?, reason = ?, decided_at = ?
      WHERE id = ? AND status = 'pending'`),
    nextCrl: db.prepare(`INSERT INTO crl_numbers (issuer, "next") VALUES (?, 2)
      ON CONFLICT (issuer) DO UPDATE SET "next" = "next" + 1 RETURNING "next" - 1 AS n`),
  };

  const txParams = (t: TransactionRecord) =>
    ({ ...t, certSerial: t.certSerial ?? null, createdAt: t.createdAt.getTime() });

  const append = auditAppender(db);
  const issue = db.transaction((c: CertificateRecord, t: TransactionRecord, pendingId?: string, effects?: IssuanceEffects) => {
    try {
      q.insertCert.run({
        ...c,
        sans: JSON.stringify(c.sans),
        notBefore: c.notBefore.getTime(),
        notAfter: c.notAfter.getTime(),
        caKeyType: c.caKeyType ?? null,
        revokedAt: c.revokedAt?.getTime() ?? null,
        revocationReason: c.revocationReason ?? null,
      });
    } catch (err) {
      if (err instanceof UniqueConstraintError) {
        throw new SerialCollisionError(`certificate serial ${c.serial} already issued`, { cause: err });
      }
      throw err;
    }
    q.insertTx.run(txParams(t));
    if (pendingId !== undefined &&
        q.markIssued.run(c.serial, t.createdAt.getTime(), pendingId).changes !== 1) {
      throw new Error(`pending request ${pendingId} is not open; issuance not recorded`);
    }
    // revoke-on-replace: the replaced certificate may have been revoked meanwhile; that is fine.
    if (effects?.revoke) q.revoke.run(t.createdAt.getTime(), effects.revoke.reason, effects.revoke.serial);
    for (const entry of effects?.audit ?? []) append(entry);
  });
  const withAudit = <A extends unknown[], R>(fn: (...a: A) => R, wrote: (r: R) => boolean) =>
    db.transaction((audit: AuditInput | undefined, ...a: A): R => {
      const result = fn(...a);
      if (audit && wrote(result)) append(audit);
      return result;
    });
  const recordTx = withAudit((t: TransactionRecord) => q.insertTx.run(txParams(t)).changes, (n) => n === 1);
  const revoke = withAudit((serial: string, reason: string | undefined, at: Date) =>
    q.revoke.run(at.getTime(), reason ?? null, serial).changes === 1, (ok) => ok);
  const decide = withAudit((id: string, decision: string, reason: string | undefined, at: Date) =>
    q.decide.run(decision, reason ?? null, at.getTime(), id).changes === 1, (ok) => ok);

  const addPending = db.transaction((r: Parameters<Store['addPending']>[0], audit?: AuditInput): PendingRequest => {
    const open = q.openPending.get(r.fleet ?? 'default', r.transactionId) as Row | undefined;
    if (open) return toPending(open);
    q.insertPending.run(r.id, r.transactionId, r.fleet ?? 'default', r.subject, r.csr, r.signerCert, r.createdAt.getTime());
    if (audit) append(audit);
    return toPending(q.pending.get(r.id) as Row);
  });

  const all = <T>(rows: unknown[], map: (r: Row) => T): T[] => (rows as Row[]).map(map);
  const one = <T>(row: unknown, map: (r: Row) => T): T | undefined =>
    row === undefined ? undefined : map(row as Row);

  return {
    recordIssuance: (cert, transaction, pendingId, effects) => issue(cert, transaction, pendingId, effects),
    recordTransaction: (t, audit) => void (audit ? recordTx(audit, t) : q.insertTx.run(txParams(t))),
    batch: (fn) => db.transaction(fn)(),
    transactionByRequestHash: (fleet, h) => one(q.txByHash.get(fleet, h), toTransaction),
    latestTransaction: (id) => one(q.latestTx.get(id), toTransaction),
    certificate: (serial) => one(q.cert.get(serial), toCertificate),
    certificatesByTransaction: (id) => all(q.certsByTx.all(id), toCertificate),
    listCertificates: (f) =>
      all(q.listCerts.all({ status: f?.status ?? null, issuer: f?.issuer ?? null, fleet: f?.fleet ?? null }), toCertificate),
    activeCertificates: (fleet, subject, at) => all(q.active.all(fleet, subject, at.getTime()), toCertificate),
    revoke: (serial, reason, at, audit) => revoke(audit, serial, reason, at),
    revoked: (issuer): RevokedEntry[] =>
      all(q.revoked.all(issuer), (r) => ({
        serial: r.serial as string,
        revokedAt: date(r.revoked_at),
        ...(r.revocation_reason != null && { reason: r.revocation_reason as string }),
      })),
    addPending: (r, audit) => addPending(r, audit),
    pendingByTransaction: (fleet, id) => one(q.pendingByTx.get(fleet, id), toPending),
    pending: (id) => one(q.pending.get(id), toPending),
    listPending: (status, fleet) => all(q.listPending.all({ status: status ?? null, fleet: fleet ?? null }), toPending),
    decide: (id, decision, reason, at = new Date(), audit) => decide(audit, id, decision, reason, at),
    nextCrlNumber: (issuer) => (q.nextCrl.get(issuer) as { n: number }).n,
    ...sqliteFleets(db),
    ...sqliteLifecycle(db, append),
    close: () => void db.close(),
  };
}
