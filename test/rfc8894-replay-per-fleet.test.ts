/**
 * RFC 8894 §3.3.1 exact replay, per fleet: the same request bytes sent again to the same fleet
 * get the identical stored CertRep and no second certificate; the same bytes sent to another
 * fleet (its own URL, CA and RA) are answered by that fleet on their own merits (here: enveloped
 * to the first fleet's RA, they do not decrypt, so a FAILURE signed by the second fleet), never
 * with the first fleet's stored or in-flight answer. Checked over HTTP, on the two in-flight
 * dedupe layers directly (pki-operation.ts per thread, pki-pool.ts before dispatch: both are
 * synchronous up to registering the request, so two calls in one tick overlap for certain), and
 * across a schema version 3 → 4 migration of a real data folder. Also RFC 8894 §3.3.3 per
 * fleet: one key enrolled in two fleets has one transactionID, and each fleet answers PKCSReq
 * and CertPoll from its own pending request and certificates.
 * Leaves out: worker threads (the pool's dedupe runs on the main thread before any dispatch).
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { equalBytes, serialize } from '../src/cms/der.ts';
import { identifies, parseSignedData } from '../src/cms/signed-data.ts';
import { parseConfig } from '../src/config.ts';
import type { ScepEnv } from '../src/scep/env.ts';
import { pkiOperation } from '../src/scep/pki-operation.ts';
import { PkiPool } from '../src/scep/pki-pool.ts';
import { openSqliteStore, SCHEMA_V1 } from '../src/store/sqlite-store.ts';
import { createFleet } from '../src/fleet/fleet-ops.ts';
import { answerOf } from './helpers/fleet-clients.ts';
import { CHALLENGE, device, exchange, post, request, silentLog, testServer, type Device, type TestServer } from './helpers/server.ts';
import { parseName, serialHex } from '../src/ca/certificate.ts';
import { pickRecipient } from '../src/client/enroll.ts';
import { getCaCerts } from '../src/client/http.ts';
import type { CertRepResult } from '../src/client/pki-request.ts';
import { IssuerAndSubject } from '../src/scep/enroll.ts';

const SHIPPED_PROFILES = fileURLToPath(new URL('../profiles', import.meta.url));
const modernEcc = JSON.parse(readFileSync(join(SHIPPED_PROFILES, 'modern-ecc.json'), 'utf8')) as Record<string, unknown>;

/** Shipped profiles plus 'modern-ecc-p384': the same clients allowed, another CA (P-384) and RA (ECDH P-384); 'modern-ecc-p384-manual' is that with manual approval. */
function profilesDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pqscep-profiles-'));
  for (const f of readdirSync(SHIPPED_PROFILES)) copyFileSync(join(SHIPPED_PROFILES, f), join(dir, f));
  writeFileSync(join(dir, 'modern-ecc-p384.json'), JSON.stringify({
    ...modernEcc,
    description: 'test: modern-ecc with an ECDSA P-384 CA and an ECDH P-384 RA',
    ca: { algorithm: 'ecdsa-p384', subject: 'CN=pqscep ECDSA P-384 CA,O=pqscep' },
    ra: ['ecdh-p384'],
  }));
  writeFileSync(join(dir, 'modern-ecc-p384-manual.json'), JSON.stringify({
    ...modernEcc,
    description: 'test: modern-ecc-p384 with manual approval',
    ca: { algorithm: 'ecdsa-p384', subject: 'CN=pqscep ECDSA P-384 CA,O=pqscep' },
    ra: ['ecdh-p384'],
    approval: 'manual',
  }));
  return dir;
}

/** Default fleet on modern-ecc at /scep, fleet 'other' on modern-ecc-p384 (or `otherProfile`) at /scep/other. */
async function twoFleets(dataDir?: string, profiles = profilesDir(), otherProfile = 'modern-ecc-p384'): Promise<TestServer> {
  const server = await testServer({ profile: 'modern-ecc', profilesDir: profiles, ...(dataDir && { dataDir }) });
  if (!server.env.store.fleet('other')) {
    createFleet({ store: server.env.store, profiles: server.fleets.profiles }, 'other', otherProfile, 'test');
    await server.fleets.refresh();
  }
  return server;
}

const otherUrl = (server: TestServer) => `${server.url}/other`;

/** The fleets (of `envs`) whose CA or RA signed this CertRep. */
function signedBy(certRep: Uint8Array, envs: readonly ScepEnv[]): string[] {
  const sid = parseSignedData(certRep).signedData.signerInfos[0]!.sid;
  return envs.filter((e) => [e.ca.certificate, ...e.ras.map((r) => r.certificate)].some((c) => identifies(sid, c))).map((e) => e.fleet);
}

