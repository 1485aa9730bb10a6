/**
 * Post-quantum SCEP (docs/pqc-scep.md) checked by an implementation that is not ours: our real
 * client flow (`enroll()`, src/client/enroll.ts) enrolls an ML-DSA / SLH-DSA key against
 * ML-DSA CAs with ML-KEM RAs at every level, then asks for the CRL (GetCRL, RFC 8894 §3.3.5)
 * after revoking the certificate; every DER message is handed to a script run in REFERENCE_NODE
 * (Node 26, OpenSSL 3.5) that uses only asn1js and node:crypto to:
 *  (a) verify the issued certificate with the CA key (X509Certificate#verify) and compare its SPKI
 *      with the client's;
 *  (b) verify the CA self-signature and the RA certificates' signatures (GetCACert, pqc view);
 *  (c) verify the CertRep SignerInfo: DER(SET OF signedAttrs) re-tagged from the received bytes,
 *      messageDigest = hash(eContent) with the digest the SignerInfo names (SHA-512 for ML-DSA,
 *      RFC 9882 §3), ML-DSA signature over it (RFC 5652 §5.4), parameters absent;
 *  (d) open the CertRep's EnvelopedData with the client's ML-KEM key (RFC 9629 KEMRecipientInfo:
 *      decapsulate, HKDF over DER(CMSORIforKEMOtherInfo) rebuilt from the received fields, AES key
 *      unwrap, AES-CBC) and find the issued certificate;
 *  (e) open the PKCSReq envelope with the RA's ML-KEM key from the data folder, find the CSR and
 *      verify its signature (RFC 2986 §4.2) and the request's own SignerInfo and reply-certificate
 *      binding (docs/pqc-scep.md §5);
 *  (f) open the GetCRL CertRep the same way and verify the CRL signature over the received
 *      tbsCertList (RFC 5280 §5.1.1.3) with the CA key; the revoked serial is listed.
 * Skipped, with the reason in the title, when REFERENCE_NODE is not installed.
 * Leaves out: classical suites (test/rfc5652-cms-openssl.test.ts), malformed input
 * (test/rfc9881-pq-bad-input.test.ts), AuthEnvelopedData replies.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IssuerAndSerialNumber } from '@peculiar/asn1-cms';
import type { Certificate } from '@peculiar/asn1-x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateSignatureAlgorithm, serialHex } from '../../src/ca/certificate.ts';
import { fromPem } from '../../src/ca/pem.ts';
import { selfSignedSigner } from '../../src/client/csr.ts';
import { enroll } from '../../src/client/enroll.ts';
import { buildPkiRequest, readCertRep, transactionIdFor } from '../../src/client/pki-request.ts';
import { equalBytes, serialize } from '../../src/cms/der.ts';
import { parseSignedData, spkiAlgorithmOid, spkiOf } from '../../src/cms/signed-data.ts';
import type { Registry } from '../../src/crypto/registry.ts';
import type { Algorithm, PrivateKeyHandle } from '../../src/crypto/types.ts';
import { REFERENCE_NODE, hasReferenceNode, referenceMissingReason } from '../helpers/openssl35.ts';
import { CHALLENGE, clientRegistry, post, testServer, type TestServer, caDir } from '../helpers/server.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

const OID = Object.freeze({
  sha256: '2.16.840.1.101.3.4.2.1',
  sha512: '2.16.840.1.101.3.4.2.3',
  id_data: '1.2.840.113549.1.7.1',
  id_ori_kem: '1.2.840.113549.1.9.16.13.3',
  hkdf_sha256: '1.2.840.113549.1.9.16.3.28',
  aes128_wrap: '2.16.840.1.101.3.4.1.5',
  aes256_wrap: '2.16.840.1.101.3.4.1.45',
  aes256_cbc: '2.16.840.1.101.3.4.1.42',
  'ml-dsa-44': '2.16.840.1.101.3.4.3.17',
  'ml-dsa-65': '2.16.840.1.101.3.4.3.18',
  'ml-dsa-87': '2.16.840.1.101.3.4.3.19',
  'slh-dsa-sha2-128s': '2.16.840.1.101.3.4.3.20',
  'ml-kem-512': '2.16.840.1.101.3.4.4.1',
  'ml-kem-768': '2.16.840.1.101.3.4.4.2',
  'ml-kem-1024': '2.16.840.1.101.3.4.4.3',
} as const);
type KeyName = 'ml-dsa-44' | 'ml-dsa-65' | 'ml-dsa-87' | 'slh-dsa-sha2-128s' | 'ml-kem-512' | 'ml-kem-768' | 'ml-kem-1024';

/**
 * The independent side: asn1js walks the CMS, OpenSSL 3.5 (node:crypto) does every signature,
 * hash, decapsulation, HKDF, key unwrap and decryption. Nothing of pqscep runs here. Input: one
 * JSON case on stdin (DER as base64); output: what it found, as JSON, for the test to assert on.
 */
