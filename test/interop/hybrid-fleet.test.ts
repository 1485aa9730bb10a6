/**
 * The hybrid-transition profile (profiles/hybrid-transition.json) on one URL, started the way an
 * operator would: `serve --profile hybrid-transition`, no `--allow-legacy` (the profile itself
 * names DES-CBC and SHA-1 in "legacy", because micromdm's scepclient uses nothing else).
 *  - GetCACaps (RFC 8894 §3.5.2) lists exactly what the profile allows: AES and the SHA-2
 *    family, SHA-1 (named legacy), the ML-DSA signatures, ML-KEM-768 (its RA); no DES3 (the
 *    profile names DES-CBC, not 3DES) and nothing it does not allow (SLH-DSA, ML-KEM-1024).
 *  - micromdm scepclient 2.1.0 (DES + SHA-1) and strongSwan pki 5.9.8 (AES + SHA-256) enroll:
 *    they are shown only the RSA RA (GetCACert without message=pqc). Both would fail had they
 *    been given the ML-KEM RA (scepclient encrypts to every certificate it gets).
 *  - our client with an ML-DSA-65 key (src/client/enroll.ts) enrolls on the same URL through
 *    the ML-KEM-768 RA (KEMRecipientInfo, RFC 9629).
 * Every certificate chains to the same RSA CA. Interop parts are skipped, with the reason in the
 * title, when a client binary is missing.
 * Leaves out: the same endpoint configured by flags (hybrid-endpoint.test.ts), each client's full
 * behaviour (scepclient.test.ts, strongswan.test.ts).
 */
import { EnvelopedData } from '@peculiar/asn1-cms';
import type { Certificate } from '@peculiar/asn1-x509';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromPem } from '../../src/ca/pem.ts';
import { enroll } from '../../src/client/enroll.ts';
import { getCaCerts, getCaps } from '../../src/client/http.ts';
import { equalBytes, parse, serialize } from '../../src/cms/der.ts';
import { kemRecipientInfo } from '../../src/cms/kem-recipient-info.ts';
import { id_envelopedData } from '../../src/cms/oids.ts';
import { identifies, parseContentInfo, parseSignedData, spkiAlgorithmOid, spkiOf } from '../../src/cms/signed-data.ts';
import { CHALLENGE, caDir, clientRegistry, testServer, type TestServer } from '../helpers/server.ts';
import { hasScepclient, hasStrongswan, scepclientEnroll, strongswanEnroll } from './clients.ts';
import { expectExit, expectIssuedTo } from './expect.ts';

const TIMEOUT_MS = 30_000;
const id_alg_ml_kem_768 = '2.16.840.1.101.3.4.4.2';

const keyOid = (c: Certificate) => spkiAlgorithmOid(spkiOf(c));
const pemDer = (path: string) => fromPem(readFileSync(path, 'utf8'))[0]!.der;