describe('RFC 8894 §3.3.1 exact replay is matched per fleet', () => {
  let server: TestServer;
  let profiles: string;
  let envs: () => ScepEnv[];
  beforeAll(async () => {
    profiles = profilesDir();
    server = await twoFleets(undefined, profiles);
    envs = () => [server.fleets.env('default')!, server.fleets.env('other')!];
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(profiles, { recursive: true, force: true });
  });

  it('the same bytes to another fleet get that fleet\'s own answer; each fleet replays its own answer byte for byte, one certificate in all', async () => {
    const d = await device(server.url, 'CN=two-fleets,O=Test', 'ecdsa-p256'); // enveloped to the default fleet's RA
    const req = await request(d);
    const first = await post(server.url, req.der);
    expect(answerOf(first.body)).toBe('SUCCESS');
    expect(signedBy(first.body, envs())).toEqual(['default']);

    const there = await post(otherUrl(server), req.der);
    expect(there.status).toBe(200);
    expect(equalBytes(there.body, first.body)).toBe(false);
    expect(signedBy(there.body, envs())).toEqual(['other']);
    expect(answerOf(there.body)).toBe('FAILURE:badMessageCheck'); // not its RA's envelope

    const replayHere = await post(server.url, req.der);
    const replayThere = await post(otherUrl(server), req.der);
    expect(equalBytes(replayHere.body, first.body)).toBe(true);
    expect(equalBytes(replayThere.body, there.body)).toBe(true);
    expect(server.env.store.certificatesByTransaction(d.transactionId).map((c) => c.fleet)).toEqual(['default']);
  });

  it('in flight (pki-operation.ts): the same bytes to two fleets at once are not merged', async () => {
    const d = await device(server.url, 'CN=in-flight-op,O=Test', 'ecdsa-p256');
    const { der } = await request(d);
    const [here, there] = envs();
    const replies = await Promise.all([pkiOperation(der, here!), pkiOperation(der, there!)]); // one tick: both in flight
    expect(replies.map((r) => signedBy(r, envs()))).toEqual([['default'], ['other']]);
    expect(replies.map(answerOf)).toEqual(['SUCCESS', 'FAILURE:badMessageCheck']);
    expect(server.env.store.certificatesByTransaction(d.transactionId)).toHaveLength(1);
  });

  it('in flight (pki-pool.ts): the pool does not merge the same bytes to two fleets either', async () => {
    const store = openSqliteStore(join(server.dataDir, 'pqscep.db'));
    const config = parseConfig({ port: 0, host: '127.0.0.1', dataDir: server.dataDir, challenge: CHALLENGE, logLevel: 'silent', workers: 1 });
    const pool = await PkiPool.start(config, CHALLENGE, store, silentLog);
    try {
      const d = await device(server.url, 'CN=in-flight-pool,O=Test', 'ecdsa-p256');
      const { der } = await request(d);
      const [here, there] = envs();
      const replies = await Promise.all([pool.run(der, here!), pool.run(der, there!), pool.run(der, here!)]);
      expect(replies.map((r) => signedBy(r, envs()))).toEqual([['default'], ['other'], ['default']]);
      expect(replies.map(answerOf)).toEqual(['SUCCESS', 'FAILURE:badMessageCheck', 'SUCCESS']);
      expect(equalBytes(replies[2]!, replies[0]!)).toBe(true); // the same fleet's duplicate is still merged
      expect(store.certificatesByTransaction(d.transactionId)).toHaveLength(1);
    } finally {
      await pool.close();
      store.close();
    }
  });
});

/**
 * Turns a data folder's store back into a schema version 3 file: the version-1 `transactions`
 * table (no fleet, UNIQUE request_hash), rows copied, user_version 3. Every other table already
 * has its version-3 shape.
 */
function downgradeToV3(file: string): void {
  const table = /CREATE TABLE IF NOT EXISTS transactions \([\s\S]*?\n\);/.exec(SCHEMA_V1)![0];
  const db = new Database(file);
  db.transaction(() => {
    db.exec(`ALTER TABLE transactions RENAME TO transactions_v4;
      ${table}
      INSERT INTO transactions (id, transaction_id, request_hash, message_type, status, reply, cert_serial, created_at)
        SELECT id, transaction_id, request_hash, message_type, status, reply, cert_serial, created_at FROM transactions_v4;
      DROP TABLE transactions_v4;
      CREATE INDEX transactions_transaction ON transactions (transaction_id);
      DROP INDEX pending_open;
      CREATE UNIQUE INDEX pending_open ON pending (transaction_id) WHERE status IN ('pending', 'approved');`);
    db.pragma('user_version = 3');
  })();
  db.close();
}

/**
 * RFC 8894 §3.3.3 and §3.2.1.1: one key enrolled in two fleets has one transactionID in both
 * (the hash of its key), so a transaction's pending request, and the certificate a CertPoll
 * answers with, are looked up in the fleet asked.
 */
