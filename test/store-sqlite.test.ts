import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { openSqliteStore, SCHEMA_V1, StoreOpenError } from '../src/store/sqlite-store.ts';
import { SCHEMA_V2 } from '../src/store/sqlite-fleets.ts';
import { SCHEMA_V3 } from '../src/store/sqlite-lifecycle.ts';
import {
  SerialCollisionError,
  type CertificateRecord,
  type TransactionRecord,
} from '../src/store/store.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const storeModule = path.join(root, 'src/store/sqlite-store.ts');
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pqscep-store-'));

function cert(serial: string, over: Partial<CertificateRecord> = {}): CertificateRecord {
  return {
    serial,
    subject: 'CN=device-1,O=Example',
    sans: ['DNS:device-1.example', 'IP:192.0.2.7'],
    notBefore: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678)),
    notAfter: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 679)),
    keyAlgorithm: 'rsa-2048',
    signatureAlgorithm: 'sha256WithRSAEncryption',
    issuer: 'aa'.repeat(32),
    transactionId: 'tx-1',
    fleet: 'default',
    status: 'valid',
    der: new Uint8Array([0x30, 0x82, 0x01, serial.length, 0xff]),
    ...over,
  };
}

function tx(requestHash: string, over: Partial<TransactionRecord> = {}): TransactionRecord {
  return {
    transactionId: 'tx-1',
    fleet: 'default',
    requestHash,
    messageType: 'PKCSReq',
    status: 'SUCCESS',
    reply: new Uint8Array([0x30, 0x03, 0x02, 0x01, requestHash.length]),
    createdAt: new Date(1_736_000_000_123),
    ...over,
  };
}

const pendingInput = (id: string, transactionId = 'tx-p') => ({
  id,
  transactionId,
  subject: 'CN=pending',
  csr: new Uint8Array([1, 2, 3]),
  signerCert: new Uint8Array([4, 5, 6]),
  createdAt: new Date(1_736_000_000_001),
});

