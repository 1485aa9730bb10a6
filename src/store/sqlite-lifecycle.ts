/**
 * SQLite part of {@link Store} for enrollment authorization (schema version 3), composed into
 * the store object by `sqlite-store.ts`: one-time and static challenges, stored as SHA-256
 * hashes only (a challenge is 128 random bits, so a plain hash is enough to make a stolen
 * database useless for enrolling), and the fleet a pending request belongs to.
 *
 * Why one UPDATE for `useChallenge`: "unused and unexpired" is checked and the use recorded in
 * one statement inside BEGIN IMMEDIATE, so two requests racing with one challenge (in one
 * process or two) cannot both win. A resend of the same enrollment (same transactionID and
 * same CSR key, RFC 8894 §3.3.3) may present the challenge again.
 *
 * Left out: pruning expired and used challenges (they are the evidence audit records refer to).
 * @module
 */
import type { Row, SqliteDatabase } from './sqlite-driver.ts';
import type { AuditInput, AuditRecord, ChallengeRecord, Store } from './store.ts';

/** Schema version 2 → 3: the challenges table, and `pending.fleet`. Runs once, under migrate()'s guard. */
export const SCHEMA_V3 = `
CREATE TABLE IF NOT EXISTS challenges (
  hash             TEXT PRIMARY KEY,          -- SHA-256 hex of the challenge
  kind             TEXT NOT NULL CHECK (kind IN ('one-time', 'static')),
  fleet            TEXT NOT NULL,
  subject_pattern  TEXT,
  created_at       INTEGER NOT NULL,
  expires_at       INTEGER,                   -- NULL: never
  used_at          INTEGER,
  used_transaction TEXT,
  used_key         TEXT,                      -- SHA-256 hex of the CSR's SubjectPublicKeyInfo
  CHECK ((used_at IS NULL) = (used_transaction IS NULL))
);
CREATE INDEX IF NOT EXISTS challenges_fleet ON challenges (fleet, kind, created_at);
ALTER TABLE pending ADD COLUMN fleet TEXT NOT NULL DEFAULT 'default';
CREATE INDEX IF NOT EXISTS certificates_subject ON certificates (fleet, subject, status);
`;

type LifecycleMethods = Pick<Store, 'addChallenges' | 'challenge' | 'challenges' | 'useChallenge' | 'rotateStaticChallenge'>;

function toChallenge(r: Row): ChallengeRecord {
  return {
    hash: r.hash as string,
    kind: r.kind as ChallengeRecord['kind'],
    fleet: r.fleet as string,
    ...(r.subject_pattern != null && { subjectPattern: r.subject_pattern as string }),
    createdAt: new Date(r.created_at as number),
    ...(r.expires_at != null && { expiresAt: new Date(r.expires_at as number) }),
    ...(r.used_at != null && { usedAt: new Date(r.used_at as number) }),
    ...(r.used_transaction != null && { usedBy: { transactionId: r.used_transaction as string, keyHash: r.used_key as string } }),
  };
}

export function sqliteLifecycle(db: SqliteDatabase, append: (entry: AuditInput) => AuditRecord): LifecycleMethods {
  const q = {
    insert: db.prepare(`INSERT INTO challenges (hash, kind, fleet, subject_pattern, created_at,
      expires_at) VALUES (?, ?, ?, ?, ?, ?)`),
    get: db.prepare('SELECT * FROM challenges WHERE hash = ?'),
    list: db.prepare(`SELECT * FROM challenges WHERE fleet = @fleet AND (@kind IS NULL OR kind = @kind)
      ORDER BY created_at DESC, rowid DESC`),
    use: db.prepare(`UPDATE challenges SET used_at = COALESCE(used_at, @at),
      used_transaction = @transactionId, used_key = @keyHash
      WHERE hash = @hash AND kind = 'one-time' AND (expires_at IS NULL OR expires_at > @at)
      AND (used_at IS NULL OR (used_transaction = @transactionId AND used_key = @keyHash))`),
    retire: db.prepare(`UPDATE challenges SET expires_at = @retireAt WHERE fleet = @fleet
      AND kind = 'static' AND (expires_at IS NULL OR expires_at > @retireAt)`),
  };
  const insert = (c: ChallengeRecord) =>
    q.insert.run(c.hash, c.kind, c.fleet, c.subjectPattern ?? null, c.createdAt.getTime(), c.expiresAt?.getTime() ?? null);

  const add = db.transaction((records: readonly ChallengeRecord[], audit: AuditInput) => {
    for (const c of records) insert(c);
    append(audit);
  });
  const use = db.transaction((hash: string, u: { transactionId: string; keyHash: string; at: Date }, audit: AuditInput) => {
    const won = q.use.run({ hash, transactionId: u.transactionId, keyHash: u.keyHash, at: u.at.getTime() }).changes === 1;
    if (won) append(audit);
    return won;
  });
  const rotate = db.transaction((fleet: string, replacement: ChallengeRecord, retireAt: Date, audit: AuditInput) => {
    q.retire.run({ fleet, retireAt: retireAt.getTime() });
    insert(replacement);
    append(audit);
  });

  return {
    addChallenges: (records, audit) => add(records, audit),
    challenge: (hash) => {
      const row = q.get.get(hash);
      return row && toChallenge(row);
    },
    challenges: (fleet, kind) => q.list.all({ fleet, kind: kind ?? null }).map(toChallenge),
    useChallenge: (hash, u, audit) => use(hash, u, audit),
    rotateStaticChallenge: (fleet, replacement, retireAt, audit) => rotate(fleet, replacement, retireAt, audit),
  };
}