describe('RFC 8894 §3.3.3 a transaction\'s pending request and CertPoll answer belong to their fleet', () => {
  let server: TestServer;
  let profiles: string;
  beforeAll(async () => {
    profiles = profilesDir();
    server = await twoFleets(undefined, profiles, 'modern-ecc-p384-manual');
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(profiles, { recursive: true, force: true });
  });

  /** A CertPoll (IssuerAndSubject) to the fleet `env` for `d`'s transaction. */
  const certPoll = (d: Device, env: ScepEnv) =>
    request(d, { messageType: 'CertPoll', payload: serialize(Object.assign(new IssuerAndSubject(), { issuer: env.ca.certificate.tbsCertificate.subject, subject: parseName(d.subject) })) });
  const serialOf = (r: CertRepResult) => (r.status === 'SUCCESS' ? serialHex(r.certificates[0]!.tbsCertificate.serialNumber) : r.status);

  it('a request pending in one fleet neither holds up nor answers the same transaction in another', async () => {
    const there = await device(otherUrl(server), 'CN=one-key-two-fleets,O=Test', 'ecdsa-p256');
    const { certificates } = await getCaCerts(server.url);
    const here: Device = { ...there, caCerts: certificates, recipient: pickRecipient(certificates) }; // the same key, so the same transactionID
    const other = server.fleets.env('other')!;

    expect(await exchange(otherUrl(server), there, await request(there))).toMatchObject({ status: 'PENDING' });
    const issuedHere = await exchange(server.url, here, await request(here)); // auto approval here
    expect(issuedHere.status).toBe('SUCCESS');
    expect(server.env.store.listPending().filter((p) => p.transactionId === there.transactionId).map((p) => p.fleet)).toEqual(['other']);

    expect(await exchange(otherUrl(server), there, await certPoll(there, other))).toMatchObject({ status: 'PENDING' });
    const [open] = server.env.store.listPending('pending', 'other').filter((p) => p.transactionId === there.transactionId);
    expect(server.env.store.decide(open!.id, 'approved')).toBe(true);
    const issuedThere = await exchange(otherUrl(server), there, await certPoll(there, other));
    expect(issuedThere.status).toBe('SUCCESS');

    // Each fleet's CertPoll answers with its own certificate of the transaction.
    const byFleet = Object.fromEntries(server.env.store.certificatesByTransaction(there.transactionId).map((c) => [c.fleet, c.serial]));
    expect(Object.keys(byFleet).sort()).toEqual(['default', 'other']);
    expect(serialOf(issuedHere)).toBe(byFleet.default);
    expect(serialOf(issuedThere)).toBe(byFleet.other);
    expect(serialOf(await exchange(server.url, here, await certPoll(here, server.env)))).toBe(byFleet.default);
    expect(serialOf(await exchange(otherUrl(server), there, await certPoll(there, other)))).toBe(byFleet.other);
  });

  it('a CertPoll to a fleet that has no request or certificate of the transaction is badCertID, whatever another fleet holds', async () => {
    const there = await device(otherUrl(server), 'CN=only-other,O=Test', 'ecdsa-p256');
    const { certificates } = await getCaCerts(server.url);
    const here: Device = { ...there, caCerts: certificates, recipient: pickRecipient(certificates) };
    const other = server.fleets.env('other')!;
    expect(await exchange(otherUrl(server), there, await request(there))).toMatchObject({ status: 'PENDING' });
    const [open] = server.env.store.listPending('pending', 'other').filter((p) => p.transactionId === there.transactionId);
    expect(server.env.store.decide(open!.id, 'approved')).toBe(true);
    expect(await exchange(otherUrl(server), there, await certPoll(there, other))).toMatchObject({ status: 'SUCCESS' });

    expect(await exchange(server.url, here, await certPoll(here, server.env))).toMatchObject({ status: 'FAILURE', failInfo: 'badCertID' });
  });
});

describe('RFC 8894 §3.3.1 exact replay across the schema version 3 → 4 migration', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pqscep-replay-v3-'));
  const profiles = profilesDir();
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profiles, { recursive: true, force: true });
  });

  it('a transaction answered before the migration is replayed identically in its fleet, and the other fleet answers the same bytes itself', async () => {
    const before = await twoFleets(dataDir, profiles);
    const d = await device(otherUrl(before), 'CN=migrated,O=Test', 'ecdsa-p256'); // enrolls in fleet 'other'
    const req = await request(d);
    const first = await post(otherUrl(before), req.der);
    expect(answerOf(first.body)).toBe('SUCCESS');
    await before.stop();

    const file = join(dataDir, 'pqscep.db');
    downgradeToV3(file);
    const after = await twoFleets(dataDir, profiles);
    try {
      const raw = new Database(file, { readonly: true });
      expect(raw.pragma('user_version', { simple: true })).toBe(4);
      raw.close();
      const replay = await post(otherUrl(after), req.der);
      expect(equalBytes(replay.body, first.body)).toBe(true);
      const elsewhere = await post(after.url, req.der);
      expect(equalBytes(elsewhere.body, first.body)).toBe(false);
      expect(answerOf(elsewhere.body)).toBe('FAILURE:badMessageCheck');
      expect(signedBy(elsewhere.body, [after.fleets.env('default')!, after.fleets.env('other')!])).toEqual(['default']);
      expect(after.env.store.certificatesByTransaction(d.transactionId).map((c) => c.fleet)).toEqual(['other']);
    } finally {
      await after.stop();
    }
  });
});
