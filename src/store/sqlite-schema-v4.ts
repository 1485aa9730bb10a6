/**
 * SQLite schema version 3 → 4: answered transactions belong to a fleet, and an exact replay is
 * matched per fleet (RFC 8894 §3.3.1: the same request gets the same answer, but the same bytes
 * posted to another fleet's URL are that fleet's request, to be answered by its own CA and
 * checks). The `UNIQUE (request_hash)` of version 1 becomes `UNIQUE (fleet, request_hash)`, so
 * `INSERT OR IGNORE` still keeps the first answer of each fleet.
 *
 * Why a rebuild: the version-1 constraint is written on the column, and SQLite cannot drop a
 * column constraint with ALTER TABLE; so the table is created anew, the rows copied (ids kept,
 * so `latestTransaction`'s order is unchanged), the old table dropped and the new one renamed,
 * then its index recreated. Runs once per file, under migrate()'s `user_version < 4` guard, in
 * the same transaction as the version bump: a failure leaves the file at version 3.
 *
 * Which fleet an existing row gets: the fleet of the certificate it delivered (`cert_serial`,
 * recorded per fleet since version 2), else 'default', the fleet `pending.fleet` was given by
 * version 3. A FAILURE answered by a named fleet before this version is thus filed under
 * 'default': the same bytes sent to that fleet again are answered afresh (by the same checks).
 *
 * Pending requests likewise: a transaction's open request (RFC 8894 §3.3.3) is one per fleet
 * (`pending_open` on fleet and transactionID), since a device enrolling one key in two fleets
 * uses one transactionID (the hash of its key, RFC 8894 §3.2.1.1) in both.
 *
 * Left out: reading the fleet back out of audit records or reply signatures (not exact enough).
 * @module
 */

export const SCHEMA_V4 = `
CREATE TABLE transactions_v4 (
  id             INTEGER PRIMARY KEY,
  transaction_id TEXT NOT NULL,
  fleet          TEXT NOT NULL,
  request_hash   TEXT NOT NULL,
  message_type   TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('SUCCESS', 'FAILURE', 'PENDING')),
  reply          BLOB NOT NULL,
  cert_serial    TEXT,
  created_at     INTEGER NOT NULL,
  UNIQUE (fleet, request_hash)
);
INSERT INTO transactions_v4 (id, transaction_id, fleet, request_hash, message_type, status, reply,
  cert_serial, created_at)
SELECT t.id, t.transaction_id,
  COALESCE((SELECT c.fleet FROM certificates c WHERE c.serial = t.cert_serial), 'default'),
  t.request_hash, t.message_type, t.status, t.reply, t.cert_serial, t.created_at
FROM transactions t ORDER BY t.id;
DROP TABLE transactions;
ALTER TABLE transactions_v4 RENAME TO transactions;
CREATE INDEX transactions_transaction ON transactions (transaction_id);
DROP INDEX pending_open;
CREATE UNIQUE INDEX pending_open ON pending (fleet, transaction_id) WHERE status IN ('pending', 'approved');
`;