const INDEPENDENT_CHECKER = String.raw`
import { readFileSync } from 'node:fs';
import { X509Certificate, createDecipheriv, createHash, createPrivateKey, createPublicKey, decapsulate, hkdfSync, verify } from 'node:crypto';
import * as asn1js from 'asn1js';

const HASH = { '2.16.840.1.101.3.4.2.1': 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512' };
const KDF = { '1.2.840.113549.1.9.16.3.28': 'sha256', '1.2.840.113549.1.9.16.3.29': 'sha384', '1.2.840.113549.1.9.16.3.30': 'sha512' };
const WRAP = { '2.16.840.1.101.3.4.1.5': 'id-aes128-wrap', '2.16.840.1.101.3.4.1.25': 'id-aes192-wrap', '2.16.840.1.101.3.4.1.45': 'id-aes256-wrap' };
const CIPHER = { '2.16.840.1.101.3.4.1.2': 'aes-128-cbc', '2.16.840.1.101.3.4.1.22': 'aes-192-cbc', '2.16.840.1.101.3.4.1.42': 'aes-256-cbc' };
const SCEP = { transactionID: '2.16.840.1.113733.1.9.7', messageType: '2.16.840.1.113733.1.9.2', pkiStatus: '2.16.840.1.113733.1.9.3',
  senderNonce: '2.16.840.1.113733.1.9.5', recipientNonce: '2.16.840.1.113733.1.9.6' };
const id_contentType = '1.2.840.113549.1.9.3', id_messageDigest = '1.2.840.113549.1.9.4', id_data = '1.2.840.113549.1.7.1';
const id_signedData = '1.2.840.113549.1.7.2', id_envelopedData = '1.2.840.113549.1.7.3', id_challengePassword = '1.2.840.113549.1.9.7';

const der = (s) => Buffer.from(s, 'base64');
const parse = (buf) => {
  const { offset, result } = asn1js.fromBER(buf);
  if (offset === -1 || offset !== buf.length) throw new Error('not one BER element: ' + result.error);
  return result;
};
const raw = (e) => Buffer.from(e.valueBeforeDecodeView);
const val = (e) => Buffer.from(e.valueBlock.valueHexView);
const kids = (e) => e.valueBlock.value;
const oid = (e) => e.valueBlock.toString();
const algOid = (seq) => oid(kids(seq)[0]);
const paramsAbsent = (seq) => kids(seq).length === 1;
const ctx = (e, n) => e !== undefined && e.idBlock.tagClass === 3 && e.idBlock.tagNumber === n;
const octets = (e) => (e.idBlock.isConstructed ? Buffer.concat(kids(e).map(octets)) : val(e));
const hex = (b) => b.toString('hex');
const derLength = (n) => (n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff]);
const sequence = (parts) => { const body = Buffer.concat(parts); return Buffer.concat([Buffer.from([0x30, ...derLength(body.length)]), body]); };
const spkiOfKey = (k) => createPublicKey(k).export({ type: 'spki', format: 'der' });

/** Certificate: the fields the checks compare, as received. */
function certificate(buf) {
  const t = kids(kids(parse(buf))[0]);
  const i = ctx(t[0], 0) ? 1 : 0; // [0] EXPLICIT version
  return { der: buf, serial: raw(t[i]), issuer: raw(t[i + 2]), subject: raw(t[i + 4]), spki: raw(t[i + 5]), x509: new X509Certificate(buf) };
}

/** ContentInfo { signedData }: the certificates, CRLs and signerInfos as received (RFC 5652 §5.1). */
function signedData(buf) {
  const [ct, explicit] = kids(parse(buf));
  if (oid(ct) !== id_signedData) throw new Error('not SignedData: ' + oid(ct));
  const f = kids(kids(explicit)[0]);
  let i = 1;
  const digestAlgorithms = kids(f[i++]).map(algOid);
  const [eType, eWrap] = kids(f[i++]);
  const certs = ctx(f[i], 0) ? kids(f[i++]).map((c) => certificate(raw(c))) : [];
  const crls = ctx(f[i], 1) ? kids(f[i++]).map(raw) : [];
  return { digestAlgorithms, eContentType: oid(eType), eContent: eWrap ? octets(kids(eWrap)[0]) : undefined, certs, crls, signerInfos: kids(f[i]) };
}

const names = (sid, c) => sid.idBlock.tagClass === 1 && raw(kids(sid)[0]).equals(c.issuer) && raw(kids(sid)[1]).equals(c.serial);

/** SignerInfo (RFC 5652 §5.3) with signed attributes; the signature is checked over DER(SET OF) = the received [0] re-tagged 0x31. */
function checkSigner(sd, candidates) {
  const f = kids(sd.signerInfos[0]);
  const [version, sid, digestAlg, signedAttrs, sigAlg, signature] = f;
  if (!ctx(signedAttrs, 0)) throw new Error('SignerInfo has no signedAttrs');
  const setOf = raw(signedAttrs);
  setOf[0] = 0x31;
  const attrs = new Map(kids(signedAttrs).map((a) => [oid(kids(a)[0]), kids(kids(a)[1])]));
  const str = (o) => attrs.get(o)?.[0]?.valueBlock.value;
  const bytes = (o) => (attrs.has(o) ? val(attrs.get(o)[0]) : undefined);
  const signer = candidates.find((c) => names(sid, c));
  const digest = algOid(digestAlg);
  return {
    version: version.valueBlock.valueDec,
    signerSubject: signer ? signer.x509.subject : null,
    signerIndex: candidates.indexOf(signer),
    digest, digestAlgorithms: sd.digestAlgorithms,
    digestParamsAbsent: paramsAbsent(digestAlg),
    signatureAlgorithm: algOid(sigAlg),
    signatureParamsAbsent: paramsAbsent(sigAlg),
    contentTypeOk: oid(attrs.get(id_contentType)[0]) === id_data && sd.eContentType === id_data,
    messageDigestOk: bytes(id_messageDigest).equals(createHash(HASH[digest]).update(sd.eContent ?? Buffer.alloc(0)).digest()),
    signatureOk: signer ? verify(null, setOf, signer.x509.publicKey, val(signature)) : false,
    messageType: str(SCEP.messageType), pkiStatus: str(SCEP.pkiStatus), transactionID: str(SCEP.transactionID),
    senderNonce: bytes(SCEP.senderNonce)?.toString('hex'), recipientNonce: bytes(SCEP.recipientNonce)?.toString('hex'),
  };
}

/** EnvelopedData with a KEMRecipientInfo (RFC 9629 §3) for recipientCert, opened with pkcs8. */
function openEnvelope(buf, pkcs8, recipientCert) {
  const [ct, explicit] = kids(parse(buf));
  if (oid(ct) !== id_envelopedData) throw new Error('not EnvelopedData: ' + oid(ct));
  const f = kids(kids(explicit)[0]);
  let i = 0;
  const version = f[i++].valueBlock.valueDec;
  if (ctx(f[i], 0)) i++; // originatorInfo
  const recipientInfos = kids(f[i++]);
  const eci = f[i];
  const ori = recipientInfos.find((r) => ctx(r, 4));
  const [oriType, kemri] = kids(ori);
  const k = [...kids(kemri)];
  const [kemriVersion, rid, kem, kemct, kdf, kekLength] = k.splice(0, 6);
  const ukm = ctx(k[0], 0) ? k.shift() : undefined;
  const [wrap, encryptedKey] = k;
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const sharedSecret = decapsulate(key, val(kemct));
  // RFC 9629 §5: info = DER(CMSORIforKEMOtherInfo { wrap, kekLength, ukm }) from the fields as received.
  const info = sequence([raw(wrap), raw(kekLength), ...(ukm ? [raw(ukm)] : [])]);
  const kek = Buffer.from(hkdfSync(KDF[algOid(kdf)], sharedSecret, Buffer.alloc(0), info, kekLength.valueBlock.valueDec));
  const unwrap = createDecipheriv(WRAP[algOid(wrap)], kek, Buffer.alloc(8, 0xa6)); // RFC 3394 default IV
  const cek = Buffer.concat([unwrap.update(val(encryptedKey)), unwrap.final()]);
  const [, contentAlg, content] = kids(eci);
  const d = createDecipheriv(CIPHER[algOid(contentAlg)], cek, val(kids(contentAlg)[1]));
  return {
    version, recipientInfos: recipientInfos.length, oriType: oid(oriType), kemriVersion: kemriVersion.valueBlock.valueDec,
    ridNamesRecipient: rid.idBlock.tagClass === 1 && raw(kids(rid)[0]).equals(recipientCert.issuer) && raw(kids(rid)[1]).equals(recipientCert.serial),
    kem: algOid(kem), kemParamsAbsent: paramsAbsent(kem), kdf: algOid(kdf), kdfParamsAbsent: paramsAbsent(kdf),
    kekLength: kekLength.valueBlock.valueDec, ukm: ukm !== undefined, wrap: algOid(wrap), wrapParamsAbsent: paramsAbsent(wrap),
    recipientKeyType: key.asymmetricKeyType, cipher: algOid(contentAlg),
    plaintext: Buffer.concat([d.update(octets(content)), d.final()]),
  };
}

/** PKCS#10 (RFC 2986 §4): signature over certificationRequestInfo as received, with the key inside it. */
function checkCsr(buf) {
  const [info, sigAlg, sig] = kids(parse(buf));
  const spki = raw(kids(info)[2]);
  const attrs = ctx(kids(info)[3], 0) ? kids(kids(info)[3]) : [];
  const challenge = attrs.find((a) => oid(kids(a)[0]) === id_challengePassword);
  const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return {
    spki: spki.toString('base64'), keyType: publicKey.asymmetricKeyType, signatureAlgorithm: algOid(sigAlg), signatureParamsAbsent: paramsAbsent(sigAlg),
    signatureOk: verify(null, raw(info), publicKey, val(sig)),
    challenge: challenge ? kids(kids(challenge)[1])[0].valueBlock.value : null,
  };
}

/** CertificateList (RFC 5280 §5.1): signature over tbsCertList as received; revoked serials. */
function checkCrl(buf, ca) {
  const [tbs, sigAlg, sig] = kids(parse(buf));
  const t = kids(tbs);
  let i = t[0] instanceof asn1js.Integer ? 1 : 0; // version v2
  const innerAlg = t[i++];
  const issuer = raw(t[i++]);
  i += 1; // thisUpdate
  if (t[i] && !(t[i] instanceof asn1js.Sequence) && !ctx(t[i], 0)) i++; // nextUpdate (a Time)
  const revoked = t[i] instanceof asn1js.Sequence ? kids(t[i]).map((r) => BigInt('0x' + hex(val(kids(r)[0]))).toString(16)) : [];
  return {
    signatureAlgorithm: algOid(sigAlg), signatureParamsAbsent: paramsAbsent(sigAlg), innerAlgorithmMatches: raw(innerAlg).equals(raw(sigAlg)),
    issuerIsCa: issuer.equals(ca.subject), revoked,
    signatureOk: verify(null, raw(tbs), ca.x509.publicKey, val(sig)),
  };
}

function run(input) {
  const clientSpki = der(input.clientSpki);
  const clientKem = createPrivateKey({ key: der(input.clientKemPkcs8), format: 'der', type: 'pkcs8' });
  // (b) GetCACert (pqc view): one self-signed CA, RAs issued by it.
  const chain = signedData(der(input.getCaCert)).certs;
  const cas = chain.filter((c) => c.subject.equals(c.issuer) && c.x509.verify(c.x509.publicKey));
  if (cas.length !== 1) throw new Error('expected exactly one self-signed CA, found ' + cas.length);
  const ca = cas[0];
  const ras = chain.filter((c) => c !== ca);
  const out = {
    ca: { der: ca.der.toString('base64'), keyType: ca.x509.publicKey.asymmetricKeyType, selfSigned: ca.x509.checkIssued(ca.x509) && ca.x509.verify(ca.x509.publicKey), isCa: ca.x509.ca },
    ras: ras.map((r) => ({ der: r.der.toString('base64'), keyType: r.x509.publicKey.asymmetricKeyType, verifies: r.x509.verify(ca.x509.publicKey), issuedByCa: r.x509.checkIssued(ca.x509), isCa: r.x509.ca })),
  };
  const raKem = createPrivateKey({ key: der(input.raKemPkcs8), format: 'der', type: 'pkcs8' });
  const ra = ras.find((r) => r.spki.equals(spkiOfKey(raKem)));
  if (!ra) throw new Error('the RA key from the data folder matches no RA certificate of GetCACert');

  // (e) the PKCSReq: its signer, the bound reply certificate, the envelope to the RA, the CSR.
  const req = signedData(der(input.pkcsReq));
  const reqSigner = checkSigner(req, req.certs);
  const signerCert = req.certs[reqSigner.signerIndex];
  const replyCerts = req.certs.filter((c) => c !== signerCert);
  const replyCert = replyCerts.find((c) => c.spki.equals(spkiOfKey(clientKem)));
  const reqEnvelope = openEnvelope(req.eContent, der(input.raKemPkcs8), ra);
  out.request = {
    signer: { ...reqSigner, signerSpkiIsClient: signerCert.spki.equals(clientSpki) },
    replyCertificates: replyCerts.map((c) => ({ keyType: c.x509.publicKey.asymmetricKeyType, boundToSigner: c.x509.verify(signerCert.x509.publicKey), isClientKem: c === replyCert })),
    envelope: { ...reqEnvelope, plaintext: undefined },
    csr: { ...checkCsr(reqEnvelope.plaintext), equalsSaved: reqEnvelope.plaintext.equals(der(input.csr)) },
  };

  // (c) + (d) + (a) the CertRep: signed by the CA, opened with the client's ML-KEM key, issued certificate inside.
  const certRep = (repDer, requestDer) => {
    const rep = signedData(repDer);
    const request = checkSigner(signedData(requestDer), signedData(requestDer).certs);
    const signer = checkSigner(rep, [ca, ...ras]);
    const envelope = openEnvelope(rep.eContent, der(input.clientKemPkcs8), replyCert);
    const inner = signedData(envelope.plaintext);
    return {
      signer: { ...signer, signedByCa: signer.signerIndex === 0, transactionIdEchoed: signer.transactionID === request.transactionID, recipientNonceIsSenderNonce: signer.recipientNonce === request.senderNonce },
      envelope: { ...envelope, plaintext: undefined }, inner,
    };
  };
  const rep = certRep(der(input.certRep), der(input.pkcsReq));
  const issued = rep.inner.certs.find((c) => c.spki.equals(clientSpki));
  out.certRep = { signer: rep.signer, envelope: rep.envelope, innerCertificates: rep.inner.certs.length };
  out.issued = issued && {
    der: issued.der.toString('base64'),
    verifiesWithCa: issued.x509.verify(ca.x509.publicKey),
    issuedByCa: issued.x509.checkIssued(ca.x509),
    spkiIsClient: issued.spki.equals(clientSpki),
    opensslSpkiIsClient: issued.x509.publicKey.export({ type: 'spki', format: 'der' }).equals(clientSpki),
    keyType: issued.x509.publicKey.asymmetricKeyType,
    signatureAlgorithm: algOid(kids(parse(issued.der))[1]),
    signatureParamsAbsent: paramsAbsent(kids(parse(issued.der))[1]),
    serial: BigInt('0x' + hex(val(parse(issued.serial)))).toString(16),
  };

  // (f) GetCRL: the CRL inside the enveloped CertRep, verified with the CA key.
  const crlRep = certRep(der(input.crlRep), der(input.crlReq));
  out.crlRep = { signer: crlRep.signer, envelope: crlRep.envelope, crls: crlRep.inner.crls.length };
  out.crl = crlRep.inner.crls.length === 1 ? { ...checkCrl(crlRep.inner.crls[0], ca), der: crlRep.inner.crls[0].toString('base64') } : undefined;
  return out;
}

try {
  process.stdout.write(JSON.stringify(run(JSON.parse(readFileSync(0, 'utf8')))));
} catch (err) {
  process.stdout.write(JSON.stringify({ error: String(err && err.stack) }));
}
`;

