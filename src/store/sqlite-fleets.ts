/**
 * SQLite part of {@link Store} for fleets, the audit log and client compatibility records
 * (schema version 2), composed into the store object by `sqlite-store.ts`.
 *
 * What:
 * - `fleets`: one row per fleet; `meta.fleets_version` is a counter bumped in the same
 *   transaction as every `saveFleet`, so a running server can poll one cheap row to notice a
 *   change made by the CLI in another process.
 * - `audit`: an append-only, hash-chained log. Each record's `hash` is SHA-256 (hex) over
 *   {@link auditPreimage}: seq, time in ms, actor, action, subject, the canonical JSON of
 *   `details` (keys sorted by UTF-16 code units, no whitespace, as RFC 8785) and the previous
 *   record's hash; the first record links to 64 zeros. Appends run in BEGIN IMMEDIATE, so two
 *   processes (server and CLI) appending at once still build one linear chain.
 *   {@link verifyAuditChain} recomputes every hash and link without touching the database.
 * - `caps_fetches` and `clients`: which address fetched GetCACaps for a fleet, and what each
 *   client (fleet + CSR subject) actually sent; `clients()` joins the two by address.
 *
 * NOTE: triggers refuse UPDATE and DELETE on `audit`, and any INSERT that is not the next seq
 * linked to the last hash (so INSERT OR REPLACE cannot overwrite either). That stops mistakes
 * and tampering through SQL alone. Someone with write access to the file can still drop the
 * triggers or rewrite the file; the hash chain is what detects that. It cannot detect removal
 * of the newest records (truncation) or a wholesale rewrite with recomputed hashes: anchoring
 * the latest hash elsewhere (a log shipper, a signed export) is out of scope here.
 *
 * Left out: pruning or rotation of the audit log, deleting fleets, signatures over the chain.
 * @module
 */
import { createHash } from 'node:crypto';
import type { Row, SqliteDatabase } from './sqlite-driver.ts';
import type { AuditInput, AuditRecord, ClientObservation, ClientRecord, FleetRecord, Store } from './store.ts';

/**
 * Schema version 1 → 2: new tables, and two columns on `certificates` (which fleet a
 * certificate was issued for, the issuing CA's key type). Rows written by version 1 read fleet
 * 'default' and no CA key type. NOTE: ALTER TABLE has no IF NOT EXISTS, so this runs exactly
 * once per file, under migrate()'s `user_version < 2` guard in the same transaction.
 */
export const SCHEMA_V2 = `
ALTER TABLE certificates ADD COLUMN fleet TEXT NOT NULL DEFAULT 'default';
ALTER TABLE certificates ADD COLUMN ca_key_type TEXT;
CREATE INDEX IF NOT EXISTS certificates_fleet ON certificates (fleet, status);
CREATE TABLE IF NOT EXISTS fleets (
  name              TEXT PRIMARY KEY,
  profile           TEXT NOT NULL,
  previous_profile  TEXT,
  next_profile      TEXT,
  next_announce_at  INTEGER,                   -- ms since epoch
  next_effective_at INTEGER,
  updated_at        INTEGER NOT NULL,
  CHECK ((next_profile IS NULL) = (next_announce_at IS NULL)
     AND (next_profile IS NULL) = (next_effective_at IS NULL))
);
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('fleets_version', 0);
CREATE TABLE IF NOT EXISTS audit (
  seq       INTEGER PRIMARY KEY,               -- 1, 2, 3, ... without gaps
  at        INTEGER NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  subject   TEXT NOT NULL,
  details   TEXT,                              -- canonical JSON, NULL when absent
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
-- NOTE: INSERT OR REPLACE deletes without firing delete triggers (recursive_triggers is off),
-- so inserts must also go at the tail: the next seq, linked to the last hash.
CREATE TRIGGER IF NOT EXISTS audit_tail_only BEFORE INSERT ON audit
WHEN NEW.seq IS NOT COALESCE((SELECT max(seq) FROM audit), 0) + 1
  OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM audit ORDER BY seq DESC LIMIT 1), '${'0'.repeat(64)}')
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: next seq, linked to the last hash'); END;
CREATE TABLE IF NOT EXISTS caps_fetches (
  fleet   TEXT NOT NULL,
  address TEXT NOT NULL,
  last_at INTEGER NOT NULL,
  PRIMARY KEY (fleet, address)
);
CREATE TABLE IF NOT EXISTS clients (
  fleet               TEXT NOT NULL,
  subject             TEXT NOT NULL,
  address             TEXT,
  first_seen          INTEGER NOT NULL,
  last_seen           INTEGER NOT NULL,
  method              TEXT NOT NULL,
  key_algorithm       TEXT,
  signature_algorithm TEXT,
  digest              TEXT,
  cipher              TEXT,
  envelope            TEXT,
  reply_kem           INTEGER NOT NULL,        -- 0 or 1
  max_request_bytes   INTEGER NOT NULL,
  enrollments         INTEGER NOT NULL,
  renewals            INTEGER NOT NULL,
  last_outcome        TEXT NOT NULL,
  PRIMARY KEY (fleet, subject)
);
`;

