/**
 * Post-quantum requests that must fail, through HTTP against an ML-DSA-65 CA with an ML-KEM-768
 * RA: each gets HTTP 200 and a CertRep FAILURE signed by the CA (ML-DSA) with the precise
 * failInfo (RFC 8894 §3.2.1.4.5, §3.3.2.2), never a 5xx, and no certificate is stored.
 *  - SignerInfo (RFC 9882 §3, RFC 5652 §5.4): truncated or bit-flipped ML-DSA signature
 *    (badMessageCheck); an ML-DSA-44 key with signatureAlgorithm id-ml-dsa-65, the HashML-DSA OID
 *    of RFC 9881 §8.3 and an unknown OID (badAlg);
 *  - KEMRecipientInfo (RFC 9629 §3, RFC 9936): truncated kemct, wrong kekLength (badMessageCheck),
 *    unknown KDF (badAlg);
 *  - the reply certificate (docs/pqc-scep.md §5): none, or one not signed by the signer's key,
 *    under 'require-kem' (badRequest); an RSA one bound to the signer under 'allow-classical'
 *    (SUCCESS, and badRequest under 'require-kem');
 *  - a CSR whose ML-DSA-65 SubjectPublicKeyInfo holds a key of the wrong length (RFC 9881 §4: badAlg).
 * Requests are built with the client library (src/client/csr.ts, src/cms/*.ts) with one piece
 * swapped or edited through @peculiar/asn1-* classes; no hand-written DER.
 * Leaves out: classical bad input (rfc8894-bad-input.test.ts, rfc8894-pki-operation.test.ts),
 * transport errors before the transaction is identified.
 */
import { randomBytes } from 'node:crypto';
import { EnvelopedData } from '@peculiar/asn1-cms';
import { OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, KeyUsage, KeyUsageFlags, id_ce_keyUsage, type Certificate } from '@peculiar/asn1-x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateSignatureAlgorithm, extension, parseName, randomSerial, signCertificate } from '../src/ca/certificate.ts';
import { buildCsr, selfSignedSigner } from '../src/client/csr.ts';
import { getCaCerts } from '../src/client/http.ts';
import { readCertRep, transactionIdFor, type BuiltRequest, type CertRepResult } from '../src/client/pki-request.ts';
import { equalBytes, octets, parse, serialize } from '../src/cms/der.ts';
import { sealEnvelope } from '../src/cms/enveloped-data.ts';
import { kemRecipientInfo, type KEMRecipientInfo } from '../src/cms/kem-recipient-info.ts';
import { id_envelopedData } from '../src/cms/oids.ts';
import { parseContentInfo, parseSignedData, spkiAlgorithmOid, spkiOf } from '../src/cms/signed-data.ts';
import { signData, wrap } from '../src/cms/signed-data-build.ts';
import { encodeSpki, rawPublicKey } from '../src/crypto/pq-keys.ts';
import type { PrivateKeyHandle, SignatureAlgorithm } from '../src/crypto/types.ts';
import { octetString, printable, transactionIdAttribute } from '../src/scep/attributes.ts';
import { MessageType, ScepOid } from '../src/scep/message.ts';
import { CHALLENGE, clientRegistry, post, testServer, type TestServer } from './helpers/server.ts';

const id_ml_dsa_44 = '2.16.840.1.101.3.4.3.17';
const id_ml_dsa_65 = '2.16.840.1.101.3.4.3.18';
/** id-hash-ml-dsa-44-with-sha512 (RFC 9881 §8.3, NIST CSOR sigAlgs 32): HashML-DSA, which pqscep does not offer. */
const id_hash_ml_dsa_44_with_sha512 = '2.16.840.1.101.3.4.3.32';
/** An OID no registry knows (an arc under a private enterprise number, nothing assigned). */
const UNKNOWN_OID = '1.3.6.1.4.1.99999.77.1';
/** id-alg-hkdf-with-sha256 is .28 (RFC 8619 §2); .99 in the same arc is not assigned. */
const UNKNOWN_KDF = '1.2.840.113549.1.9.16.3.99';
const ML_DSA_65_PUBLIC_KEY_BYTES = 1952; // FIPS 204 Table 2

