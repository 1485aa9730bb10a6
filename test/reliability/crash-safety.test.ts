/**
 * Crash safety (issue 6): `pqscep serve` killed with SIGKILL at a random moment while
 * CRASH_CLIENTS clients enroll concurrently, CRASH_ROUNDS times on one data folder. After each
 * restart (same port and data folder) the store must show:
 * - every acknowledged certificate (the client read a SUCCESS CertRep holding it) with its serial
 *   and the same DER: a reply is only sent after its rows are committed (store.ts, synchronous=FULL);
 * - no serial twice, and each certificate's DER carries the serial of its row (RFC 5280 §4.1.2.2);
 * - no transactionID with two certificates;
 * and the server must answer an exact replay of an acknowledged request with the identical reply
 * (RFC 8894 §3.3.1, our replay rule). Requests whose reply was lost (the client saw a connection
 * error) are resent after the restart, once as the same bytes and once rebuilt with a fresh
 * senderNonce as a client retrying would: both get SUCCESS with one and the same certificate.
 * The kill moments come from a seeded PRNG (CRASH_SEED), printed with every failure.
 * Clients: ECDSA P-256 keys (fast), our client library (src/client), POST; server: RSA CA and RA.
 * Leaves out: kills during CA bootstrap and fleet switches, and manual approval (PENDING).
 */
import { Certificate } from '@peculiar/asn1-x509';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serialHex } from '../../src/ca/certificate.ts';
import { equalBytes, parse, serialize } from '../../src/cms/der.ts';
import { spkiOf } from '../../src/cms/signed-data.ts';
import { pickRecipient } from '../../src/client/enroll.ts';
import { selfSignedSigner } from '../../src/client/csr.ts';
import { getCaCerts } from '../../src/client/http.ts';
import { readCertRep, transactionIdFor, type BuiltRequest } from '../../src/client/pki-request.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { freePort } from '../helpers/cli.ts';
import { Rng } from '../helpers/der-mutator.ts';
import { serveProcess, type ServeProcess } from '../helpers/serve-process.ts';
import { clientRegistry, post, request, type Device } from '../helpers/server.ts';

const SEED = Number(process.env.CRASH_SEED ?? 0x8894_0009);
const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 20);
const CLIENTS = Number(process.env.CRASH_CLIENTS ?? 12);

interface Attempt {
  readonly device: Device;
  readonly req: BuiltRequest;
  outcome: 'acked' | 'lost' | 'refused';
  reply?: Uint8Array;
  cert?: { serial: string; der: Uint8Array };
  note?: string;
}

const data = mkdtempSync(join(tmpdir(), 'pqscep-crash-'));
const rng = new Rng(SEED);
let server: ServeProcess | undefined;
afterAll(async () => {
  await server?.stop('SIGKILL');
  rmSync(data, { recursive: true, force: true });
});

async function newDevice(url: string, name: string): Promise<Device> {
  const key = await clientRegistry.byName('key', 'ecdsa-p256').generate();
  const { certificates: caCerts } = await getCaCerts(url);
  const subject = `CN=${name},O=Crash`;
  return { key, subject, signer: await selfSignedSigner(subject, key, clientRegistry), transactionId: transactionIdFor(key.spki), caCerts, recipient: pickRecipient(caCerts) };
}

/** Sends `req` and reads the answer; a connection error is a lost reply, anything but SUCCESS a refusal. */
async function attempt(url: string, a: Attempt): Promise<void> {
  let res: Awaited<ReturnType<typeof post>>;
  try {
    res = await post(url, a.req.der);
  } catch {
    a.outcome = 'lost';
    return;
  }
  if (res.status !== 200) return void ((a.outcome = 'refused'), (a.note = `HTTP ${res.status}: ${Buffer.from(res.body).toString().trim()}`));
  const rep = await readCertRep(res.body, a.req, a.device.caCerts, { certificate: a.device.signer, key: a.device.key }, clientRegistry);
  if (rep.status !== 'SUCCESS') return void ((a.outcome = 'refused'), (a.note = JSON.stringify(rep)));
  const cert = rep.certificates.find((c) => equalBytes(spkiOf(c), a.device.key.spki));
  if (!cert) return void ((a.outcome = 'refused'), (a.note = 'SUCCESS without our certificate'));
  a.outcome = 'acked';
  a.reply = res.body;
  a.cert = { serial: serialHex(cert.tbsCertificate.serialNumber), der: serialize(cert) };
}