/** What the checker needs: every message of one enrollment + GetCRL, the client's keys, the RA's key. */
interface Artifacts {
  getCaCert: string;
  csr: string;
  pkcsReq: string;
  certRep: string;
  crlReq: string;
  crlRep: string;
  clientSpki: string;
  clientKemPkcs8: string;
  raKemPkcs8: string;
}

interface SignerCheck {
  version: number;
  signerSubject: string | null;
  signerIndex: number;
  digest: string;
  digestAlgorithms: string[];
  digestParamsAbsent: boolean;
  signatureAlgorithm: string;
  signatureParamsAbsent: boolean;
  contentTypeOk: boolean;
  messageDigestOk: boolean;
  signatureOk: boolean;
  messageType?: string;
  pkiStatus?: string;
  transactionID?: string;
  senderNonce?: string;
  recipientNonce?: string;
}
interface EnvelopeCheck {
  version: number;
  recipientInfos: number;
  oriType: string;
  kemriVersion: number;
  ridNamesRecipient: boolean;
  kem: string;
  kemParamsAbsent: boolean;
  kdf: string;
  kdfParamsAbsent: boolean;
  kekLength: number;
  ukm: boolean;
  wrap: string;
  wrapParamsAbsent: boolean;
  recipientKeyType: string;
  cipher: string;
}
type RepCheck = { signer: SignerCheck & { signedByCa: boolean; transactionIdEchoed: boolean; recipientNonceIsSenderNonce: boolean }; envelope: EnvelopeCheck };
interface Checked {
  error?: string;
  ca: { der: string; keyType: string; selfSigned: boolean; isCa: boolean };
  ras: { der: string; keyType: string; verifies: boolean; issuedByCa: boolean; isCa: boolean }[];
  request: {
    signer: SignerCheck & { signerSpkiIsClient: boolean };
    replyCertificates: { keyType: string; boundToSigner: boolean; isClientKem: boolean }[];
    envelope: EnvelopeCheck;
    csr: { spki: string; keyType: string; signatureAlgorithm: string; signatureParamsAbsent: boolean; signatureOk: boolean; challenge: string | null; equalsSaved: boolean };
  };
  certRep: RepCheck & { innerCertificates: number };
  issued?: {
    der: string; verifiesWithCa: boolean; issuedByCa: boolean; spkiIsClient: boolean; opensslSpkiIsClient: boolean;
    keyType: string; signatureAlgorithm: string; signatureParamsAbsent: boolean; serial: string;
  };
  crlRep: RepCheck & { crls: number };
  crl?: { signatureAlgorithm: string; signatureParamsAbsent: boolean; innerAlgorithmMatches: boolean; issuerIsCa: boolean; revoked: string[]; signatureOk: boolean; der: string };
}