/** A post-quantum client: its signing key, self-signed signer certificate, and the server's CA/RA certificates. */
interface PqClient {
  readonly key: PrivateKeyHandle;
  readonly subject: string;
  readonly signer: Certificate;
  readonly transactionId: string;
  readonly caCerts: readonly Certificate[];
  /** The RA's ML-KEM certificate (GetCACert, pqc view). */
  readonly ra: Certificate;
}

async function pqClient(url: string, keyType = 'ml-dsa-65'): Promise<PqClient> {
  const key = await clientRegistry.byName('key', keyType).generate();
  const subject = `CN=pq-bad-${randomBytes(4).toString('hex')},O=Test`;
  const { certificates } = await getCaCerts(url, 'pqc');
  const ra = certificates.find((c) => spkiAlgorithmOid(spkiOf(c)) === '2.16.840.1.101.3.4.4.2');
  if (!ra) throw new Error('GetCACert (pqc) has no ML-KEM-768 RA');
  return { key, subject, signer: await selfSignedSigner(subject, key, clientRegistry), transactionId: transactionIdFor(key.spki), caCerts: certificates, ra };
}

/** A certificate for `spki` issued under the client's subject and signed by `signingKey` (docs/pqc-scep.md §5). */
async function replyCertificate(c: PqClient, spki: Uint8Array, signingKey: PrivateKeyHandle = c.key): Promise<Certificate> {
  const name = parseName(c.subject);
  const now = Date.now();
  return signCertificate(
    {
      subject: name, issuer: name, spki, serial: randomSerial(), notBefore: new Date(now - 60_000), notAfter: new Date(now + 86400_000),
      extensions: [extension(id_ce_keyUsage, new KeyUsage(KeyUsageFlags.keyEncipherment), true)], // RFC 9935 §5
    },
    { key: signingKey, ...certificateSignatureAlgorithm(signingKey, clientRegistry) },
  );
}

/** A receiving key of `keyType` with a certificate for it; bound to the client unless another key signs it. */
async function receiver(c: PqClient, keyType: string, signingKey?: PrivateKeyHandle): Promise<{ certificate: Certificate; key: PrivateKeyHandle }> {
  const key = await clientRegistry.byName('key', keyType).generate();
  return { key, certificate: await replyCertificate(c, key.spki, signingKey) };
}

interface Build {
  /** The envelope's content; a fresh CSR with the challenge by default. */
  readonly payload?: Uint8Array;
  /** Edits the sealed EnvelopedData (DER) before it is signed. */
  readonly envelope?: (der: Uint8Array) => Uint8Array;
  /** Replaces the SignerInfo signature algorithm (OID and/or what sign() returns). */
  readonly signature?: (alg: SignatureAlgorithm) => SignatureAlgorithm;
  /** Certificates after the signer certificate (reply certificates). */
  readonly extra: readonly Certificate[];
}

/**
 * A PKCSReq as src/client/pki-request.ts buildPkiRequest makes it (AES-256-CBC envelope to the RA,
 * SHA-512 digest, RFC 9882 §3), with the pieces of `b` swapped in.
 */
async function pkcsReq(c: PqClient, b: Build): Promise<BuiltRequest> {
  const payload = b.payload ?? (await buildCsr({ subject: c.subject, key: c.key, challenge: CHALLENGE }, clientRegistry));
  const sealed = await sealEnvelope(payload, c.ra, clientRegistry.byName('cipher', 'AES-256-CBC'), clientRegistry);
  const senderNonce = new Uint8Array(randomBytes(16));
  const honest = certificateSignatureAlgorithm(c.key, clientRegistry).algorithm;
  const der = await signData({
    content: b.envelope ? b.envelope(sealed) : sealed,
    signerCertificate: c.signer,
    key: c.key,
    signature: b.signature ? b.signature(honest) : honest,
    digest: clientRegistry.byName('digest', 'SHA-512'),
    certificates: [c.signer, ...b.extra],
    attributes: [
      transactionIdAttribute(c.transactionId),
      printable(ScepOid.messageType, MessageType.PKCSReq),
      octetString(ScepOid.senderNonce, senderNonce),
    ],
  });
  return { der, senderNonce, transactionId: c.transactionId };
}

