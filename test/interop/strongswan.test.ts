/**
 * Interop with strongSwan `pki --scepca` / `pki --scep` 5.9.8 (Debian packages strongswan-pki +
 * libstrongswan-extra-plugins), run as real processes against an in-process pqscep server on
 * loopback: GetCACert (RFC 8894 §4.2), PKCSReq enveloped to the RA (§2.2, §3.3.1), RenewalReq
 * signed by the old certificate for a new key (§3.3.1.2), FAILURE with failInfo (§3.3.2.2), and
 * the `--cipher des3` request when legacy algorithms are allowed.
 * strongSwan uses AES-128-CBC + SHA-256 by default, so no legacy setting is needed for it.
 * Checked with the openssl CLI: the issued certificate chains to the server's CA and holds the
 * client's (new) public key.
 * Leaves out: PENDING / CertPoll (covered by the protocol tests), strongSwan's GET path
 * (unreachable in 5.9.8, see test/vectors/interop/README.md).
 */
import { normalizeSerial } from '../../src/fleet/admin-ops.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHALLENGE, testServer, type TestServer, caDir } from '../helpers/server.ts';
import { hasStrongswan, strongswanEnroll, strongswanGetCA, strongswanRenew } from './clients.ts';
import { expectExit, expectIssuedTo, openssl } from './expect.ts';

const TIMEOUT_MS = 30_000;

const fingerprint = async (certPath: string) => (await openssl('x509', '-fingerprint', '-sha256', '-noout', '-in', certPath)).trim();
const serialOf = async (certPath: string) => (await openssl('x509', '-serial', '-noout', '-in', certPath)).trim();
/** The serial as the store keys it. */
const storedSerial = async (certPath: string) => normalizeSerial((await serialOf(certPath)).replace(/^serial=/, ''));