/** The methods this file adds to the store. */
export type FleetMethods = Pick<Store, 'fleets' | 'fleet' | 'saveFleet' | 'fleetsVersion' |
  'appendAudit' | 'audit' | 'recordCapsFetch' | 'recordClient' | 'clients'>;

export type AuditVerification = { ok: true } | { ok: false; seq: number; reason: string };

/** `prev_hash` of the first audit record. */
export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted by UTF-16 code units and no whitespace (RFC 8785 ordering). */
function canonicalJson(value: unknown, path: readonly object[] = []): string | undefined {
  const v = typeof (value as { toJSON?: unknown } | null)?.toJSON === 'function'
    ? (value as { toJSON(): unknown }).toJSON() : value;
  if (typeof v === 'bigint') throw new TypeError('audit details: BigInt is not JSON');
  if (v === null || typeof v !== 'object') return JSON.stringify(v); // undefined for undefined/functions
  if (path.includes(v)) throw new TypeError('audit details: circular structure');
  const inner = [...path, v];
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x, inner) ?? 'null').join(',')}]`;
  const members = Object.keys(v).sort().flatMap((k) => {
    const s = canonicalJson((v as Record<string, unknown>)[k], inner);
    return s === undefined ? [] : [`${JSON.stringify(k)}:${s}`];
  });
  return `{${members.join(',')}}`;
}

const detailsJson = (details: AuditInput['details']): string | null =>
  details === undefined ? null : canonicalJson(details) ?? null;

/**
 * The exact bytes (as a string, hashed as UTF-8) an audit hash covers: a JSON array, so every
 * field is unambiguously delimited, tagged with the encoding version.
 */
function auditPreimage(r: Omit<AuditRecord, 'hash'>): string {
  return JSON.stringify(['pqscep-audit-v1', r.seq, r.at.getTime(), r.actor, r.action, r.subject,
    detailsJson(r.details), r.prevHash]);
}

const auditHash = (r: Omit<AuditRecord, 'hash'>): string =>
  createHash('sha256').update(auditPreimage(r), 'utf8').digest('hex');

/**
 * Recomputes every hash and link of an audit log read from seq 1 (as `store.audit()` returns
 * it) and reports the first record that does not fit. Pure: no database access.
 */
export function verifyAuditChain(records: readonly AuditRecord[]): AuditVerification {
  let prevHash = GENESIS_HASH;
  let expected = 1;
  for (const r of records) {
    if (r.seq !== expected) return { ok: false, seq: r.seq, reason: `sequence gap: expected seq ${expected}` };
    if (r.prevHash !== prevHash) {
      return { ok: false, seq: r.seq, reason: expected === 1
        ? 'prev_hash of the first record is not 64 zeros'
        : `prev_hash does not match the hash of seq ${expected - 1}` };
    }
    if (auditHash(r) !== r.hash) return { ok: false, seq: r.seq, reason: 'hash does not match the record content' };
    prevHash = r.hash;
    expected++;
  }
  return { ok: true };
}

const date = (ms: unknown): Date => new Date(ms as number);
const opt = <K extends string>(key: K, v: unknown) =>
  (v == null ? {} : { [key]: v as string }) as { [P in K]?: string };

function toFleet(r: Row): FleetRecord {
  return {
    name: r.name as string,
    profile: r.profile as string,
    ...opt('previousProfile', r.previous_profile),
    ...(r.next_profile != null && { next: {
      profile: r.next_profile as string,
      announceAt: date(r.next_announce_at),
      effectiveAt: date(r.next_effective_at),
    } }),
    updatedAt: date(r.updated_at),
  };
}

function toAudit(r: Row): AuditRecord {
  return {
    seq: r.seq as number,
    at: date(r.at),
    actor: r.actor as string,
    action: r.action as string,
    subject: r.subject as string,
    ...(r.details != null && { details: JSON.parse(r.details as string) as Record<string, unknown> }),
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  };
}

function toClient(r: Row): ClientRecord {
  return {
    fleet: r.fleet as string,
    subject: r.subject as string,
    ...opt('address', r.address),
    firstSeen: date(r.first_seen),
    lastSeen: date(r.last_seen),
    capsFetched: r.caps_fetched === 1,
    method: r.method as string,
    ...opt('keyAlgorithm', r.key_algorithm),
    ...opt('signatureAlgorithm', r.signature_algorithm),
    ...opt('digest', r.digest),
    ...opt('cipher', r.cipher),
    ...opt('envelope', r.envelope),
    replyKem: r.reply_kem === 1,
    maxRequestBytes: r.max_request_bytes as number,
    enrollments: r.enrollments as number,
    renewals: r.renewals as number,
    lastOutcome: r.last_outcome as string,
  };
}

/** The fleet, audit and client methods over an open database already migrated to version 2. */
/**
 * The audit append that runs inside the caller's BEGIN IMMEDIATE transaction, so an audit
 * record commits (or rolls back) together with the change it describes, and reading the tail
 * and inserting cannot interleave with another process.
 */
export function auditAppender(db: SqliteDatabase): (entry: AuditInput) => AuditRecord {
  const q = {
    lastAudit: db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'),
    insertAudit: db.prepare(`INSERT INTO audit (seq, at, actor, action, subject, details,
      prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
  };
  return (entry: AuditInput): AuditRecord => {
    const last = q.lastAudit.get() as { seq: number; hash: string } | undefined;
    const details = detailsJson(entry.details);
    const record = {
      seq: (last?.seq ?? 0) + 1,
      at: new Date(),
      actor: entry.actor,
      action: entry.action,
      subject: entry.subject,
      // What audit() will read back: the canonical form, not the caller's object.
      ...(details !== null && { details: JSON.parse(details) as Record<string, unknown> }),
      prevHash: last?.hash ?? GENESIS_HASH,
    };
    const hash = auditHash(record);
    q.insertAudit.run(record.seq, record.at.getTime(), record.actor, record.action, record.subject,
      details, record.prevHash, hash);
    return { ...record, hash };
  };
}