/** Edits the (single) KEMRecipientInfo of a sealed EnvelopedData through the asn1-schema classes. */
function editKemri(edit: (k: KEMRecipientInfo) => void): (der: Uint8Array) => Uint8Array {
  return (der) => {
    const env = parse(parseContentInfo(der, [id_envelopedData]).content, EnvelopedData, 'EnvelopedData');
    const ri = env.recipientInfos[0]!;
    const kemri = kemRecipientInfo(ri);
    if (!kemri || !ri.ori) throw new Error('the envelope has no KEMRecipientInfo');
    edit(kemri);
    ri.ori.oriValue = serialize(kemri).slice().buffer;
    return wrap(id_envelopedData, env);
  };
}

/**
 * POSTs `req` and reads the answer as a client does (signature by a CA/RA certificate from
 * GetCACert, nonces, transactionID). Never a 5xx: always 200 with a pkiMessage.
 */
async function send(server: TestServer, c: PqClient, req: BuiltRequest, me: { certificate: Certificate; key: PrivateKeyHandle }): Promise<CertRepResult & { replySignatureOid: string }> {
  const res = await post(server.url, req.der);
  expect(res.status, Buffer.from(res.body).toString()).toBe(200);
  expect(res.type).toBe('application/x-pki-message');
  const result = await readCertRep(res.body, req, c.caCerts, me, clientRegistry);
  return Object.assign(result, { replySignatureOid: parseSignedData(res.body).signedData.signerInfos[0]!.signatureAlgorithm.algorithm });
}

/** FAILURE with exactly `failInfo`, signed with ML-DSA (the reply to a post-quantum request, docs/pqc-scep.md §5), nothing issued. */
function expectFailure(server: TestServer, c: PqClient, r: CertRepResult & { replySignatureOid: string }, failInfo: string): void {
  expect(r.status).toBe('FAILURE');
  expect(r.status === 'FAILURE' ? r.failInfo : undefined).toBe(failInfo);
  expect(r.replySignatureOid).toBe(id_ml_dsa_65);
  expect(server.env.store.certificatesByTransaction(c.transactionId)).toEqual([]);
}

function expectIssued(r: CertRepResult, c: PqClient): void {
  expect(r.status, r.status === 'FAILURE' ? `FAILURE ${r.failInfo}` : r.status).toBe('SUCCESS');
  const certs = r.status === 'SUCCESS' ? r.certificates : [];
  expect(certs.some((cert) => equalBytes(spkiOf(cert), c.key.spki))).toBe(true);
}