function independentCheck(a: Artifacts): Checked {
  const stdout = execFileSync(REFERENCE_NODE, ['--no-warnings', '--input-type=module', '-e', INDEPENDENT_CHECKER], {
    cwd: REPO, input: JSON.stringify(a), maxBuffer: 64 << 20, timeout: 60_000,
  }).toString();
  return JSON.parse(stdout) as Checked;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * `base` with two changes for this test, neither touching what goes on the wire:
 *  - every KeyType's generate() is recorded, so the test learns the ML-KEM key that enroll()
 *    makes for its reply certificate (src/client/enroll.ts replyKey);
 *  - every signature yields to the event loop before and after signing. The server runs in this
 *    process, and noble's SLH-DSA-SHA2-128s signs synchronously for about 1.5 s: four signatures
 *    in a row would freeze the server too, whose keep-alive timer (Node's 5 s + 1 s) then fires
 *    in the same loop turn in which the client reuses that idle connection for its POST
 *    (ECONNRESET). A server in another process is not frozen by the client's work; yielding
 *    restores that.
 */
function instrumentedRegistry(base: Registry): { registry: Registry; generated: PrivateKeyHandle[] } {
  const generated: PrivateKeyHandle[] = [];
  const wrap = <T>(alg: T): T => {
    const a = alg as Algorithm;
    if (a.kind === 'key') {
      return Object.freeze({ ...a, generate: async () => {
        const h = await a.generate();
        generated.push(h);
        return h;
      } }) as T;
    }
    if (a.kind === 'signature') {
      return Object.freeze({ ...a, sign: async (...args: Parameters<typeof a.sign>) => {
        await nextTurn();
        const signature = await a.sign(...args);
        await nextTurn();
        await nextTurn();
        return signature;
      } }) as T;
    }
    return alg;
  };
  const registry: Registry = {
    allowLegacy: base.allowLegacy,
    byOid: (kind, oid) => wrap(base.byOid(kind, oid)),
    byName: (kind, name) => wrap(base.byName(kind, name)),
    list: (kind) => base.list(kind).map(wrap),
    keyTypeOf: (spki) => {
      const keyType = base.keyTypeOf(spki);
      return keyType && wrap(keyType);
    },
  };
  return { registry: Object.freeze(registry), generated };
}

interface Case {
  readonly ca: 'ml-dsa-44' | 'ml-dsa-65' | 'ml-dsa-87';
  readonly kem: 'ml-kem-512' | 'ml-kem-768' | 'ml-kem-1024';
  readonly client: 'ml-dsa-44' | 'ml-dsa-65' | 'ml-dsa-87' | 'slh-dsa-sha2-128s';
}

/** Servers by NIST level (CA signature, RA KEM); every ML-DSA client against each, plus one SLH-DSA client. */
const SERVERS = [
  { ca: 'ml-dsa-44', kem: 'ml-kem-512' },
  { ca: 'ml-dsa-65', kem: 'ml-kem-768' },
  { ca: 'ml-dsa-87', kem: 'ml-kem-1024' },
] as const;
const CASES: Case[] = [
  ...SERVERS.flatMap((s) => (['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87'] as const).map((client) => ({ ...s, client }))),
  { ca: 'ml-dsa-65', kem: 'ml-kem-768', client: 'slh-dsa-sha2-128s' },
];

/** OpenSSL's names for the key types (X509Certificate#publicKey.asymmetricKeyType). */
const OPENSSL_KEY_TYPE: Record<KeyName, string> = {
  'ml-dsa-44': 'ml-dsa-44', 'ml-dsa-65': 'ml-dsa-65', 'ml-dsa-87': 'ml-dsa-87', 'slh-dsa-sha2-128s': 'slh-dsa-sha2-128s',
  'ml-kem-512': 'ml-kem-512', 'ml-kem-768': 'ml-kem-768', 'ml-kem-1024': 'ml-kem-1024',
};
/** RFC 9936 §3 / docs/pqc-scep.md §1: AES-128-WRAP and kekLength 16 for ML-KEM-512, AES-256-WRAP and 32 above. */
const WRAP_FOR: Record<Case['kem'], { wrap: string; kekLength: number }> = {
  'ml-kem-512': { wrap: OID.aes128_wrap, kekLength: 16 },
  'ml-kem-768': { wrap: OID.aes256_wrap, kekLength: 32 },
  'ml-kem-1024': { wrap: OID.aes256_wrap, kekLength: 32 },
};
/** RFC 9882 §3 (ML-DSA: SHA-512), RFC 9814 §4 (SLH-DSA-SHA2-128*: SHA-256). */
const CMS_DIGEST: Record<Case['client'], string> = { 'ml-dsa-44': OID.sha512, 'ml-dsa-65': OID.sha512, 'ml-dsa-87': OID.sha512, 'slh-dsa-sha2-128s': OID.sha256 };

const itRef = hasReferenceNode ? it : it.skip;
const refTitle = hasReferenceNode ? '' : ` (skipped: ${referenceMissingReason})`;

describe(`post-quantum SCEP verified by OpenSSL 3.5 + asn1js (REFERENCE_NODE), nothing of ours on that side${refTitle}`, () => {
  const servers = new Map<string, TestServer>();
  const serverFor = (c: Case) => servers.get(`${c.ca}/${c.kem}`)!;
  beforeAll(async () => {
    if (!hasReferenceNode) return;
    for (const s of SERVERS) servers.set(`${s.ca}/${s.kem}`, await testServer({ caKeyType: s.ca, raKeyTypes: [s.kem] }));
  });
  afterAll(async () => {
    for (const s of servers.values()) await s.stop();
  });

  /** Runs enroll() (the real client flow), revokes the certificate, asks for the CRL, and returns every artifact. */
  async function enrollAndFetchCrl(c: Case): Promise<{ artifacts: Artifacts; certificate: Certificate; caCertificates: readonly Certificate[]; crlDer: Uint8Array; server: TestServer }> {
    const server = serverFor(c);
    const subject = `CN=pq-${c.client}-${c.kem},O=OpenSSL35`;
    const key = await clientRegistry.byName('key', c.client).generate();
    const { registry, generated } = instrumentedRegistry(clientRegistry);
    const saved = new Map<string, Uint8Array>();
    const { certificate, caCertificates } = await enroll({ url: server.url, registry, key, subject, challenge: CHALLENGE, save: (name, der) => saved.set(name, der) });
    const kemKey = generated.find((k) => k.keyType.startsWith('ml-kem'));
    if (!kemKey) throw new Error('enroll() made no ML-KEM reply key');
    const replyCert = parseSignedData(saved.get('pkcsreq.der')!).certificates.find((cert) => equalBytes(spkiOf(cert), kemKey.spki));
    if (!replyCert) throw new Error('the PKCSReq carries no certificate for the reply key');
    const ra = caCertificates.find((cert) => spkiAlgorithmOid(spkiOf(cert)) === OID[c.kem])!;

    // RFC 8894 §3.3.5 GetCRL, signed with the same key (a fresh self-signed signer), reply to the same ML-KEM certificate.
    expect(server.env.store.revoke(serialHex(certificate.tbsCertificate.serialNumber), 'keyCompromise', new Date())).toBe(true);
    const ias = new IssuerAndSerialNumber({ issuer: certificate.tbsCertificate.issuer, serialNumber: certificate.tbsCertificate.serialNumber });
    const crlReq = await buildPkiRequest({
      messageType: 'GetCRL', transactionId: transactionIdFor(key.spki), payload: serialize(ias), recipient: ra,
      signerCert: await selfSignedSigner(subject, key, registry), key,
      cipher: clientRegistry.byName('cipher', 'AES-256-CBC'),
      digest: clientRegistry.byName('digest', certificateSignatureAlgorithm(key, clientRegistry).algorithm.cmsDigest ?? 'SHA-512'),
      extraCertificates: [replyCert],
    }, registry);
    const res = await post(server.url, crlReq.der);
    expect(res.status).toBe(200);
    const crlResult = await readCertRep(res.body, crlReq, caCertificates, { certificate: replyCert, key: kemKey }, clientRegistry);
    expect(crlResult.status).toBe('SUCCESS');
    const crls = crlResult.status === 'SUCCESS' ? crlResult.crls : [];
    expect(crls).toHaveLength(1);

    const raKeyPem = readFileSync(join(caDir(server), `ra-${c.kem}.key.pem`), 'utf8');
    const artifacts: Artifacts = {
      getCaCert: b64(saved.get('getcacert.der')!),
      csr: b64(saved.get('csr.der')!),
      pkcsReq: b64(saved.get('pkcsreq.der')!),
      certRep: b64(saved.get('certrep.der')!),
      crlReq: b64(crlReq.der),
      crlRep: b64(res.body),
      clientSpki: b64(key.spki),
      clientKemPkcs8: b64(clientRegistry.byName('key', kemKey.keyType).exportPkcs8(kemKey)),
      raKemPkcs8: b64(fromPem(raKeyPem).find((p) => p.label === 'PRIVATE KEY')!.der),
    };
    return { artifacts, certificate, caCertificates, crlDer: serialize(crls[0]), server };
  }

  itRef.each(CASES)('CA $ca + RA $kem, $client client: certificate, CA/RA, CertRep signature and envelope, PKCSReq envelope and CSR, CRL', async (c) => {
    const { artifacts, certificate, crlDer, server } = await enrollAndFetchCrl(c);
    const out = independentCheck(artifacts);
    expect(out.error).toBeUndefined();

    // (b) the CA certificate is self-signed with the CA key type; the one RA is issued by it and holds the KEM key.
    expect(out.ca).toMatchObject({ keyType: OPENSSL_KEY_TYPE[c.ca], selfSigned: true, isCa: true });
    expect(Buffer.from(out.ca.der, 'base64').equals(fromPem(readFileSync(join(server.dataDir, 'ca.pem'), 'utf8'))[0]!.der)).toBe(true);
    expect(out.ras).toHaveLength(1);
    expect(out.ras[0]).toMatchObject({ keyType: OPENSSL_KEY_TYPE[c.kem], verifies: true, issuedByCa: true, isCa: false });

    // (e) the request: our signer and its bound ML-KEM reply certificate; the envelope to the RA opens; the CSR verifies.
    expect(out.request.signer).toMatchObject({
      version: 1, signerSpkiIsClient: true, signatureAlgorithm: OID[c.client], signatureParamsAbsent: true,
      digest: CMS_DIGEST[c.client], digestAlgorithms: [CMS_DIGEST[c.client]], digestParamsAbsent: true,
      contentTypeOk: true, messageDigestOk: true, signatureOk: true, messageType: '19',
    });
    expect(out.request.replyCertificates).toEqual([{ keyType: OPENSSL_KEY_TYPE[c.kem], boundToSigner: true, isClientKem: true }]);
    const kemri = { oriType: OID.id_ori_kem, kemriVersion: 0, ridNamesRecipient: true, kem: OID[c.kem], kemParamsAbsent: true, kdf: OID.hkdf_sha256, kdfParamsAbsent: true, ukm: false, wrapParamsAbsent: true, ...WRAP_FOR[c.kem] };
    expect(out.request.envelope).toMatchObject({ ...kemri, version: 3, recipientInfos: 1, recipientKeyType: OPENSSL_KEY_TYPE[c.kem], cipher: OID.aes256_cbc });
    expect(out.request.csr).toMatchObject({ equalsSaved: true, spki: artifacts.clientSpki, keyType: OPENSSL_KEY_TYPE[c.client], signatureAlgorithm: OID[c.client], signatureParamsAbsent: true, signatureOk: true, challenge: CHALLENGE });

    // (c) the CertRep is signed by the CA (ML-DSA, SHA-512, parameters absent) and answers our request.
    const pqSigner = { signedByCa: true, signatureAlgorithm: OID[c.ca], signatureParamsAbsent: true, digest: OID.sha512, digestAlgorithms: [OID.sha512], digestParamsAbsent: true, contentTypeOk: true, messageDigestOk: true, signatureOk: true, messageType: '3', pkiStatus: '0', transactionIdEchoed: true, recipientNonceIsSenderNonce: true };
    expect(out.certRep.signer).toMatchObject(pqSigner);
    // (d) its envelope opens with the client's ML-KEM key, addressed to the reply certificate; the issued certificate is inside.
    expect(out.certRep.envelope).toMatchObject({ ...kemri, version: 3, recipientInfos: 1, recipientKeyType: OPENSSL_KEY_TYPE[c.kem], cipher: OID.aes256_cbc });
    expect(out.certRep.innerCertificates).toBe(1);

    // (a) the issued certificate verifies with the CA key and carries the client's key byte for byte.
    expect(out.issued).toMatchObject({ verifiesWithCa: true, issuedByCa: true, spkiIsClient: true, opensslSpkiIsClient: true, keyType: OPENSSL_KEY_TYPE[c.client], signatureAlgorithm: OID[c.ca], signatureParamsAbsent: true });
    expect(out.issued!.der).toBe(b64(serialize(certificate)));

    // (f) GetCRL: same CertRep checks; the CRL verifies with the CA key over tbsCertList and lists the revoked serial.
    expect(out.crlRep.signer).toMatchObject(pqSigner);
    expect(out.crlRep.envelope).toMatchObject({ ...kemri, recipientKeyType: OPENSSL_KEY_TYPE[c.kem] });
    expect(out.crlRep.crls).toBe(1);
    expect(out.crl).toMatchObject({ signatureAlgorithm: OID[c.ca], signatureParamsAbsent: true, innerAlgorithmMatches: true, issuerIsCa: true, signatureOk: true });
    const serial = BigInt(`0x${serialHex(certificate.tbsCertificate.serialNumber)}`);
    expect(BigInt(`0x${out.issued!.serial}`)).toBe(serial);
    expect(out.crl!.revoked.map((r) => BigInt(`0x${r}`))).toContain(serial);
    expect(out.crl!.der).toBe(b64(crlDer));
  }, 180_000); // noble SLH-DSA-SHA2-128s signs in about 1.5 s, six times here

  itRef('control: the same checker reports a CertRep whose signature has one bit flipped as not verifying', async () => {
    const { artifacts } = await enrollAndFetchCrl(CASES[4]!); // ML-DSA-65 CA, ML-DSA-65 client
    const rep = Buffer.from(artifacts.certRep, 'base64');
    rep[rep.length - 10]! ^= 0x01; // SignerInfo.signature is the last field of the message
    const tampered = independentCheck({ ...artifacts, certRep: rep.toString('base64') });
    expect(tampered.error).toBeUndefined();
    expect(tampered.certRep.signer).toMatchObject({ signedByCa: true, messageDigestOk: true, signatureOk: false });
  });
});