/** One client: enroll new devices one after another until the server goes away. */
async function client(url: string, round: number, id: number, attempts: Attempt[]): Promise<void> {
  for (let n = 0; ; n++) {
    let device: Device;
    try {
      device = await newDevice(url, `r${round}-c${id}-${n}`);
    } catch {
      return; // the server died before this enrollment started
    }
    const a: Attempt = { device, req: await request(device), outcome: 'lost' };
    attempts.push(a);
    await attempt(url, a);
    if (a.outcome !== 'acked') return;
  }
}

describe(`crash safety: SIGKILL during ${CLIENTS} concurrent enrollments, ${ROUNDS} rounds (seed ${SEED})`, () => {
  it('no acknowledged certificate is lost, no serial reused, one certificate per transaction, replays answered identically', async () => {
    const port = await freePort();
    const args = ['--challenge', 'test-challenge-0123'];
    server = await serveProcess(data, args, { port });
    const acked: Attempt[] = [];
    const summary: string[] = [];
    let committedLost = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const attempts: Attempt[] = [];
      const running = Promise.all(Array.from({ length: CLIENTS }, (_, id) => client(server!.url, round, id, attempts)));
      const killAfter = 100 + rng.int(1900);
      await new Promise((r) => setTimeout(r, killAfter));
      const exit = await server.stop('SIGKILL');
      expect(exit.signal, `round ${round}: the server died on its own before the kill (seed ${SEED})`).toBe('SIGKILL');
      await running;
      server = await serveProcess(data, args, { port });

      const roundAcked = attempts.filter((a) => a.outcome === 'acked');
      const lost = attempts.filter((a) => a.outcome === 'lost');
      const refused = attempts.filter((a) => a.outcome === 'refused');
      expect(refused.map((a) => a.note), `round ${round}: refusals (seed ${SEED})`).toEqual([]);
      acked.push(...roundAcked);

      // Replays: an acknowledged request's exact bytes get the identical reply.
      for (const a of roundAcked) {
        const again = await post(server.url, a.req.der);
        expect(again.status).toBe(200);
        expect(equalBytes(again.body, a.reply!), `round ${round}: replay of ${a.device.subject} (seed ${SEED})`).toBe(true);
      }
      // Lost replies whose certificate was committed before the kill: the case a resend must not duplicate.
      const store = openSqliteStore(join(data, 'pqscep.db'));
      const committed = lost.filter((a) => store.certificatesByTransaction(a.device.transactionId).length > 0).length;
      store.close();
      committedLost += committed;
      // Lost replies: resend the same bytes, then a fresh request for the same transaction.
      for (const a of lost) {
        await attempt(server.url, a);
        expect(a.outcome, `round ${round}: resend of ${a.device.subject}: ${a.note ?? ''} (seed ${SEED})`).toBe('acked');
        const retry: Attempt = { device: a.device, req: await request(a.device), outcome: 'lost' };
        await attempt(server.url, retry);
        expect(retry.outcome, `round ${round}: fresh retry of ${a.device.subject}: ${retry.note ?? ''}`).toBe('acked');
        expect(retry.cert!.serial, `round ${round}: a retried transaction got a second certificate (seed ${SEED})`).toBe(a.cert!.serial);
        acked.push(a);
      }
      summary.push(`round ${round}: kill after ${killAfter} ms, ${attempts.length} enrollments, ${roundAcked.length} acknowledged, ${lost.length} lost replies (${committed} of them committed)`);
    }

    const store = openSqliteStore(join(data, 'pqscep.db'));
    try {
      const certs = store.listCertificates();
      const bySerial = new Map(certs.map((c) => [c.serial, c]));
      expect(bySerial.size, 'a serial appears twice').toBe(certs.length);
      for (const c of certs) expect(serialHex(parse(c.der, Certificate, 'Certificate').tbsCertificate.serialNumber)).toBe(c.serial);
      const perTransaction = new Map<string, number>();
      for (const c of certs) perTransaction.set(c.transactionId, (perTransaction.get(c.transactionId) ?? 0) + 1);
      expect([...perTransaction].filter(([, n]) => n > 1), 'transactions with two certificates').toEqual([]);
      for (const a of acked) {
        const row = bySerial.get(a.cert!.serial);
        expect(row, `acknowledged certificate ${a.cert!.serial} of ${a.device.subject} is missing (seed ${SEED})`).toBeDefined();
        expect(row!.transactionId).toBe(a.device.transactionId);
        expect(equalBytes(row!.der, a.cert!.der)).toBe(true);
      }
      console.log(`${summary.join('\n')}\ntotal: ${acked.length} acknowledged certificates checked, ${certs.length} in the store, ${committedLost} lost replies of committed issuances resent`);
      expect(acked.length).toBeGreaterThan(ROUNDS);
    } finally {
      store.close();
    }
  }, 900_000);
});