describe('SQLite store: round trips', () => {
  it('certificate record round-trips every field, dates to the millisecond, DER as Uint8Array', () => {
    const s = openSqliteStore(':memory:');
    const c = cert('1a2b', { revokedAt: new Date(1_736_000_000_999), status: 'revoked', revocationReason: 'keyCompromise' });
    s.recordIssuance(c, tx('h1', { certSerial: '1a2b' }));
    const got = s.certificate('1a2b')!;
    expect(got).toEqual(c);
    expect(got.der).toBeInstanceOf(Uint8Array);
    expect(got.notBefore.getTime()).toBe(c.notBefore.getTime());
    expect(s.certificate('ffff')).toBeUndefined();
    s.close();
  });

  it('transaction record round-trips (with and without certSerial)', () => {
    const s = openSqliteStore(':memory:');
    const t1 = tx('h-fail', { status: 'FAILURE' });
    s.recordTransaction(t1);
    expect(s.transactionByRequestHash('default', 'h-fail')).toEqual(t1);
    expect(s.transactionByRequestHash('default', 'h-fail')!.certSerial).toBeUndefined();
    const t2 = tx('h-ok', { certSerial: '01', createdAt: new Date(1_736_000_000_500) });
    s.recordIssuance(cert('01'), t2);
    expect(s.transactionByRequestHash('default', 'h-ok')).toEqual(t2);
    s.close();
  });

  it('pending request round-trips and starts in status pending', () => {
    const s = openSqliteStore(':memory:');
    const p = s.addPending(pendingInput('p1'));
    expect(p).toEqual({ ...pendingInput('p1'), fleet: 'default', status: 'pending' });
    expect(s.pending('p1')).toEqual(p);
    expect(s.pendingByTransaction('default', 'tx-p')).toEqual(p);
    expect(s.pending('nope')).toBeUndefined();
    s.close();
  });

  it('RFC 8894 §3.3.3: one open pending request per fleet and transaction (one key in two fleets has one transactionID)', () => {
    const s = openSqliteStore(':memory:');
    const here = s.addPending({ ...pendingInput('here'), fleet: 'default' });
    const there = s.addPending({ ...pendingInput('there'), fleet: 'routers' });
    expect([here.id, there.id]).toEqual(['here', 'there']);
    expect(s.addPending({ ...pendingInput('again'), fleet: 'routers' }).id).toBe('there'); // still one open per fleet
    expect(s.pendingByTransaction('default', 'tx-p')!.id).toBe('here');
    expect(s.pendingByTransaction('routers', 'tx-p')!.id).toBe('there');
    expect(s.pendingByTransaction('printers', 'tx-p')).toBeUndefined();
    s.close();
  });

  it('RFC 8894 §3.3.1 replay: transactionByRequestHash returns the stored reply', () => {
    const s = openSqliteStore(':memory:');
    const t = tx('replay-hash', { certSerial: '0abc' });
    s.recordIssuance(cert('0abc'), t);
    const again = s.transactionByRequestHash('default', 'replay-hash')!;
    expect(again.reply).toEqual(t.reply);
    expect(again.certSerial).toBe('0abc');
    expect(s.transactionByRequestHash('default', 'other-hash')).toBeUndefined();
    s.close();
  });

  it('duplicate request hash: the first answer wins, the second transaction row is ignored', () => {
    const s = openSqliteStore(':memory:');
    s.recordTransaction(tx('dup', { status: 'PENDING' }));
    s.recordTransaction(tx('dup', { status: 'FAILURE' }));
    expect(s.transactionByRequestHash('default', 'dup')!.status).toBe('PENDING');
    s.close();
  });

  it('RFC 8894 §3.3.1 replay per fleet: the same request hash in two fleets is two transactions, each fleet keeping its first answer', () => {
    const s = openSqliteStore(':memory:');
    s.recordTransaction(tx('same', { fleet: 'routers', status: 'SUCCESS' }));
    s.recordTransaction(tx('same', { fleet: 'cameras', status: 'FAILURE' }));
    s.recordTransaction(tx('same', { fleet: 'routers', status: 'FAILURE' })); // ignored: routers answered it already
    expect(s.transactionByRequestHash('routers', 'same')).toMatchObject({ fleet: 'routers', status: 'SUCCESS' });
    expect(s.transactionByRequestHash('cameras', 'same')).toMatchObject({ fleet: 'cameras', status: 'FAILURE' });
    expect(s.transactionByRequestHash('default', 'same')).toBeUndefined();
    s.close();
  });

  it('latestTransaction returns the newest transaction of a transactionID', () => {
    const s = openSqliteStore(':memory:');
    s.recordTransaction(tx('a', { status: 'PENDING', createdAt: new Date(1000) }));
    s.recordTransaction(tx('b', { status: 'SUCCESS', messageType: 'CertPoll', createdAt: new Date(2000) }));
    s.recordTransaction(tx('c', { transactionId: 'tx-other', createdAt: new Date(3000) }));
    expect(s.latestTransaction('tx-1')!.requestHash).toBe('b');
    expect(s.latestTransaction('tx-none')).toBeUndefined();
    s.close();
  });
});

describe('SQLite store: atomic issuance', () => {
  it('serial collision throws SerialCollisionError and writes nothing (no transaction row)', () => {
    const s = openSqliteStore(':memory:');
    s.recordIssuance(cert('77', { subject: 'CN=first' }), tx('first'));
    s.addPending(pendingInput('p-col', 'tx-col'));
    expect(() =>
      s.recordIssuance(cert('77', { subject: 'CN=second', transactionId: 'tx-col' }),
        tx('second', { transactionId: 'tx-col' }), 'p-col'),
    ).toThrow(SerialCollisionError);
    expect(s.certificate('77')!.subject).toBe('CN=first');
    expect(s.transactionByRequestHash('default', 'second')).toBeUndefined();
    expect(s.latestTransaction('tx-col')).toBeUndefined();
    expect(s.pending('p-col')!.status).toBe('pending');
    expect(s.listCertificates()).toHaveLength(1);
    s.close();
  });

  it('issuance for a pending request marks it issued with the serial', () => {
    const s = openSqliteStore(':memory:');
    s.addPending(pendingInput('p2'));
    expect(s.decide('p2', 'approved', undefined, new Date(5000))).toBe(true);
    s.recordIssuance(cert('0102', { transactionId: 'tx-p' }), tx('h-p2', { transactionId: 'tx-p' }), 'p2');
    const p = s.pending('p2')!;
    expect(p.status).toBe('issued');
    expect(p.certSerial).toBe('0102');
    expect(p.decidedAt).toEqual(new Date(5000));
    s.close();
  });

  it('issuance against a rejected pending request is refused and writes nothing', () => {
    const s = openSqliteStore(':memory:');
    s.addPending(pendingInput('p3'));
    s.decide('p3', 'rejected', 'policy');
    expect(() => s.recordIssuance(cert('33'), tx('h-p3'), 'p3')).toThrow(/not open/);
    expect(s.certificate('33')).toBeUndefined();
    expect(s.transactionByRequestHash('default', 'h-p3')).toBeUndefined();
    s.close();
  });
});

