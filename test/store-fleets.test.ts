/**
 * SQLite store, schema version 2: fleets and their version counter, the hash-chained audit log
 * (append-only triggers, tamper detection, concurrent appenders), client compatibility records,
 * migration from version 1, and the same behaviour through node:sqlite in the reference runtime.
 */
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { openSqliteStore, SCHEMA_V1 } from '../src/store/sqlite-store.ts';
import { GENESIS_HASH, verifyAuditChain } from '../src/store/sqlite-fleets.ts';
import type { AuditRecord, ClientObservation, FleetRecord } from '../src/store/store.ts';
import { hasReferenceNode, REFERENCE_NODE, referenceMissingReason } from './helpers/openssl35.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const moduleUrl = (p: string) => JSON.stringify(pathToFileURL(path.join(root, p)).href);

/** A fresh store file in a temp dir, removed by the returned cleanup. */
function tempFile(): { file: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pqscep-fleets-'));
  return { file: path.join(dir, 'store.db'), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const fleet = (name: string, over: Partial<FleetRecord> = {}): FleetRecord => ({
  name,
  profile: 'classic',
  updatedAt: new Date(1_736_000_000_123),
  ...over,
});
const auditFor = (subject: string, action = 'fleet.create') => ({ actor: 'cli', action, subject });

/** The hash encoding documented in sqlite-fleets.ts, written out independently. */
function expectedHash(r: Omit<AuditRecord, 'hash'>, canonicalDetails: string | null): string {
  const preimage = JSON.stringify(['pqscep-audit-v1', r.seq, r.at.getTime(), r.actor, r.action, r.subject,
    canonicalDetails, r.prevHash]);
  return createHash('sha256').update(preimage, 'utf8').digest('hex');
}

describe('fleets', () => {
  it('round-trips a fleet with a scheduled switch and a previous profile', () => {
    const s = openSqliteStore(':memory:');
    const f = fleet('routers', {
      profile: 'hybrid',
      previousProfile: 'classic',
      next: { profile: 'pq-only', announceAt: new Date(1_740_000_000_001), effectiveAt: new Date(1_750_000_000_002) },
    });
    s.saveFleet(f, auditFor('routers'));
    expect(s.fleet('routers')).toEqual(f);
    expect(s.fleet('routers')!.next!.effectiveAt).toBeInstanceOf(Date);
    expect(s.fleet('missing')).toBeUndefined();
    s.close();
  });

  it('saveFleet replaces the whole record (a switch without next clears the schedule); fleets() is by name', () => {
    const s = openSqliteStore(':memory:');
    s.saveFleet(fleet('printers', { next: { profile: 'hybrid', announceAt: new Date(1), effectiveAt: new Date(2) } }),
      auditFor('printers'));
    s.saveFleet(fleet('cameras'), auditFor('cameras'));
    const switched = fleet('printers', { profile: 'hybrid', previousProfile: 'classic', updatedAt: new Date(5000) });
    s.saveFleet(switched, auditFor('printers', 'fleet.switch'));
    expect(s.fleet('printers')).toEqual(switched);
    expect(s.fleet('printers')).not.toHaveProperty('next');
    expect(s.fleets().map((f) => f.name)).toEqual(['cameras', 'printers']);
    expect(s.fleets()[0]).toEqual(fleet('cameras'));
    s.close();
  });

  it('fleetsVersion changes with every saveFleet and with nothing else', () => {
    const s = openSqliteStore(':memory:');
    const v0 = s.fleetsVersion();
    s.appendAudit(auditFor('x', 'certificate.issue'));
    s.recordCapsFetch('f', '192.0.2.1', new Date(1));
    s.recordClient(observation());
    s.fleets();
    s.fleet('f');
    expect(s.fleetsVersion()).toBe(v0);
    s.saveFleet(fleet('f'), auditFor('f'));
    const v1 = s.fleetsVersion();
    expect(v1).not.toBe(v0);
    s.saveFleet(fleet('f'), auditFor('f', 'fleet.touch')); // identical record: still a change event
    expect(s.fleetsVersion()).not.toBe(v1);
    expect(s.fleetsVersion()).toBe(s.fleetsVersion());
    s.close();
  });

  it('a poller on another connection sees the version change made by another process', () => {
    const { file, cleanup } = tempFile();
    const server = openSqliteStore(file);
    const cli = openSqliteStore(file);
    const before = server.fleetsVersion();
    cli.saveFleet(fleet('remote', { profile: 'hybrid' }), auditFor('remote'));
    expect(server.fleetsVersion()).not.toBe(before);
    expect(server.fleet('remote')!.profile).toBe('hybrid');
    server.close();
    cli.close();
    cleanup();
  });
});

describe('saveFleet is atomic with its audit entry', () => {
  it('when the audit insert fails, the fleet, its version and the log are unchanged', () => {
    const { file, cleanup } = tempFile();
    const s = openSqliteStore(file);
    s.saveFleet(fleet('core'), auditFor('core'));
    const version = s.fleetsVersion();
    const raw = new Database(file);
    raw.exec(`CREATE TRIGGER audit_fail BEFORE INSERT ON audit
      BEGIN SELECT RAISE(ABORT, 'simulated audit failure'); END;`);
    expect(() => s.saveFleet(fleet('core', { profile: 'pq-only' }), auditFor('core', 'fleet.switch')))
      .toThrow(/simulated audit failure/);
    expect(() => s.saveFleet(fleet('edge'), auditFor('edge'))).toThrow(/simulated audit failure/);
    expect(s.fleet('core')!.profile).toBe('classic');
    expect(s.fleet('edge')).toBeUndefined();
    expect(s.fleetsVersion()).toBe(version);
    expect(s.audit()).toHaveLength(1);
    raw.exec('DROP TRIGGER audit_fail');
    raw.close();
    s.saveFleet(fleet('edge'), auditFor('edge')); // the store is still usable afterwards
    expect(s.audit().map((r) => r.seq)).toEqual([1, 2]);
    s.close();
    cleanup();
  });

  it('details that cannot be encoded (circular) abort the whole saveFleet', () => {
    const s = openSqliteStore(':memory:');
    const details: Record<string, unknown> = {};
    details.self = details;
    expect(() => s.saveFleet(fleet('loop'), { ...auditFor('loop'), details })).toThrow(TypeError);
    expect(s.fleet('loop')).toBeUndefined();
    expect(s.fleetsVersion()).toBe(0);
    expect(s.audit()).toEqual([]);
    s.close();
  });
});

describe('audit log: hash chain', () => {
  const entries = [
    { actor: 'cli', action: 'fleet.create', subject: 'routers', details: { profile: 'classic' } },
    { actor: 'admin-api', action: 'fleet.switch', subject: 'routers',
      details: { to: 'hybrid', from: 'classic', at: { announce: 1, effective: 2 }, tags: ['b', 'a'] } },
    { actor: 'server', action: 'certificate.issue', subject: '0a1b' },
    { actor: '192.0.2.7', action: 'request.reject', subject: 'tx-9', details: { reason: 'ünïcødé "quoted"\n' } },
    { actor: 'cli', action: 'fleet.rollback', subject: 'routers', details: {} },
  ];

  it('appends in sequence, links each record to the previous hash, and verifies', () => {
    const s = openSqliteStore(':memory:');
    const appended = entries.map((e) => s.appendAudit(e));
    const log = s.audit();
    expect(log).toEqual(appended);
    expect(log.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(log[0].prevHash).toBe(GENESIS_HASH);
    expect(GENESIS_HASH).toBe('0'.repeat(64));
    for (let i = 1; i < log.length; i++) expect(log[i].prevHash).toBe(log[i - 1].hash);
    expect(log[2]).not.toHaveProperty('details');
    expect(log[1].details).toEqual(entries[1].details);
    expect(log[4].details).toEqual({});
    expect(verifyAuditChain(log)).toEqual({ ok: true });
    expect(verifyAuditChain([])).toEqual({ ok: true });
    expect(s.audit(4).map((r) => r.seq)).toEqual([4, 5]);
    s.close();
  });

  it('hash = SHA-256 over the documented encoding, details as canonical JSON with sorted keys', () => {
    const s = openSqliteStore(':memory:');
    s.appendAudit(entries[0]);
    const r = s.appendAudit(entries[1]);
    const canonical = '{"at":{"announce":1,"effective":2},"from":"classic","tags":["b","a"],"to":"hybrid"}';
    expect(r.hash).toBe(expectedHash(r, canonical));
    expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
    const plain = s.appendAudit(entries[2]);
    expect(plain.hash).toBe(expectedHash(plain, null));
    // Key order is not part of the content: the same details in another order still verify.
    const reordered = s.audit().map((x) => x.seq === 2
      ? { ...x, details: { tags: ['b', 'a'], to: 'hybrid', at: { effective: 2, announce: 1 }, from: 'classic' } } : x);
    expect(verifyAuditChain(reordered)).toEqual({ ok: true });
    s.close();
  });

  it('tampering with the file (triggers dropped, as an attacker with file access would) is reported at the first bad seq', () => {
    const { file, cleanup } = tempFile();
    const s = openSqliteStore(file);
    for (const e of entries) s.appendAudit(e);
    const raw = new Database(file);
    raw.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; DROP TRIGGER audit_tail_only;');

    raw.prepare(`UPDATE audit SET details = '{"reason":"benign"}' WHERE seq = 4`).run();
    expect(verifyAuditChain(s.audit())).toEqual({ ok: false, seq: 4, reason: 'hash does not match the record content' });

    // Also rewriting seq 4's hash moves the break to seq 5's link.
    const r4 = s.audit(4)[0];
    raw.prepare('UPDATE audit SET hash = ? WHERE seq = 4').run(expectedHash(r4, '{"reason":"benign"}'));
    expect(verifyAuditChain(s.audit())).toEqual({ ok: false, seq: 5, reason: 'prev_hash does not match the hash of seq 4' });

    raw.prepare(`UPDATE audit SET actor = 'mallory' WHERE seq = 2`).run();
    expect(verifyAuditChain(s.audit())).toMatchObject({ ok: false, seq: 2 });

    raw.prepare('DELETE FROM audit WHERE seq <= 2').run();
    expect(verifyAuditChain(s.audit())).toEqual({ ok: false, seq: 3, reason: 'sequence gap: expected seq 1' });
    raw.close();
    s.close();
    cleanup();
  });

  it('a removed middle record and a wrong genesis link are reported', () => {
    const s = openSqliteStore(':memory:');
    for (const e of entries) s.appendAudit(e);
    const log = s.audit();
    expect(verifyAuditChain(log.filter((r) => r.seq !== 3)))
      .toEqual({ ok: false, seq: 4, reason: 'sequence gap: expected seq 3' });
    expect(verifyAuditChain([{ ...log[0], prevHash: 'f'.repeat(64) }, ...log.slice(1)]))
      .toEqual({ ok: false, seq: 1, reason: 'prev_hash of the first record is not 64 zeros' });
    s.close();
  });

  it('triggers refuse UPDATE, DELETE and any INSERT other than the next linked record', () => {
    const { file, cleanup } = tempFile();
    const s = openSqliteStore(file);
    s.appendAudit(entries[0]);
    s.appendAudit(entries[1]);
    const before = s.audit();
    const raw = new Database(file);
    expect(() => raw.prepare(`UPDATE audit SET actor = 'mallory' WHERE seq = 1`).run()).toThrow(/append-only/);
    expect(() => raw.prepare('DELETE FROM audit WHERE seq = 2').run()).toThrow(/append-only/);
    expect(() => raw.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
    // REPLACE deletes without firing delete triggers: the insert trigger stops it.
    expect(() => raw.prepare(`INSERT OR REPLACE INTO audit (seq, at, actor, action, subject, prev_hash, hash)
      VALUES (1, 0, 'mallory', 'x', 'y', ?, ?)`).run(GENESIS_HASH, 'f'.repeat(64))).toThrow(/append-only/);
    expect(() => raw.prepare(`INSERT INTO audit (seq, at, actor, action, subject, prev_hash, hash)
      VALUES (7, 0, 'mallory', 'x', 'y', ?, ?)`).run(before[1].hash, 'f'.repeat(64))).toThrow(/append-only/);
    expect(() => raw.prepare(`INSERT INTO audit (seq, at, actor, action, subject, prev_hash, hash)
      VALUES (3, 0, 'mallory', 'x', 'y', ?, ?)`).run(before[0].hash, 'f'.repeat(64))).toThrow(/append-only/);
    raw.close();
    expect(s.audit()).toEqual(before);
    expect(verifyAuditChain(s.audit())).toEqual({ ok: true });
    s.close();
    cleanup();
  });
});

/** Runs `code` as a module in this Node or the reference runtime, with tsx; resolves its stdout. */
function runScript(dir: string, name: string, code: string, node = process.execPath, onLine?: (line: string) => void) {
  const script = path.join(dir, `${name}.ts`);
  fs.writeFileSync(script, code);
  const child = spawn(node, ['--import', 'tsx', script], { cwd: root });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const line of d.split('\n')) if (line) onLine?.(line);
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => void (err += d));
  return new Promise<string>((resolve, reject) => {
    // stderr quoted line by line, so vitest does not take the child's stack frames for ours
    child.on('close', (code) => (code === 0 ? resolve(out)
      : reject(new Error(`${name} exited ${code}:\n${err.replace(/^/gm, '| ')}`))));
  });
}

describe('audit log: concurrent appenders stay linear', () => {
  it('two store instances on one file, interleaved', () => {
    const { file, cleanup } = tempFile();
    const a = openSqliteStore(file);
    const b = openSqliteStore(file);
    for (let i = 0; i < 10; i++) (i % 2 ? a : b).appendAudit({ actor: i % 2 ? 'a' : 'b', action: 'test', subject: String(i) });
    const log = a.audit();
    expect(log.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(log.map((r) => r.subject)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(verifyAuditChain(b.audit())).toEqual({ ok: true });
    a.close();
    b.close();
    cleanup();
  });

  it(`two processes appending at the same moment (${hasReferenceNode ? 'better-sqlite3 and node:sqlite' : 'both better-sqlite3'})`, async () => {
    const { file, cleanup } = tempFile();
    const dir = path.dirname(file);
    openSqliteStore(file).close(); // created and migrated before the race
    const go = path.join(dir, 'go');
    const N = 150;
    const writer = (label: string) => `
      import fs from 'node:fs';
      import { openSqliteStore } from ${moduleUrl('src/store/sqlite-store.ts')};
      import { sqliteDriverName } from ${moduleUrl('src/store/sqlite-driver.ts')};
      const s = openSqliteStore(${JSON.stringify(file)});
      console.log('ready ' + sqliteDriverName());
      const nap = new Int32Array(new SharedArrayBuffer(4));
      const deadline = Date.now() + 20_000; // never outlive a failed test
      while (!fs.existsSync(${JSON.stringify(go)})) {
        if (Date.now() > deadline) throw new Error('no go signal');
        Atomics.wait(nap, 0, 0, 2);
      }
      for (let i = 0; i < ${N}; i++) {
        s.appendAudit({ actor: ${JSON.stringify(label)}, action: 'test.race', subject: String(i), details: { i } });
        Atomics.wait(nap, 0, 0, 1); // leave the lock free now and then, so the writers interleave
      }
      s.close();
    `;
    let ready = 0;
    const onLine = (line: string) => {
      if (line.startsWith('ready') && ++ready === 2) fs.writeFileSync(go, '');
    };
    const [outA, outB] = await Promise.all([
      runScript(dir, 'writer-a', writer('a'), process.execPath, onLine),
      runScript(dir, 'writer-b', writer('b'), hasReferenceNode ? REFERENCE_NODE : process.execPath, onLine),
    ]);
    expect(outA.trim()).toBe('ready better-sqlite3');
    expect(outB.trim()).toBe(`ready ${hasReferenceNode ? 'node:sqlite' : 'better-sqlite3'}`);

    const s = openSqliteStore(file);
    const log = s.audit();
    expect(log).toHaveLength(2 * N);
    expect(log.filter((r, i) => i > 0 && r.actor !== log[i - 1].actor).length).toBeGreaterThan(1); // they did interleave
    expect(verifyAuditChain(log)).toEqual({ ok: true });
    for (const label of ['a', 'b']) {
      expect(log.filter((r) => r.actor === label).map((r) => r.subject)).toEqual(Array.from({ length: N }, (_, i) => String(i)));
    }
    s.close();
    cleanup();
  }, 60_000);
});

describe('schema migration 1 → 2', () => {
  it('a version-1 file opens, migrates to the current version (4) and keeps its certificate', () => {
    const { file, cleanup } = tempFile();
    const v1 = new Database(file);
    v1.exec(SCHEMA_V1);
    v1.prepare(`INSERT INTO certificates (serial, subject, sans, not_before, not_after, key_algorithm,
      signature_algorithm, issuer, transaction_id, status, der)
      VALUES ('0abc', 'CN=legacy', '["DNS:legacy.example"]', 1000, 2000, 'rsa-2048',
      'sha256WithRSAEncryption', 'ca', 'tx-old', 'valid', x'3003020101')`).run();
    v1.pragma('user_version = 1');
    v1.close();

    const s = openSqliteStore(file);
    expect(s.certificate('0abc')).toEqual({
      serial: '0abc', subject: 'CN=legacy', sans: ['DNS:legacy.example'], notBefore: new Date(1000),
      notAfter: new Date(2000), keyAlgorithm: 'rsa-2048', signatureAlgorithm: 'sha256WithRSAEncryption',
      issuer: 'ca', transactionId: 'tx-old', fleet: 'default', status: 'valid', der: new Uint8Array([0x30, 3, 2, 1, 1]),
    });
    expect(s.fleets()).toEqual([]);
    expect(s.fleetsVersion()).toBe(0);
    s.saveFleet(fleet('after-migration'), auditFor('after-migration'));
    s.close();

    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(4);
    expect(raw.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name`).pluck().all())
      .toEqual(['audit_no_delete', 'audit_no_update', 'audit_tail_only']);
    raw.close();

    const again = openSqliteStore(file); // version 2 reopened: no migration, data kept
    expect(again.fleet('after-migration')).toEqual(fleet('after-migration'));
    expect(again.fleetsVersion()).toBe(1);
    expect(again.listCertificates().map((c) => c.serial)).toEqual(['0abc']);
    again.close();
    cleanup();
  });
});

function observation(over: Partial<ClientObservation> = {}): ClientObservation {
  return {
    fleet: 'routers',
    subject: 'CN=router-1',
    address: '192.0.2.10',
    method: 'POST',
    keyAlgorithm: 'rsa-2048',
    signatureAlgorithm: 'sha256WithRSAEncryption',
    digest: 'SHA-256',
    cipher: 'AES-128-CBC',
    envelope: 'ktri',
    replyKem: false,
    lastOutcome: 'SUCCESS',
    at: new Date(10_000),
    requestBytes: 2000,
    messageType: 'PKCSReq',
    ...over,
  };
}

describe('client compatibility records', () => {
  it('merge: first_seen kept, last_seen updated, counters added, max bytes, the rest from the latest observation', () => {
    const s = openSqliteStore(':memory:');
    s.recordClient(observation());
    expect(s.clients()).toEqual([{
      fleet: 'routers', subject: 'CN=router-1', address: '192.0.2.10', firstSeen: new Date(10_000),
      lastSeen: new Date(10_000), capsFetched: false, method: 'POST', keyAlgorithm: 'rsa-2048',
      signatureAlgorithm: 'sha256WithRSAEncryption', digest: 'SHA-256', cipher: 'AES-128-CBC',
      envelope: 'ktri', replyKem: false, maxRequestBytes: 2000, enrollments: 1, renewals: 0,
      lastOutcome: 'SUCCESS',
    }]);
    s.recordClient(observation({ messageType: 'CertPoll', at: new Date(20_000), requestBytes: 500, lastOutcome: 'PENDING' }));
    s.recordClient(observation({
      messageType: 'RenewalReq', at: new Date(30_000), requestBytes: 9000, method: 'GET',
      keyAlgorithm: 'ML-DSA-65', signatureAlgorithm: 'ML-DSA-65', envelope: 'kemri', replyKem: true,
      address: '192.0.2.11', cipher: undefined, lastOutcome: 'FAILURE:badAlg',
    }));
    s.recordClient(observation({ messageType: 'RenewalReq', at: new Date(40_000), requestBytes: 100,
      keyAlgorithm: 'ML-DSA-65', signatureAlgorithm: 'ML-DSA-65', envelope: 'kemri', replyKem: true,
      address: '192.0.2.11', cipher: undefined, method: 'GET', lastOutcome: 'SUCCESS' }));
    expect(s.clients('routers')).toEqual([{
      fleet: 'routers', subject: 'CN=router-1', address: '192.0.2.11', firstSeen: new Date(10_000),
      lastSeen: new Date(40_000), capsFetched: false, method: 'GET', keyAlgorithm: 'ML-DSA-65',
      signatureAlgorithm: 'ML-DSA-65', digest: 'SHA-256', envelope: 'kemri', replyKem: true,
      maxRequestBytes: 9000, enrollments: 1, renewals: 2, lastOutcome: 'SUCCESS',
    }]);
    expect(s.clients('routers')[0]).not.toHaveProperty('cipher'); // overwritten by an observation without one
    s.close();
  });

  it('capsFetched joins caps_fetches by fleet and address', () => {
    const s = openSqliteStore(':memory:');
    s.recordClient(observation({ subject: 'CN=a', address: '198.51.100.1' }));
    s.recordClient(observation({ subject: 'CN=b', address: '198.51.100.2' }));
    s.recordClient(observation({ subject: 'CN=c', address: undefined }));
    s.recordClient(observation({ fleet: 'cameras', subject: 'CN=a', address: '198.51.100.1' }));
    s.recordCapsFetch('routers', '198.51.100.1', new Date(5));
    s.recordCapsFetch('routers', '198.51.100.1', new Date(6)); // repeated fetch: one row
    s.recordCapsFetch('printers', '198.51.100.2', new Date(5)); // another fleet's endpoint
    const caps = (fleet?: string) => s.clients(fleet).map((c) => [c.fleet, c.subject, c.capsFetched]);
    expect(caps()).toEqual([
      ['cameras', 'CN=a', false],
      ['routers', 'CN=a', true],
      ['routers', 'CN=b', false],
      ['routers', 'CN=c', false],
    ]);
    expect(s.clients('routers').find((c) => c.subject === 'CN=c')).not.toHaveProperty('address');
    s.recordCapsFetch('cameras', '198.51.100.1', new Date(7));
    expect(caps('cameras')).toEqual([['cameras', 'CN=a', true]]);
    expect(s.clients('none')).toEqual([]);
    s.close();
  });
});

describe.skipIf(!hasReferenceNode)(`node:sqlite driver (reference runtime)${hasReferenceNode ? '' : ` — skipped: ${referenceMissingReason}`}`, () => {
  it('the same fleets, audit and client behaviour as better-sqlite3, on a migrated version-1 file', async () => {
    const { file, cleanup } = tempFile();
    const v1 = new Database(file);
    v1.exec(SCHEMA_V1);
    v1.prepare(`INSERT INTO crl_numbers (issuer, "next") VALUES ('ca', 7)`).run();
    v1.pragma('user_version = 1');
    v1.close();
    const scenario = `
      import { openSqliteStore } from ${moduleUrl('src/store/sqlite-store.ts')};
      import { sqliteDriverName } from ${moduleUrl('src/store/sqlite-driver.ts')};
      import { verifyAuditChain } from ${moduleUrl('src/store/sqlite-fleets.ts')};
      const s = openSqliteStore(${JSON.stringify(file)});
      const v0 = s.fleetsVersion();
      s.saveFleet({ name: 'f', profile: 'hybrid', previousProfile: 'classic', updatedAt: new Date(5),
        next: { profile: 'pq-only', announceAt: new Date(6), effectiveAt: new Date(7) } },
        { actor: 'cli', action: 'fleet.switch', subject: 'f', details: { b: 1, a: [true, null] } });
      s.appendAudit({ actor: 'server', action: 'certificate.issue', subject: '01' });
      const base = { fleet: 'f', subject: 'CN=x', address: '203.0.113.5', method: 'POST', replyKem: true,
        lastOutcome: 'SUCCESS', at: new Date(100), requestBytes: 300, messageType: 'PKCSReq' };
      s.recordClient(base);
      s.recordClient({ ...base, at: new Date(200), requestBytes: 100, messageType: 'RenewalReq' });
      s.recordCapsFetch('f', '203.0.113.5', new Date(50));
      let bigintRefused = false;
      try { s.appendAudit({ actor: 'x', action: 'y', subject: 'z', details: { n: 10n } }); } catch (e) { bigintRefused = e instanceof TypeError; }
      const audit = s.audit();
      console.log(JSON.stringify({
        driver: sqliteDriverName(), crl: s.nextCrlNumber('ca'), versionChanged: s.fleetsVersion() !== v0,
        fleet: s.fleet('f'), clients: s.clients(), verify: verifyAuditChain(audit), bigintRefused,
        audit: audit.map(({ seq, actor, action, subject, details }) => ({ seq, actor, action, subject, details })),
      }));
      s.close();
    `;
    const out = JSON.parse(await runScript(path.dirname(file), 'scenario', scenario, REFERENCE_NODE));
    expect(out).toEqual({
      driver: 'node:sqlite', crl: 7, versionChanged: true, bigintRefused: true,
      fleet: { name: 'f', profile: 'hybrid', previousProfile: 'classic', updatedAt: new Date(5).toJSON(),
        next: { profile: 'pq-only', announceAt: new Date(6).toJSON(), effectiveAt: new Date(7).toJSON() } },
      clients: [{ fleet: 'f', subject: 'CN=x', address: '203.0.113.5', firstSeen: new Date(100).toJSON(),
        lastSeen: new Date(200).toJSON(), capsFetched: true, method: 'POST', replyKem: true,
        maxRequestBytes: 300, enrollments: 1, renewals: 1, lastOutcome: 'SUCCESS' }],
      verify: { ok: true },
      audit: [
        { seq: 1, actor: 'cli', action: 'fleet.switch', subject: 'f', details: { a: [true, null], b: 1 } },
        { seq: 2, actor: 'server', action: 'certificate.issue', subject: '01' },
      ],
    });
    // The chain written through node:sqlite verifies, and its triggers hold, under better-sqlite3.
    const s = openSqliteStore(file);
    expect(verifyAuditChain(s.audit())).toEqual({ ok: true });
    s.close();
    const raw = new Database(file);
    expect(() => raw.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
    raw.close();
    cleanup();
  }, 60_000);
});