describe('RFC 9881 / RFC 9882 / RFC 9629: malformed post-quantum requests get a signed CertRep FAILURE', () => {
  let server: TestServer;
  let classicalOk: TestServer;
  beforeAll(async () => {
    server = await testServer({ caKeyType: 'ml-dsa-65', raKeyTypes: ['ml-kem-768'] });
    classicalOk = await testServer({ caKeyType: 'ml-dsa-65', raKeyTypes: ['ml-kem-768'], pqReplyEnvelope: 'allow-classical' });
  });
  afterAll(async () => {
    await server?.stop();
    await classicalOk?.stop();
  });

  /** A client with a bound ML-KEM-768 reply certificate: everything right unless a case changes it. */
  async function setup(s: TestServer = server, keyType = 'ml-dsa-65') {
    const c = await pqClient(s.url, keyType);
    const kem = await receiver(c, 'ml-kem-768');
    return { c, kem };
  }

  it('control: the unmodified ML-DSA-65 request with a bound ML-KEM reply certificate is issued', async () => {
    const { c, kem } = await setup();
    expectIssued(await send(server, c, await pkcsReq(c, { extra: [kem.certificate] }), kem), c);
  });

  describe('SignerInfo signature (RFC 5652 §5.4, RFC 9882 §3)', () => {
    it.each([
      ['truncated by one byte', (s: Uint8Array) => s.slice(0, -1)],
      ['truncated to half', (s: Uint8Array) => s.slice(0, s.length >> 1)],
      ['one bit flipped', (s: Uint8Array) => s.map((b, i) => (i === 1000 ? b ^ 0x01 : b))],
      ['one byte appended', (s: Uint8Array) => new Uint8Array([...s, 0])],
    ])('ML-DSA-65 signature %s → badMessageCheck', async (_, mangle) => {
      const { c, kem } = await setup();
      const signature = (alg: SignatureAlgorithm): SignatureAlgorithm => ({ ...alg, sign: async (...a) => mangle(await alg.sign(...a)) });
      expectFailure(server, c, await send(server, c, await pkcsReq(c, { signature, extra: [kem.certificate] }), kem), 'badMessageCheck');
    });

    it('signer certificate with an ML-DSA-44 key, signatureAlgorithm id-ml-dsa-65 → badAlg', async () => {
      // A real ML-DSA-44 signature labelled ML-DSA-65. The OID names a parameter set the signer's
      // key cannot produce (RFC 9881 §2: one OID per parameter set, for key and signature alike),
      // so the server never tries to verify: it refuses the algorithm/key pairing, as for any
      // signatureAlgorithm that does not fit the key (src/cms/signed-data.ts) → badAlg. Either
      // badAlg or badMessageCheck would be defensible; badAlg tells the client what to fix.
      const { c, kem } = await setup(server, 'ml-dsa-44');
      expect(spkiAlgorithmOid(spkiOf(c.signer))).toBe(id_ml_dsa_44);
      const signature = (alg: SignatureAlgorithm): SignatureAlgorithm => ({ ...alg, oids: [id_ml_dsa_65] });
      const r = await send(server, c, await pkcsReq(c, { signature, extra: [kem.certificate] }), kem);
      expect(['badAlg', 'badMessageCheck']).toContain(r.status === 'FAILURE' ? r.failInfo : r.status);
      expectFailure(server, c, r, 'badAlg');
    });

    it('HashML-DSA OID 2.16.840.1.101.3.4.3.32 as signatureAlgorithm → badAlg (RFC 9881 §8.3: not offered)', async () => {
      const { c, kem } = await setup(server, 'ml-dsa-44');
      const signature = (alg: SignatureAlgorithm): SignatureAlgorithm => ({ ...alg, oids: [id_hash_ml_dsa_44_with_sha512] });
      expectFailure(server, c, await send(server, c, await pkcsReq(c, { signature, extra: [kem.certificate] }), kem), 'badAlg');
    });

    it('an unknown signatureAlgorithm OID → badAlg', async () => {
      const { c, kem } = await setup();
      const signature = (alg: SignatureAlgorithm): SignatureAlgorithm => ({ ...alg, oids: [UNKNOWN_OID] });
      expectFailure(server, c, await send(server, c, await pkcsReq(c, { signature, extra: [kem.certificate] }), kem), 'badAlg');
    });
  });

  describe('KEMRecipientInfo of the request envelope (RFC 9629 §3, RFC 9936 §3)', () => {
    it.each([
      ['kemct truncated by one byte', 'badMessageCheck', (k: KEMRecipientInfo): void => { k.kemct = new OctetString(octets(k.kemct).slice(0, -1)); }],
      ['kemct truncated to half', 'badMessageCheck', (k: KEMRecipientInfo): void => { k.kemct = new OctetString(octets(k.kemct).slice(0, 544)); }],
      ['kekLength 16 with AES-256-WRAP', 'badMessageCheck', (k: KEMRecipientInfo): void => { k.kekLength = 16; }],
      ['kekLength 64', 'badMessageCheck', (k: KEMRecipientInfo): void => { k.kekLength = 64; }],
      ['an unknown KDF OID', 'badAlg', (k: KEMRecipientInfo): void => { k.kdf = new AlgorithmIdentifier({ algorithm: UNKNOWN_KDF }); }],
    ] as const)('%s → %s', async (_, failInfo, edit) => {
      const { c, kem } = await setup();
      expectFailure(server, c, await send(server, c, await pkcsReq(c, { envelope: editKemri(edit), extra: [kem.certificate] }), kem), failInfo);
    });

    it('control: the same edit path with no change is issued', async () => {
      const { c, kem } = await setup();
      expectIssued(await send(server, c, await pkcsReq(c, { envelope: editKemri(() => {}), extra: [kem.certificate] }), kem), c);
    });
  });

  describe('reply certificate (docs/pqc-scep.md §5)', () => {
    it("no ML-KEM reply certificate under the default 'require-kem' → badRequest", async () => {
      const { c, kem } = await setup();
      // `kem` only serves readCertRep's signature; the server never sees it.
      expectFailure(server, c, await send(server, c, await pkcsReq(c, { extra: [] }), kem), 'badRequest');
    });

    it("an ML-KEM reply certificate NOT signed by the signer's key is ignored → badRequest under 'require-kem'", async () => {
      const { c } = await setup();
      const stranger = await clientRegistry.byName('key', 'ml-dsa-65').generate();
      const unbound = await receiver(c, 'ml-kem-768', stranger); // same subject/issuer name, another key signed it
      expectFailure(server, c, await send(server, c, await pkcsReq(c, { extra: [unbound.certificate] }), unbound), 'badRequest');
    });

    it("an RSA reply certificate bound to the signer: SUCCESS under 'allow-classical' (enveloped to RSA), badRequest under 'require-kem'", async () => {
      const { c } = await setup(classicalOk);
      const rsa = await receiver(c, 'rsa-2048');
      const r = await send(classicalOk, c, await pkcsReq(c, { extra: [rsa.certificate] }), rsa); // opened with the RSA key
      expectIssued(r, c);
      expect(r.replySignatureOid).toBe(id_ml_dsa_65);

      const { c: c2 } = await setup(server);
      const rsa2 = await receiver(c2, 'rsa-2048');
      expectFailure(server, c2, await send(server, c2, await pkcsReq(c2, { extra: [rsa2.certificate] }), rsa2), 'badRequest');
    });

    it('a bound ML-KEM-768 certificate whose key is one byte short (FIPS 203 §7.2) is not received at → badRequest, not a 500, in both policies', async () => {
      for (const s of [server, classicalOk]) {
        const { c, kem } = await setup(s);
        const raw = rawPublicKey(kem.key.spki, '2.16.840.1.101.3.4.4.2', 1184)!;
        const short = await replyCertificate(c, encodeSpki('2.16.840.1.101.3.4.4.2', raw.slice(0, -1)));
        expectFailure(s, c, await send(s, c, await pkcsReq(c, { extra: [short] }), kem), 'badRequest');
      }
    });

    it("under 'allow-classical' a bound ML-KEM certificate still wins over a bound RSA one", async () => {
      const { c, kem } = await setup(classicalOk);
      const rsa = await receiver(c, 'rsa-2048');
      // Only the ML-KEM key is offered to readCertRep: the reply must be enveloped to it.
      expectIssued(await send(classicalOk, c, await pkcsReq(c, { extra: [rsa.certificate, kem.certificate] }), kem), c);
    });
  });

  describe('CSR (RFC 9881 §4, RFC 2986 §4)', () => {
    it('an ML-DSA-65 SubjectPublicKeyInfo whose key is one byte short → badAlg', async () => {
      // RFC 9881 §4: the subjectPublicKey of id-ml-dsa-65 is the 1952-byte FIPS 204 public key.
      // With 1951 bytes it is no ML-DSA-65 key, so no enabled key type accepts it; the server
      // refuses such a key before the self-signature check (src/scep/enroll.ts checkedCsr), as it
      // refuses any key type it does not support (RSA-1024 too) → badAlg. badRequest (a malformed
      // CSR) would also be defensible; what matters is that it is not issued and not a 5xx.
      const { c, kem } = await setup();
      const raw = rawPublicKey(c.key.spki, id_ml_dsa_65, ML_DSA_65_PUBLIC_KEY_BYTES)!;
      const shortKey: PrivateKeyHandle = { ...c.key, spki: encodeSpki(id_ml_dsa_65, raw.slice(0, -1)) };
      const payload = await buildCsr({ subject: c.subject, key: shortKey, challenge: CHALLENGE }, clientRegistry); // signed by the real key
      const r = await send(server, c, await pkcsReq(c, { payload, extra: [kem.certificate] }), kem);
      expect(['badAlg', 'badRequest']).toContain(r.status === 'FAILURE' ? r.failInfo : r.status);
      expectFailure(server, c, r, 'badAlg');
    });
  });
});