describe('SQLite store: pending lifecycle (RFC 8894 §3.3.3)', () => {
  it('decide approves or rejects once; a second decide returns false', () => {
    const s = openSqliteStore(':memory:');
    s.addPending(pendingInput('a', 'tx-a'));
    s.addPending(pendingInput('r', 'tx-r'));
    expect(s.decide('a', 'approved', undefined, new Date(10))).toBe(true);
    expect(s.decide('r', 'rejected', 'not allowed', new Date(20))).toBe(true);
    expect(s.decide('a', 'rejected')).toBe(false);
    expect(s.decide('r', 'approved')).toBe(false);
    expect(s.decide('missing', 'approved')).toBe(false);
    expect(s.pending('a')).toMatchObject({ status: 'approved', decidedAt: new Date(10) });
    expect(s.pending('r')).toMatchObject({ status: 'rejected', reason: 'not allowed', decidedAt: new Date(20) });
    expect(s.listPending('approved').map((p) => p.id)).toEqual(['a']);
    expect(s.listPending().map((p) => p.id).sort()).toEqual(['a', 'r']);
    s.close();
  });

  it('at most one open request per transactionID: addPending returns the existing open one', () => {
    const s = openSqliteStore(':memory:');
    const first = s.addPending(pendingInput('one', 'tx-same'));
    const second = s.addPending({ ...pendingInput('two', 'tx-same'), subject: 'CN=other' });
    expect(second).toEqual(first);
    expect(s.pending('two')).toBeUndefined();
    s.decide('one', 'approved');
    expect(s.addPending(pendingInput('three', 'tx-same')).id).toBe('one'); // approved is still open
    s.decide('one', 'approved'); // no-op
    s.close();
  });

  it('after rejection a new request for the same transactionID opens, and is preferred by lookup', () => {
    const s = openSqliteStore(':memory:');
    s.addPending(pendingInput('old', 'tx-re'));
    s.decide('old', 'rejected');
    const fresh = s.addPending(pendingInput('new', 'tx-re'));
    expect(fresh.id).toBe('new');
    expect(s.pendingByTransaction('default', 'tx-re')!.id).toBe('new');
    s.close();
  });
});

