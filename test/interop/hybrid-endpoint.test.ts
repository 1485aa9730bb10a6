/**
 * One SCEP URL for classical and post-quantum clients (docs/pqc-scep.md §2, §3): an RSA-2048 CA
 * with an RSA-2048 RA and an ML-KEM-768 RA, legacy algorithms allowed.
 *  - GetCACaps (RFC 8894 §3.5.2) lists ML-KEM-768 (an RA can receive with it) and ML-DSA-65 beside
 *    the RFC 8894 keywords;
 *  - GetCACert (RFC 8894 §4.2.1): the default view holds no ML-KEM certificate, the `message=pqc`
 *    view holds it;
 *  - micromdm scepclient (DES + SHA-1) and strongSwan pki (AES + SHA-256) still enroll: they are
 *    shown only the classical RA; scepclient shown the pqc view fails (it encrypts to every
 *    certificate and cannot encrypt to ML-KEM), which is why the default view hides it;
 *  - our client with an ML-DSA-65 key (enroll(), src/client/enroll.ts) enrolls through the
 *    ML-KEM RA on the same URL (KEMRecipientInfo to it, reply to its bound ML-KEM certificate).
 * Interop parts are skipped, with the reason in the title, when a client is not installed.
 * Leaves out: each client's full behaviour (scepclient.test.ts, strongswan.test.ts), independent
 * verification of the post-quantum messages (openssl35-pqc.test.ts).
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvelopedData } from '@peculiar/asn1-cms';
import type { Certificate } from '@peculiar/asn1-x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromPem } from '../../src/ca/pem.ts';
import { enroll } from '../../src/client/enroll.ts';
import { getCaCerts, getCaps } from '../../src/client/http.ts';
import { equalBytes, parse, serialize } from '../../src/cms/der.ts';
import { kemRecipientInfo } from '../../src/cms/kem-recipient-info.ts';
import { id_envelopedData } from '../../src/cms/oids.ts';
import { identifies, parseContentInfo, parseSignedData, spkiAlgorithmOid, spkiOf } from '../../src/cms/signed-data.ts';
import { CHALLENGE, clientRegistry, testServer, type TestServer, caDir } from '../helpers/server.ts';
import { hasScepclient, hasStrongswan, scepclientEnroll, strongswanEnroll } from './clients.ts';
import { expectExit, expectIssuedTo } from './expect.ts';

const TIMEOUT_MS = 30_000;
const id_alg_ml_kem_768 = '2.16.840.1.101.3.4.4.2';
const rsaEncryption = '1.2.840.113549.1.1.1';

const keyOid = (c: Certificate) => spkiAlgorithmOid(spkiOf(c));
const pemDer = (path: string) => fromPem(readFileSync(path, 'utf8'))[0]!.der;

describe('hybrid endpoint: RSA CA, RSA + ML-KEM-768 RAs, one URL for classical and post-quantum clients', () => {
  let server: TestServer;
  const work = mkdtempSync(join(tmpdir(), 'pqscep-hybrid-'));
  beforeAll(async () => {
    server = await testServer({ allowLegacy: true, caKeyType: 'rsa-2048', raKeyTypes: ['rsa-2048', 'ml-kem-768'] });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('GetCACaps lists ML-KEM-768 and ML-DSA-65 beside the RFC 8894 keywords (legacy ones included)', async () => {
    const caps = await getCaps(server.url);
    expect(caps).toEqual(expect.arrayContaining(['ML-KEM-768', 'ML-DSA-65', 'AES', 'DES3', 'POSTPKIOperation', 'SCEPStandard', 'SHA-256', 'SHA-384', 'SHA-512']));
    // Only the KEM an RA certificate really holds.
    expect(caps).not.toContain('ML-KEM-512');
    expect(caps).not.toContain('ML-KEM-1024');
  });

  it('GetCACert: the default view has no ML-KEM certificate; message=pqc adds the ML-KEM RA', async () => {
    const dflt = (await getCaCerts(server.url)).certificates;
    const pqc = (await getCaCerts(server.url, 'pqc')).certificates;
    const ca = pemDer(join(server.dataDir, 'ca.pem'));
    const rsaRa = pemDer(join(caDir(server), 'ra-rsa-2048.pem'));
    const kemRa = pemDer(join(caDir(server), 'ra-ml-kem-768.pem'));
    expect(dflt.map(keyOid)).not.toContain(id_alg_ml_kem_768);
    expect(dflt.map((c) => Buffer.from(serialize(c)))).toEqual([Buffer.from(rsaRa), Buffer.from(ca)]); // RAs first, CA last
    expect(pqc.map((c) => Buffer.from(serialize(c)))).toEqual([Buffer.from(rsaRa), Buffer.from(kemRa), Buffer.from(ca)]);
    expect(keyOid(pqc[1]!)).toBe(id_alg_ml_kem_768);
  });

  it('our client with an ML-DSA-65 key enrolls on the same URL through the ML-KEM RA', async () => {
    const key = await clientRegistry.byName('key', 'ml-dsa-65').generate();
    const saved = new Map<string, Uint8Array>();
    const { certificate, caCertificates } = await enroll({
      url: server.url, registry: clientRegistry, key, subject: 'CN=hybrid-ml-dsa-65,O=Test', challenge: CHALLENGE, save: (n, d) => saved.set(n, d),
    });
    expect(equalBytes(spkiOf(certificate), key.spki)).toBe(true);
    // It asked for the pqc view, and enveloped its request to the ML-KEM RA with a KEMRecipientInfo (RFC 9629).
    const kemRa = caCertificates.find((c) => keyOid(c) === id_alg_ml_kem_768);
    expect(kemRa).toBeDefined();
    const request = parseSignedData(saved.get('pkcsreq.der')!);
    const envelope = parse(parseContentInfo(request.content!, [id_envelopedData]).content, EnvelopedData, 'EnvelopedData');
    expect(envelope.recipientInfos).toHaveLength(1);
    const kemri = kemRecipientInfo(envelope.recipientInfos[0]!);
    expect(kemri).toBeDefined();
    expect(identifies(kemri!.rid, kemRa!)).toBe(true);
    // With no quantum-safe signer configured, the reply is signed by the RSA RA (src/scep/env.ts replySigner)
    // and enveloped to the client's bound ML-KEM certificate.
    const reply = parseSignedData(saved.get('certrep.der')!);
    expect(reply.signedData.signerInfos[0]!.signatureAlgorithm.algorithm).toBe(rsaEncryption);
    const replyEnvelope = parse(parseContentInfo(reply.content!, [id_envelopedData]).content, EnvelopedData, 'EnvelopedData');
    const replyKemri = kemRecipientInfo(replyEnvelope.recipientInfos[0]!);
    const replyCert = request.certificates.find((c) => keyOid(c) === id_alg_ml_kem_768)!;
    expect(identifies(replyKemri!.rid, replyCert)).toBe(true);
    // The certificate verifies with the RSA CA key (OpenSSL; only the CA's key is needed for that).
    const ca = new X509Certificate(readFileSync(join(server.dataDir, 'ca.pem')));
    const issued = new X509Certificate(serialize(certificate));
    expect(issued.checkIssued(ca)).toBe(true);
    expect(issued.verify(ca.publicKey)).toBe(true);
  });

  describe.skipIf(!hasScepclient)(`micromdm scepclient 2.1.0 (DES + SHA-1)${hasScepclient ? '' : ' (skipped: scepclient not installed)'}`, () => {
    it('is shown only the classical RA and the CA, and enrolls', async () => {
      const dir = join(work, 'scepclient');
      const r = await scepclientEnroll({ url: server.url, challenge: CHALLENGE, dir, cn: 'hybrid-scepclient', timeoutMs: TIMEOUT_MS });
      expectExit(r, 0);
      // scepclient -debug lists what GetCACert gave it (and it encrypts to all of those).
      const log = r.stdout + r.stderr;
      expect(log).toMatch(/msg=cacertlist count=2\b/);
      expect(log).toContain('rdn="CN=pqscep RA rsa-2048,O=pqscep"');
      expect(log).not.toMatch(/ml-kem/i);
      await expectIssuedTo(server, r.certPath, r.keyPath);
      expect(server.env.store.latestTransaction(r.transactionId!)).toMatchObject({ messageType: 'PKCSReq', status: 'SUCCESS' });
    });

    it('why the default view hides the ML-KEM RA: shown the pqc view, scepclient cannot build a request', async () => {
      const r = await scepclientEnroll({ url: server.url, challenge: CHALLENGE, dir: join(work, 'scepclient-pqc'), cn: 'hybrid-scepclient-pqc', caCertMessage: 'pqc', timeoutMs: TIMEOUT_MS });
      expect(r.timedOut).toBe(false);
      expect(r.code).not.toBe(0); // Go's pkcs7.Encrypt panics on the ML-KEM key (exit 2 with 2.1.0)
      expect(r.stdout + r.stderr).toMatch(/msg=cacertlist count=3\b/);
      expect(r.cert).toBeUndefined();
    });
  });

  describe.skipIf(!hasStrongswan)(`strongSwan pki 5.9.8 (AES + SHA-256)${hasStrongswan ? '' : ' (skipped: pki or its curl fetcher plugin not installed)'}`, () => {
    it('--scepca stores the RSA RA as the only RA, and --scep enrolls through it', async () => {
      const dir = join(work, 'strongswan');
      const r = await strongswanEnroll({ url: server.url, challenge: CHALLENGE, dir, cn: 'hybrid-strongswan', timeoutMs: TIMEOUT_MS });
      expectExit(r, 0);
      expect(r.getCA?.raPaths).toHaveLength(1);
      expect(Buffer.from(pemDer(r.getCA!.raPaths[0]!)).equals(pemDer(join(caDir(server), 'ra-rsa-2048.pem')))).toBe(true);
      expect(Buffer.from(pemDer(r.getCA!.caPath!)).equals(pemDer(join(server.dataDir, 'ca.pem')))).toBe(true);
      expect(r.command).toContain(join(dir, 'ra.pem'));
      await expectIssuedTo(server, r.certPath, r.keyPath);
      expect(server.env.store.latestTransaction(r.transactionId!)).toMatchObject({ messageType: 'PKCSReq', status: 'SUCCESS' });
    });
  });
});
