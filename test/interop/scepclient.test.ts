/**
 * Interop with micromdm `scepclient` 2.1.0 (Debian package `scep`), run as a real process
 * against an in-process pqscep server on loopback: PKCSReq (RFC 8894 §3.3.1), RenewalReq
 * (§3.3.1.2) signed by the first certificate, and FAILURE CertReps with failInfo (§3.3.2.2).
 * scepclient always envelopes with single DES and signs with SHA-1 (test/vectors/interop/README.md),
 * so enrollment needs `allowLegacy`; without it the answer is FAILURE badAlg.
 * Checked with the openssl CLI: the issued certificate chains to the server's CA (data folder
 * ca.pem) and holds the client's public key.
 * Leaves out: scepclient's GET path and PENDING (it re-sends every 30 s, forever).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHALLENGE, testServer, type TestServer } from '../helpers/server.ts';
import { hasScepclient, scepclientEnroll, scepclientRenew } from './clients.ts';
import { expectExit, expectIssuedTo, openssl } from './expect.ts';

const TIMEOUT_MS = 30_000;

const serialOf = async (certPath: string) => (await openssl('x509', '-serial', '-noout', '-in', certPath)).trim();

describe.skipIf(!hasScepclient)('micromdm scepclient 2.1.0 (skipped: scepclient not installed)', () => {
  const work = mkdtempSync(join(tmpdir(), 'pqscep-scepclient-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  describe('RFC 8894 §3.3.1 PKCSReq and RenewalReq, legacy algorithms allowed (DES + SHA-1)', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await testServer({ allowLegacy: true });
    });
    afterAll(() => server?.stop());

    it('enrolls, then renews with a RenewalReq signed by the first certificate', async () => {
      const dir = join(work, 'enroll-renew');
      const first = await scepclientEnroll({ url: server.url, challenge: CHALLENGE, dir, cn: 'interop-scepclient', timeoutMs: TIMEOUT_MS });
      expectExit(first, 0);
      expect(first.cert).toContain('-----BEGIN CERTIFICATE-----');
      expect(first.failInfo).toBeUndefined();
      await expectIssuedTo(server, first.certPath, first.keyPath);
      expect(await openssl('x509', '-subject', '-noout', '-in', first.certPath)).toContain('CN = interop-scepclient');
      const firstSerial = await serialOf(first.certPath);

      // The RenewalReq carries the enrollment's CSR (csr.pem, with the challenge) and is signed by
      // client.pem; the server accepts it because it issued that certificate.
      const renewed = await scepclientRenew({ url: server.url, dir, timeoutMs: TIMEOUT_MS });
      expectExit(renewed, 0);
      expect(renewed.cert).toContain('-----BEGIN CERTIFICATE-----');
      expect(renewed.cert).not.toBe(first.cert);
      await expectIssuedTo(server, renewed.certPath, renewed.keyPath);
      expect(await serialOf(renewed.certPath)).not.toBe(firstSerial);
      expect(await serialOf(renewed.oldCertPath)).toBe(firstSerial);
      // scepclient's transactionID depends only on the key, so the renewal repeats it.
      expect(first.transactionId).toBeTruthy();
      expect(renewed.transactionId).toBe(first.transactionId);
      expect(server.env.store.latestTransaction(renewed.transactionId!)).toMatchObject({ messageType: 'RenewalReq', status: 'SUCCESS' });
    });

    it('renews without any challenge in a new CSR, authenticated by the certificate alone', async () => {
      const dir = join(work, 'renew-no-challenge');
      const first = await scepclientEnroll({ url: server.url, challenge: CHALLENGE, dir, cn: 'interop-renew-2', timeoutMs: TIMEOUT_MS });
      expectExit(first, 0);
      const renewed = await scepclientRenew({ url: server.url, dir, newCsr: true, cn: 'interop-renew-2', timeoutMs: TIMEOUT_MS });
      expectExit(renewed, 0);
      expect(server.env.store.latestTransaction(renewed.transactionId!)).toMatchObject({ messageType: 'RenewalReq', status: 'SUCCESS' });
      await expectIssuedTo(server, renewed.certPath, renewed.keyPath);
      expect(await serialOf(renewed.certPath)).not.toBe(await serialOf(renewed.oldCertPath));
    });

    it('RFC 8894 §3.3.2.2: a wrong challenge ends with exit 1 and failInfo badRequest', async () => {
      const r = await scepclientEnroll({ url: server.url, challenge: 'wrong-challenge', dir: join(work, 'bad-challenge'), cn: 'interop-bad', timeoutMs: TIMEOUT_MS });
      expectExit(r, 1);
      expect(r.failInfo).toBe('badRequest');
      expect(r.stdout).toMatch(/failInfo: badRequest \(2\)/);
      expect(r.cert).toBeUndefined();
    });

    it('RFC 8894 §3.3.2.2: no challenge at all ends with exit 1 and failInfo badRequest', async () => {
      const r = await scepclientEnroll({ url: server.url, dir: join(work, 'no-challenge'), cn: 'interop-none', timeoutMs: TIMEOUT_MS });
      expectExit(r, 1);
      expect(r.failInfo).toBe('badRequest');
    });
  });

  describe('RFC 8894 §3.5.2 legacy algorithms off (the default): DES and SHA-1 refused', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await testServer();
    });
    afterAll(() => server?.stop());

    it('answers scepclient with a signed FAILURE badAlg (exit 1), not an HTTP error', async () => {
      const r = await scepclientEnroll({ url: server.url, challenge: CHALLENGE, dir: join(work, 'no-legacy'), cn: 'interop-nolegacy', timeoutMs: TIMEOUT_MS });
      expectExit(r, 1);
      expect(r.failInfo).toBe('badAlg');
      expect(r.stdout).toMatch(/failInfo: badAlg \(0\)/);
      expect(r.cert).toBeUndefined();
    });
  });
});