describe('SQLite store: certificates, revocation, CRL numbers', () => {
  it('listCertificates is ordered by notBefore and filters by status and issuer', () => {
    const s = openSqliteStore(':memory:');
    s.recordIssuance(cert('03', { notBefore: new Date(3000), issuer: 'ca2' }), tx('h3'));
    s.recordIssuance(cert('01', { notBefore: new Date(1000) }), tx('h1'));
    s.recordIssuance(cert('02', { notBefore: new Date(2000) }), tx('h2'));
    expect(s.listCertificates().map((c) => c.serial)).toEqual(['01', '02', '03']);
    expect(s.listCertificates({ issuer: 'ca2' }).map((c) => c.serial)).toEqual(['03']);
    s.revoke('02', undefined, new Date(9000));
    expect(s.listCertificates({ status: 'valid' }).map((c) => c.serial)).toEqual(['01', '03']);
    expect(s.listCertificates({ status: 'revoked', issuer: 'aa'.repeat(32) }).map((c) => c.serial)).toEqual(['02']);
    expect(s.certificatesByTransaction('tx-1').map((c) => c.serial)).toEqual(['03', '02', '01']);
    s.close();
  });

  it('revoke marks a certificate once and revoked(issuer) lists only that issuer', () => {
    const s = openSqliteStore(':memory:');
    s.recordIssuance(cert('0a'), tx('ha'));
    s.recordIssuance(cert('0b', { issuer: 'other' }), tx('hb'));
    const at = new Date(1_736_000_123_456);
    expect(s.revoke('0a', 'keyCompromise', at)).toBe(true);
    expect(s.revoke('0a', 'superseded', new Date())).toBe(false);
    expect(s.revoke('dead', undefined, at)).toBe(false);
    expect(s.revoke('0b', undefined, at)).toBe(true);
    expect(s.revoked('aa'.repeat(32))).toEqual([{ serial: '0a', revokedAt: at, reason: 'keyCompromise' }]);
    expect(s.revoked('other')).toEqual([{ serial: '0b', revokedAt: at }]);
    expect(s.certificate('0a')).toMatchObject({ status: 'revoked', revokedAt: at, revocationReason: 'keyCompromise' });
    s.close();
  });

  it('CRL number starts at 1, is monotonic per issuer, and persists across close/reopen', () => {
    const dir = tempDir();
    const file = path.join(dir, 'store.db');
    let s = openSqliteStore(file);
    expect([s.nextCrlNumber('ca1'), s.nextCrlNumber('ca1'), s.nextCrlNumber('ca2')]).toEqual([1, 2, 1]);
    s.close();
    s = openSqliteStore(file);
    expect(s.nextCrlNumber('ca1')).toBe(3);
    expect(s.nextCrlNumber('ca2')).toBe(2);
    s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('file store uses WAL, synchronous FULL, busy_timeout and records schema version 4', () => {
    const dir = tempDir();
    const file = path.join(dir, 'store.db');
    openSqliteStore(file).close();
    const s = openSqliteStore(file); // reopening an existing schema is a no-op
    s.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(4);
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('schema migration 3 → 4 (RFC 8894 §3.3.1 replays matched per fleet)', () => {
  it('a version-3 file migrates: each transaction takes the fleet of its certificate, else default, and stays replayable there', () => {
    const dir = tempDir();
    const file = path.join(dir, 'store.db');
    const v3 = new Database(file);
    v3.exec(SCHEMA_V1);
    v3.exec(SCHEMA_V2);
    v3.exec(SCHEMA_V3);
    v3.prepare(`INSERT INTO certificates (serial, subject, sans, not_before, not_after, key_algorithm,
      signature_algorithm, issuer, transaction_id, fleet, status, der)
      VALUES ('0abc', 'CN=router', '[]', 1000, 2000, 'ecdsa-p256', 'ecdsa-with-SHA256', 'ca', 'tx-r', 'routers', 'valid', x'3003020101')`).run();
    const insertTx = v3.prepare(`INSERT INTO transactions (transaction_id, request_hash, message_type, status, reply, cert_serial, created_at)
      VALUES (?, ?, 'PKCSReq', ?, ?, ?, ?)`);
    insertTx.run('tx-r', 'h-issued', 'SUCCESS', Buffer.from([1]), '0abc', 3000);
    insertTx.run('tx-f', 'h-failed', 'FAILURE', Buffer.from([2]), null, 4000);
    insertTx.run('tx-f', 'h-later', 'FAILURE', Buffer.from([3]), null, 5000);
    v3.prepare(`INSERT INTO pending (id, transaction_id, fleet, subject, csr, signer_cert, status, created_at)
      VALUES ('p-routers', 'tx-p', 'routers', 'CN=pending', x'01', x'02', 'pending', 6000)`).run();
    v3.pragma('user_version = 3');
    v3.close();

    const s = openSqliteStore(file);
    expect(s.transactionByRequestHash('routers', 'h-issued')).toEqual({
      transactionId: 'tx-r', fleet: 'routers', requestHash: 'h-issued', messageType: 'PKCSReq', status: 'SUCCESS',
      reply: new Uint8Array([1]), certSerial: '0abc', createdAt: new Date(3000),
    });
    expect(s.transactionByRequestHash('default', 'h-issued')).toBeUndefined();
    expect(s.transactionByRequestHash('default', 'h-failed')).toMatchObject({ fleet: 'default', status: 'FAILURE', reply: new Uint8Array([2]) });
    expect(s.latestTransaction('tx-f')!.requestHash).toBe('h-later'); // order and ids kept
    // The unique key is (fleet, request_hash): the same bytes may now be answered by another fleet, once.
    s.recordTransaction(tx('h-issued', { fleet: 'default', status: 'FAILURE' }));
    s.recordTransaction(tx('h-issued', { fleet: 'routers', status: 'FAILURE' }));
    expect(s.transactionByRequestHash('default', 'h-issued')!.status).toBe('FAILURE');
    expect(s.transactionByRequestHash('routers', 'h-issued')!.status).toBe('SUCCESS');
    // The open pending request is one per fleet and transaction now (pending_open on fleet, transaction_id).
    expect(s.addPending({ ...pendingInput('p-default'), fleet: 'default' }).id).toBe('p-default');
    expect(s.addPending({ ...pendingInput('p-routers-2'), fleet: 'routers' }).id).toBe('p-routers');
    s.close();

    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(4);
    expect(raw.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'transactions' ORDER BY name`).pluck().all())
      .toEqual(['sqlite_autoindex_transactions_1', 'transactions_transaction']);
    expect(raw.prepare(`SELECT name FROM pragma_index_info('sqlite_autoindex_transactions_1') ORDER BY seqno`).pluck().all())
      .toEqual(['fleet', 'request_hash']);
    raw.close();
    const again = openSqliteStore(file); // version 4 reopened: no migration, rows kept
    expect(again.transactionByRequestHash('routers', 'h-issued')!.certSerial).toBe('0abc');
    again.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('SQLite store: a file that is not a pqscep store is refused in one line naming it, and left as it was', () => {
  const refused = (file: string, reason: RegExp) => {
    let err: unknown;
    try {
      openSqliteStore(file).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreOpenError);
    const message = (err as Error).message;
    expect(message.startsWith(`${file}: `), message).toBe(true);
    expect(message).not.toContain('\n');
    expect(message).toMatch(reason);
  };

  /** Runs `fn` on a `pqscep.db` path in a folder of its own, removed afterwards. */
  const withFile = (fn: (file: string) => void) => () => {
    const dir = tempDir();
    try {
      fn(path.join(dir, 'pqscep.db'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  it('random bytes: not an SQLite database', withFile((file) => {
    const junk = Buffer.alloc(4096, 0x5a);
    fs.writeFileSync(file, junk);
    refused(file, /not a pqscep store \(not an SQLite database\)/);
    expect(fs.readFileSync(file)).toEqual(junk);
  }));

  it("another program's SQLite database: refused before any table or pragma is written", withFile((file) => {
    const db = new Database(file);
    db.exec('CREATE TABLE certificates (x); CREATE TABLE notes (y)');
    db.close();
    const before = fs.readFileSync(file);
    refused(file, /not a pqscep store: it holds other tables \(certificates, notes\) and no pqscep schema version/);
    expect(fs.readFileSync(file)).toEqual(before); // still rollback-journal mode, no pqscep table
  }));

  it('a folder where the database file should be', withFile((file) => {
    fs.mkdirSync(file);
    refused(file, /is a folder, not a pqscep database file/);
  }));

  it('a newer schema version names the file too', withFile((file) => {
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.close();
    refused(file, /schema version 99 is newer than this pqscep supports \(4\)/);
  }));
});

describe('SQLite store: durability', () => {
  it('an acknowledged issuance survives SIGKILL of the writing process', () => {
    const dir = tempDir();
    const file = path.join(dir, 'store.db');
    const script = path.join(dir, 'writer.ts');
    fs.writeFileSync(script, `
      import { openSqliteStore } from ${JSON.stringify(pathToFileURL(storeModule).href)};
      const s = openSqliteStore(${JSON.stringify(file)});
      s.recordIssuance({
        serial: 'c0ffee', subject: 'CN=durable', sans: [], notBefore: new Date(1000),
        notAfter: new Date(2000), keyAlgorithm: 'rsa-2048', signatureAlgorithm: 'x',
        issuer: 'ca', transactionId: 'tx-d', fleet: 'default', status: 'valid', der: new Uint8Array([1, 2]),
      }, {
        transactionId: 'tx-d', fleet: 'default', requestHash: 'hd', messageType: 'PKCSReq', status: 'SUCCESS',
        reply: new Uint8Array([9]), certSerial: 'c0ffee', createdAt: new Date(1500),
      });
      process.stdout.write('acked\\n');
      process.kill(process.pid, 'SIGKILL');
    `);
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: root, encoding: 'utf8' });
    expect(child.stdout, child.stderr).toBe('acked\n');
    expect(child.signal).toBe('SIGKILL');
    const s = openSqliteStore(file);
    expect(s.certificate('c0ffee')).toMatchObject({ subject: 'CN=durable', der: new Uint8Array([1, 2]) });
    expect(s.transactionByRequestHash('default', 'hd')).toMatchObject({ certSerial: 'c0ffee', reply: new Uint8Array([9]) });
    s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('SQLite store: challenges and audited writes (schema version 3)', () => {
  const audit = (action: string) => ({ actor: 'test', action, subject: 's' });
  const oneTime = (hash: string, expiresAt = new Date(Date.now() + 60_000)) =>
    ({ hash, kind: 'one-time' as const, fleet: 'default', createdAt: new Date(), expiresAt });

  it('useChallenge: the first transaction wins; the same transaction and key may use it again; expired never', () => {
    const s = openSqliteStore(':memory:');
    s.addChallenges([oneTime('h1'), oneTime('h2', new Date(Date.now() - 1))], audit('challenge.issue'));
    const at = new Date();
    expect(s.useChallenge('h1', { transactionId: 'tx-a', keyHash: 'k-a', at }, audit('challenge.use'))).toBe(true);
    expect(s.useChallenge('h1', { transactionId: 'tx-b', keyHash: 'k-b', at }, audit('challenge.use'))).toBe(false);
    expect(s.useChallenge('h1', { transactionId: 'tx-a', keyHash: 'k-other', at }, audit('challenge.use'))).toBe(false);
    expect(s.useChallenge('h1', { transactionId: 'tx-a', keyHash: 'k-a', at }, audit('challenge.use'))).toBe(true);
    expect(s.useChallenge('h2', { transactionId: 'tx-c', keyHash: 'k-c', at }, audit('challenge.use'))).toBe(false);
    expect(s.useChallenge('unknown', { transactionId: 'tx-c', keyHash: 'k-c', at }, audit('challenge.use'))).toBe(false);
    expect(s.challenge('h1')).toMatchObject({ usedBy: { transactionId: 'tx-a', keyHash: 'k-a' } });
    // one audit record per successful use, none for refusals
    expect(s.audit().map((a) => a.action)).toEqual(['challenge.issue', 'challenge.use', 'challenge.use']);
    s.close();
  });

  it('a write and its audit record commit together: a failed issuance leaves neither', () => {
    const s = openSqliteStore(':memory:');
    s.recordIssuance(cert('aa'), tx('h-1'), undefined, { audit: [audit('certificate.issue')] });
    expect(() => s.recordIssuance(cert('aa'), tx('h-2'), undefined, { audit: [audit('certificate.issue')] })).toThrow(SerialCollisionError);
    expect(s.audit().map((a) => a.action)).toEqual(['certificate.issue']);
    expect(s.transactionByRequestHash('default', 'h-2')).toBeUndefined();
    expect(s.revoke('aa', 'keyCompromise', new Date(), audit('certificate.revoke'))).toBe(true);
    expect(s.revoke('aa', 'keyCompromise', new Date(), audit('certificate.revoke'))).toBe(false); // already revoked: no second record
    expect(s.audit().map((a) => a.action)).toEqual(['certificate.issue', 'certificate.revoke']);
    s.close();
  });
});