export function sqliteFleets(db: SqliteDatabase): FleetMethods {
  const q = {
    fleets: db.prepare('SELECT * FROM fleets ORDER BY name'),
    fleet: db.prepare('SELECT * FROM fleets WHERE name = ?'),
    saveFleet: db.prepare(`INSERT INTO fleets (name, profile, previous_profile, next_profile,
      next_announce_at, next_effective_at, updated_at) VALUES (@name, @profile, @previousProfile,
      @nextProfile, @nextAnnounceAt, @nextEffectiveAt, @updatedAt)
      ON CONFLICT (name) DO UPDATE SET profile = excluded.profile,
      previous_profile = excluded.previous_profile, next_profile = excluded.next_profile,
      next_announce_at = excluded.next_announce_at, next_effective_at = excluded.next_effective_at,
      updated_at = excluded.updated_at`),
    bumpVersion: db.prepare(`UPDATE meta SET value = value + 1 WHERE key = 'fleets_version'`),
    version: db.prepare(`SELECT value FROM meta WHERE key = 'fleets_version'`),
    audit: db.prepare('SELECT * FROM audit WHERE seq >= ? ORDER BY seq'),
    capsFetch: db.prepare(`INSERT INTO caps_fetches (fleet, address, last_at) VALUES (?, ?, ?)
      ON CONFLICT (fleet, address) DO UPDATE SET last_at = max(last_at, excluded.last_at)`),
    // first_seen is kept; last_seen = max so a late commit of an older observation cannot move
    // it back; the counters add up; every other field is the latest observation's.
    recordClient: db.prepare(`INSERT INTO clients (fleet, subject, address, first_seen, last_seen,
      method, key_algorithm, signature_algorithm, digest, cipher, envelope, reply_kem,
      max_request_bytes, enrollments, renewals, last_outcome) VALUES (@fleet, @subject, @address,
      @at, @at, @method, @keyAlgorithm, @signatureAlgorithm, @digest, @cipher, @envelope,
      @replyKem, @requestBytes, @enrollment, @renewal, @lastOutcome)
      ON CONFLICT (fleet, subject) DO UPDATE SET address = excluded.address,
      last_seen = max(last_seen, excluded.last_seen), method = excluded.method,
      key_algorithm = excluded.key_algorithm, signature_algorithm = excluded.signature_algorithm,
      digest = excluded.digest, cipher = excluded.cipher, envelope = excluded.envelope,
      reply_kem = excluded.reply_kem,
      max_request_bytes = max(max_request_bytes, excluded.max_request_bytes),
      enrollments = enrollments + excluded.enrollments, renewals = renewals + excluded.renewals,
      last_outcome = excluded.last_outcome`),
    clients: db.prepare(`SELECT c.*, EXISTS (SELECT 1 FROM caps_fetches f
      WHERE f.fleet = c.fleet AND f.address = c.address) AS caps_fetched
      FROM clients c WHERE (@fleet IS NULL OR c.fleet = @fleet) ORDER BY c.fleet, c.subject`),
  };

  const append = auditAppender(db);
  const appendAudit = db.transaction(append);
  const saveFleet = db.transaction((f: FleetRecord, entry: AuditInput) => {
    q.saveFleet.run({
      name: f.name,
      profile: f.profile,
      previousProfile: f.previousProfile ?? null,
      nextProfile: f.next?.profile ?? null,
      nextAnnounceAt: f.next?.announceAt.getTime() ?? null,
      nextEffectiveAt: f.next?.effectiveAt.getTime() ?? null,
      updatedAt: f.updatedAt.getTime(),
    });
    q.bumpVersion.run();
    append(entry);
  });

  return {
    fleets: () => q.fleets.all().map(toFleet),
    fleet: (name) => {
      const row = q.fleet.get(name);
      return row && toFleet(row);
    },
    saveFleet: (record, entry) => saveFleet(record, entry),
    fleetsVersion: () => (q.version.get() as { value: number }).value,
    appendAudit: (entry) => appendAudit(entry),
    audit: (fromSeq = 1) => q.audit.all(fromSeq).map(toAudit),
    recordCapsFetch: (fleet, address, at) => void q.capsFetch.run(fleet, address, at.getTime()),
    recordClient: (o: ClientObservation) => void q.recordClient.run({
      fleet: o.fleet,
      subject: o.subject,
      address: o.address ?? null,
      at: o.at.getTime(),
      method: o.method,
      keyAlgorithm: o.keyAlgorithm ?? null,
      signatureAlgorithm: o.signatureAlgorithm ?? null,
      digest: o.digest ?? null,
      cipher: o.cipher ?? null,
      envelope: o.envelope ?? null,
      replyKem: o.replyKem ? 1 : 0,
      requestBytes: o.requestBytes,
      enrollment: o.messageType === 'PKCSReq' ? 1 : 0, // RFC 8894 §3.3.1
      renewal: o.messageType === 'RenewalReq' ? 1 : 0, // RFC 8894 §3.3.1.2
      lastOutcome: o.lastOutcome,
    }),
    clients: (fleet) => q.clients.all({ fleet: fleet ?? null }).map(toClient),
  };
}