describe.skipIf(!hasStrongswan)('strongSwan pki 5.9.8 (skipped: pki or its curl fetcher plugin not installed)', () => {
  const work = mkdtempSync(join(tmpdir(), 'pqscep-strongswan-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  describe('RFC 8894 default algorithms (AES-128-CBC + SHA-256)', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await testServer();
    });
    afterAll(() => server?.stop());

    it('RFC 8894 §4.2 GetCACert: pki --scepca stores the CA as ca.pem and the RA as ra.pem', async () => {
      const r = await strongswanGetCA({ url: server.url, dir: join(work, 'getca'), timeoutMs: TIMEOUT_MS });
      expectExit(r, 0);
      expect(r.caPath).toBeDefined();
      expect(r.raPaths).toHaveLength(1);
      expect(r.subCaPaths).toEqual([]);
      expect(await fingerprint(r.caPath!)).toBe(await fingerprint(join(server.dataDir, 'ca.pem')));
      expect(await fingerprint(r.raPaths[0])).toBe(await fingerprint(join(caDir(server), 'ra-rsa-2048.pem')));
    });

    it('RFC 8894 §3.3.1 PKCSReq enveloped to the RA: enrolls, then renews with a new key (RenewalReq)', async () => {
      const dir = join(work, 'enroll-renew');
      const first = await strongswanEnroll({ url: server.url, challenge: CHALLENGE, dir, cn: 'interop-strongswan', timeoutMs: TIMEOUT_MS });
      expectExit(first, 0);
      expect(first.stage).toBe('scep');
      // the driver envelopes to the RA when GetCACert returned one
      expect(first.command).toContain(join(dir, 'ra.pem'));
      expect(first.cert).toContain('-----BEGIN CERTIFICATE-----');
      await expectIssuedTo(server, first.certPath, first.keyPath);
      expect(await openssl('x509', '-subject', '-noout', '-in', first.certPath)).toContain('CN = interop-strongswan');
      expect(first.transactionId).toBeTruthy();
      expect(server.env.store.latestTransaction(first.transactionId!)).toMatchObject({ messageType: 'PKCSReq', status: 'SUCCESS' });

      // RFC 8894 §3.3.1.2: signed with the old certificate and key, the CSR holds a new key, no challenge.
      const oldKey = readFileSync(first.keyPath, 'utf8');
      const renewed = await strongswanRenew({ url: server.url, dir, cn: 'interop-strongswan', newKey: true, timeoutMs: TIMEOUT_MS });
      expectExit(renewed, 0);
      expect(renewed.command).not.toContain('--password');
      expect(readFileSync(renewed.oldKeyPath, 'utf8')).toBe(oldKey);
      expect(readFileSync(renewed.keyPath, 'utf8')).not.toBe(oldKey);
      await expectIssuedTo(server, renewed.certPath, renewed.keyPath);
      expect(await serialOf(renewed.certPath)).not.toBe(await serialOf(renewed.oldCertPath));
      // a new key gives strongSwan a new transactionID (SHA-1 of the new SPKI)
      expect(renewed.transactionId).toBeTruthy();
      expect(renewed.transactionId).not.toBe(first.transactionId);
      expect(server.env.store.latestTransaction(renewed.transactionId!)).toMatchObject({ messageType: 'RenewalReq', status: 'SUCCESS' });
    });

    it('RFC 8894 §3.3.1.2 renewal as a PKCSReq signed by the old certificate (renewal_via_pkcs_req) is a renewal: no challenge', async () => {
      const dir = join(work, 'renew-via-pkcsreq');
      const first = await strongswanEnroll({ url: server.url, challenge: CHALLENGE, dir, cn: 'interop-strongswan-2', timeoutMs: TIMEOUT_MS });
      expectExit(first, 0);
      const renewed = await strongswanRenew({ url: server.url, dir, cn: 'interop-strongswan-2', renewalViaPkcsReq: true, timeoutMs: TIMEOUT_MS });
      expectExit(renewed, 0);
      expect(renewed.command).not.toContain('--password');
      await expectIssuedTo(server, renewed.certPath, renewed.keyPath);
      expect(server.env.store.latestTransaction(renewed.transactionId!)).toMatchObject({ messageType: 'PKCSReq', status: 'SUCCESS' });
      const issued = server.env.store.audit().filter((a) => a.action === 'certificate.issue').at(-1)!;
      expect(issued.subject).toBe(await storedSerial(renewed.certPath));
      expect(issued.details).toMatchObject({ authorization: 'renewal', renewalOf: await storedSerial(renewed.oldCertPath), messageType: 'PKCSReq' });
    });

    it('RFC 8894 §3.3.2.2: a wrong challenge ends with exit 1 and failInfo badRequest', async () => {
      const r = await strongswanEnroll({ url: server.url, challenge: 'wrong', dir: join(work, 'bad-challenge'), cn: 'interop-bad', timeoutMs: TIMEOUT_MS });
      expectExit(r, 1);
      expect(r.stage).toBe('scep');
      expect(r.failInfo).toBe('badRequest');
      expect(r.cert).toBeUndefined();
    });

    it('RFC 8894 §3.5.2: --cipher des3 is refused with FAILURE badAlg while legacy algorithms are off', async () => {
      const r = await strongswanEnroll({ url: server.url, challenge: CHALLENGE, dir: join(work, 'des3-off'), cn: 'interop-des3-off', cipher: 'des3', timeoutMs: TIMEOUT_MS });
      expectExit(r, 1);
      expect(r.stage).toBe('scep');
      expect(r.failInfo).toBe('badAlg');
    });
  });

  describe('RFC 8894 §3.5.2 DES3, legacy algorithms allowed', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await testServer({ allowLegacy: true });
    });
    afterAll(() => server?.stop());

    it('enrolls with --cipher des3 (DES-EDE3-CBC envelope)', async () => {
      const dir = join(work, 'des3');
      const r = await strongswanEnroll({ url: server.url, challenge: CHALLENGE, dir, cn: 'interop-des3', cipher: 'des3', timeoutMs: TIMEOUT_MS });
      expectExit(r, 0);
      expect(r.command).toEqual(expect.arrayContaining(['--cipher', 'des3']));
      await expectIssuedTo(server, r.certPath, r.keyPath);
    });
  });
});