describe('profile hybrid-transition: legacy, classical and post-quantum clients on one URL', () => {
  let server: TestServer;
  const work = mkdtempSync(join(tmpdir(), 'pqscep-hybrid-fleet-'));
  beforeAll(async () => {
    server = await testServer({ profile: 'hybrid-transition' });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs the profile as named: RSA CA, RSA + ML-KEM-768 RAs, legacy from the profile (no --allow-legacy)', () => {
    expect(server.env.profile).toBe('hybrid-transition');
    expect(server.env.ca.key.keyType).toBe('rsa-2048');
    expect(server.env.ras.map((r) => r.key.keyType)).toEqual(['rsa-2048', 'ml-kem-768']);
    expect(server.env.registry.allowLegacy).toBe(true);
    expect([...server.env.policy.ciphers]).toContain('DES-CBC');
    expect([...server.env.policy.ciphers]).not.toContain('DES-EDE3-CBC');
  });

  it('GetCACaps: the keywords of what the profile allows, nothing more', async () => {
    const caps = await getCaps(server.url);
    expect(caps).toEqual(['AES', 'POSTPKIOperation', 'Renewal', 'SCEPStandard', 'SHA-1', 'SHA-256', 'SHA-384', 'SHA-512', 'ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87', 'ML-KEM-768']);
  });

  it('GetCACert: the default view holds the RSA RA and CA only; message=pqc adds the ML-KEM-768 RA', async () => {
    const dflt = (await getCaCerts(server.url)).certificates;
    const pqc = (await getCaCerts(server.url, 'pqc')).certificates;
    expect(dflt.map((c) => Buffer.from(serialize(c)))).toEqual([Buffer.from(pemDer(join(caDir(server), 'ra-rsa-2048.pem'))), Buffer.from(pemDer(join(server.dataDir, 'ca.pem')))]);
    expect(pqc.map(keyOid)).toContain(id_alg_ml_kem_768);
  });

  it('our client with an ML-DSA-65 key enrolls through the ML-KEM-768 RA', async () => {
    const key = await clientRegistry.byName('key', 'ml-dsa-65').generate();
    const saved = new Map<string, Uint8Array>();
    const { certificate, caCertificates } = await enroll({
      url: server.url, registry: clientRegistry, key, subject: 'CN=fleet-ml-dsa-65,O=Test', challenge: CHALLENGE, save: (n, d) => saved.set(n, d),
    });
    expect(equalBytes(spkiOf(certificate), key.spki)).toBe(true);
    const kemRa = caCertificates.find((c) => keyOid(c) === id_alg_ml_kem_768)!;
    const request = parseSignedData(saved.get('pkcsreq.der')!);
    const envelope = parse(parseContentInfo(request.content!, [id_envelopedData]).content, EnvelopedData, 'EnvelopedData');
    const kemri = kemRecipientInfo(envelope.recipientInfos[0]!);
    expect(kemri && identifies(kemri.rid, kemRa)).toBe(true);
    const ca = new X509Certificate(readFileSync(join(server.dataDir, 'ca.pem')));
    expect(new X509Certificate(serialize(certificate)).verify(ca.publicKey)).toBe(true);
  });

  describe.skipIf(!hasScepclient)(`micromdm scepclient 2.1.0 (DES + SHA-1)${hasScepclient ? '' : ' (skipped: scepclient not installed)'}`, () => {
    it('is shown only the RSA RA and the CA, and enrolls with DES and SHA-1 allowed by the profile alone', async () => {
      const r = await scepclientEnroll({ url: server.url, challenge: CHALLENGE, dir: join(work, 'scepclient'), cn: 'fleet-scepclient', timeoutMs: TIMEOUT_MS });
      expectExit(r, 0);
      const log = r.stdout + r.stderr;
      expect(log).toMatch(/msg=cacertlist count=2\b/); // it encrypts to every one of these
      expect(log).not.toMatch(/ml-kem/i);
      await expectIssuedTo(server, r.certPath, r.keyPath);
      expect(server.env.store.latestTransaction(r.transactionId!)).toMatchObject({ messageType: 'PKCSReq', status: 'SUCCESS' });
    });
  });

  describe.skipIf(!hasStrongswan)(`strongSwan pki 5.9.8 (AES + SHA-256)${hasStrongswan ? '' : ' (skipped: pki or its curl fetcher plugin not installed)'}`, () => {
    it('--scepca stores the RSA RA as the only RA, and --scep enrolls through it', async () => {
      const r = await strongswanEnroll({ url: server.url, challenge: CHALLENGE, dir: join(work, 'strongswan'), cn: 'fleet-strongswan', timeoutMs: TIMEOUT_MS });
      expectExit(r, 0);
      expect(r.getCA?.raPaths).toHaveLength(1);
      expect(Buffer.from(pemDer(r.getCA!.raPaths[0]!)).equals(pemDer(join(caDir(server), 'ra-rsa-2048.pem')))).toBe(true);
      await expectIssuedTo(server, r.certPath, r.keyPath);
      expect(server.env.store.latestTransaction(r.transactionId!)).toMatchObject({ messageType: 'PKCSReq', status: 'SUCCESS' });
    });
  });

  it('every certificate issued on this URL comes from the one RSA CA', () => {
    const issued = server.env.store.listCertificates();
    expect(issued.length).toBeGreaterThanOrEqual(1 + Number(hasScepclient) + Number(hasStrongswan));
    expect(new Set(issued.map((c) => c.issuer))).toEqual(new Set([server.env.ca.fingerprint]));
    expect(new Set(issued.map((c) => c.keyAlgorithm))).toEqual(new Set(['ml-dsa-65', ...(hasScepclient || hasStrongswan ? ['rsa-2048'] : [])]));
  });
});
