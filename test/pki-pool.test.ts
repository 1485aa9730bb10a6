/**
 * PKIOperation on worker threads (src/scep/pki-pool.ts, `--workers`): a server with two
 * threads answers concurrent enrollments from distinct devices, each with its own certificate;
 * an exact replay, sent concurrently and afterwards, gets the same reply bytes and never a
 * second certificate (RFC 8894 §3.3.1); resends of one transaction, spread over both threads,
 * get one certificate (RFC 8894 §3.2.1.1: the worker asks the main thread for the
 * transaction's turn); a malformed message is still HTTP 400 from a worker; the requests of a
 * worker that exits are answered on the main thread (never an HTTP 500), once each.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCertRep } from '../src/client/pki-request.ts';
import { parseConfig } from '../src/config.ts';
import { PkiPool } from '../src/scep/pki-pool.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import { CHALLENGE, clientRegistry, device, exchange, post, request, silentLog, testServer, type TestServer } from './helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await testServer({ workers: 2, caKeyType: 'rsa-2048', raKeyTypes: ['rsa-2048'] });
});
afterAll(() => server?.stop());

describe('PKIOperation worker threads (--workers 2)', () => {
  it('enrolls concurrent devices, one certificate each', async () => {
    const devices = await Promise.all(Array.from({ length: 8 }, (_, i) => device(server.url, `CN=pool-${i},O=Test`)));
    const results = await Promise.all(devices.map(async (d) => exchange(server.url, d, await request(d))));
    for (const r of results) expect(r.status).toBe('SUCCESS');
    const issued = server.env.store.listCertificates().filter((c) => c.subject.includes('pool-'));
    expect(issued).toHaveLength(8);
  });

  it('answers an exact replay with the same bytes and issues once', async () => {
    const d = await device(server.url, 'CN=pool-replay,O=Test');
    const req = await request(d);
    const [a, b, c] = await Promise.all([post(server.url, req.der), post(server.url, req.der), post(server.url, req.der)]);
    const later = await post(server.url, req.der);
    for (const r of [a, b, c, later]) expect(r.status).toBe(200);
    expect(Buffer.from(b.body).equals(Buffer.from(a.body))).toBe(true);
    expect(Buffer.from(c.body).equals(Buffer.from(a.body))).toBe(true);
    expect(Buffer.from(later.body).equals(Buffer.from(a.body))).toBe(true);
    expect(server.env.store.listCertificates().filter((x) => x.subject.includes('pool-replay'))).toHaveLength(1);
  });

  it('RFC 8894 §3.2.1.1: eight concurrent resends of one transaction (fresh senderNonces) over both threads yield one certificate', async () => {
    const d = await device(server.url, 'CN=pool-resend,O=Test');
    const requests = await Promise.all(Array.from({ length: 8 }, () => request(d)));
    const replies = await Promise.all(requests.map((r) => exchange(server.url, d, r)));
    const serials = replies.map((r) => (r.status === 'SUCCESS' ? r.certificates.map((c) => Buffer.from(c.tbsCertificate.serialNumber).toString('hex')) : [r.status]));
    for (const r of replies) expect(r.status).toBe('SUCCESS');
    expect(new Set(serials.map((s) => s.join())).size).toBe(1);
    expect(server.env.store.certificatesByTransaction(d.transactionId)).toHaveLength(1);
  });

  it('keeps HTTP 400 for a message that is no pkiMessage', async () => {
    const replies = await Promise.all(Array.from({ length: 4 }, () => post(server.url, new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]))));
    for (const r of replies) expect(r.status).toBe(400);
  });
});

describe('a PKIOperation worker that exits (crashes)', () => {
  it('its requests in flight are answered on the main thread: SUCCESS, one certificate each', async () => {
    const host = await testServer({ workers: 1, caKeyType: 'rsa-2048', raKeyTypes: ['rsa-2048'] });
    const store = openSqliteStore(join(host.dataDir, 'pqscep.db'));
    const config = parseConfig({ port: 0, host: '127.0.0.1', dataDir: host.dataDir, challenge: CHALLENGE, logLevel: 'silent', workers: 2 });
    // A pool on the same data folder whose worker exits on its first request (test/fixtures).
    const pool = await PkiPool.start(config, CHALLENGE, store, silentLog, new URL('./fixtures/crashing-pki-worker.js', import.meta.url));
    try {
      const devices = await Promise.all([0, 1, 2, 3].map((i) => device(host.url, `CN=crash-${i},O=Test`)));
      const requests = await Promise.all(devices.map((d) => request(d)));
      // Four at once: the pool sends some to the worker, which dies with them in flight.
      const replies = await Promise.all(requests.map((r) => pool.run(r.der, host.env)));
      for (const [i, reply] of replies.entries()) {
        const result = await readCertRep(reply, requests[i], devices[i].caCerts, { certificate: devices[i].signer, key: devices[i].key }, clientRegistry);
        expect(result.status).toBe('SUCCESS');
        expect(store.certificatesByTransaction(devices[i].transactionId)).toHaveLength(1);
      }
      // The dead worker gets nothing more: the next request is answered too.
      const late = await device(host.url, 'CN=crash-late,O=Test');
      const lateRequest = await request(late);
      const lateReply = await readCertRep(await pool.run(lateRequest.der, host.env), lateRequest, late.caCerts, { certificate: late.signer, key: late.key }, clientRegistry);
      expect(lateReply.status).toBe('SUCCESS');
    } finally {
      await pool.close();
      store.close();
      await host.stop();
    }
  });
  it('a worker that exits while its request waits for the transaction\'s turn does not lock the transaction', async () => {
    const host = await testServer({ workers: 1, caKeyType: 'rsa-2048', raKeyTypes: ['rsa-2048'] });
    const store = openSqliteStore(join(host.dataDir, 'pqscep.db'));
    const d = await device(host.url, 'CN=crash-waiting,O=Test');
    const key = `${host.env.fleet}\n${d.transactionId}`;
    process.env.TEST_TURN_KEY = key; // read by the fixture worker
    const config = parseConfig({ port: 0, host: '127.0.0.1', dataDir: host.dataDir, challenge: CHALLENGE, logLevel: 'silent', workers: 2 });
    const pool = await PkiPool.start(config, CHALLENGE, store, silentLog, new URL('./fixtures/turn-then-exit-pki-worker.js', import.meta.url));
    try {
      // Another request of the transaction holds its turn (white-box: as one answered on the main thread would).
      const hold = await (pool as unknown as { acquire(key: string): Promise<() => void> }).acquire(key);
      const r = await request(d);
      const answered = pool.run(r.der, host.env);
      await new Promise((res) => setTimeout(res, 500)); // the worker asked for the turn, then exited
      hold();
      const reply = await Promise.race([answered, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('the transaction stayed locked')), 10_000))]);
      const result = await readCertRep(reply, r, d.caCerts, { certificate: d.signer, key: d.key }, clientRegistry);
      expect(result.status).toBe('SUCCESS');
    } finally {
      delete process.env.TEST_TURN_KEY;
      await pool.close();
      store.close();
      await host.stop();
    }
  }, 30_000);
});
