/**
 * The cryptographic operations one enrollment performs, read off the messages of a real
 * enrollment (not from a hand-kept list, so they follow whatever the code chose): which
 * algorithm signed the SignerInfo, the CSR, the certificates; which RecipientInfo kind, KEM,
 * KDF, key wrap and content cipher each envelope used; which identity signed the CertRep.
 * Three phases (RFC 8894 §3.3 flow):
 *  - clientBuild: CSR, self-signed signer certificate, reply KEM key and certificate
 *    (docs/pqc-scep.md §5), request envelope, messageDigest, SignerInfo;
 *  - server: messageDigest and SignerInfo check, envelope open, CSR check, reply-certificate
 *    binding check (src/scep/reply-recipient.ts), issue, reply envelope, CertRep SignerInfo;
 *  - clientOpen: CertRep messageDigest and SignerInfo check, reply envelope open.
 * Leaves out: the device key generation (not part of a request), TLS, the store.
 * @module
 */
import { EnvelopedData } from '@peculiar/asn1-cms';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AlgorithmIdentifier, type Certificate } from '@peculiar/asn1-x509';
import { equalBytes, parse, serialize } from '../src/cms/der.ts';
import { kemRecipientInfo } from '../src/cms/kem-recipient-info.ts';
import { id_ct_authEnvelopedData, id_envelopedData } from '../src/cms/oids.ts';
import { Attributes, AuthEnvelopedData } from '../src/cms/schema.ts';
import { findSignerCertificate, identifies, parseContentInfo, parseSignedData, spkiOf } from '../src/cms/signed-data.ts';
import { certsOnly } from '../src/cms/signed-data-build.ts';
import type { Registry } from '../src/crypto/registry.ts';
import type { DigestName } from '../src/crypto/types.ts';
import { pickRecipient } from '../src/client/enroll.ts';
import { envelopeRecipients, type ScepEnv } from '../src/scep/env.ts';

export type OpKind =
  | 'sign' | 'verify' | 'keygen' | 'encapsulate' | 'decapsulate' | 'kt-encrypt' | 'kt-decrypt'
  | 'ecdh-ephemeral' | 'ecdh-agree' | 'kdf' | 'wrap' | 'unwrap' | 'encrypt' | 'decrypt' | 'hash';

export interface Op {
  readonly kind: OpKind;
  /** Registry name of the algorithm (signature, KEM, key transport, key agreement, KDF, wrap, cipher, digest). */
  readonly alg: string;
  /** Key type the operation uses, where the cost depends on it (e.g. rsa-2048 vs rsa-3072). */
  readonly key?: string;
  readonly digest?: DigestName;
  /** Input size for size-proportional operations (hash, content cipher); informative for signatures. */
  readonly bytes?: number;
  /** What in the protocol this is, e.g. "verify CSR". */
  readonly what: string;
}

export interface EnrollmentOps {
  readonly clientBuild: readonly Op[];
  readonly server: readonly Op[];
  readonly clientOpen: readonly Op[];
}

/** The messages of one enrollment, as enroll() handed them to `save`. */
export interface Captured {
  readonly csr: Uint8Array;
  readonly pkcsReq: Uint8Array;
  readonly certRep: Uint8Array;
  readonly certificate: Certificate;
  readonly caCertificates: readonly Certificate[];
}

const keyTypeOf = (spki: Uint8Array, registry: Registry) => registry.keyTypeOf(spki)?.name;

/** Seal-side and open-side operations of an envelope with one RecipientInfo addressed to a key of type `recipientKey`. */
function envelopeOps(der: Uint8Array, plaintextBytes: number, recipientKey: string, registry: Registry, what: string): { seal: Op[]; open: Op[] } {
  const { contentType, content } = parseContentInfo(der, [id_envelopedData, id_ct_authEnvelopedData]);
  const env = contentType === id_ct_authEnvelopedData ? parse(content, AuthEnvelopedData, 'AuthEnvelopedData') : parse(content, EnvelopedData, 'EnvelopedData');
  const eci = env instanceof AuthEnvelopedData ? env.authEncryptedContentInfo : env.encryptedContentInfo;
  const cipher = registry.byOid('cipher', eci.contentEncryptionAlgorithm.algorithm).name;
  const ri = env.recipientInfos[0];
  const seal: Op[] = [];
  const open: Op[] = [];
  const pair = (s: Op, o: Op) => (seal.push(s), open.push(o));
  if (ri.ktri) {
    const kt = registry.byOid('key-transport', ri.ktri.keyEncryptionAlgorithm.algorithm).name;
    pair({ kind: 'kt-encrypt', alg: kt, key: recipientKey, what: `${what}: encrypt CEK` }, { kind: 'kt-decrypt', alg: kt, key: recipientKey, what: `${what}: decrypt CEK` });
  } else if (ri.kari) {
    const kea = ri.kari.keyEncryptionAlgorithm;
    const scheme = registry.byOid('key-agreement', kea.algorithm);
    const wrap = registry.byOid('key-wrap', parse(kea.parameters!, AlgorithmIdentifier, 'KeyWrapAlgorithm').algorithm).name;
    pair({ kind: 'ecdh-ephemeral', alg: scheme.name, key: recipientKey, what: `${what}: ephemeral ECDH` }, { kind: 'ecdh-agree', alg: scheme.name, key: recipientKey, what: `${what}: ECDH` });
    pair({ kind: 'kdf', alg: scheme.kdf, what: `${what}: KEK` }, { kind: 'kdf', alg: scheme.kdf, what: `${what}: KEK` });
    pair({ kind: 'wrap', alg: wrap, what: `${what}: wrap CEK` }, { kind: 'unwrap', alg: wrap, what: `${what}: unwrap CEK` });
  } else {
    const kemri = kemRecipientInfo(ri);
    if (!kemri) throw new TypeError(`${what}: unknown RecipientInfo`);
    const kem = registry.byOid('kem', kemri.kem.algorithm).name;
    const kdf = registry.byOid('kdf', kemri.kdf.algorithm).name;
    const wrap = registry.byOid('key-wrap', kemri.wrap.algorithm).name;
    pair({ kind: 'encapsulate', alg: kem, what: `${what}: encapsulate` }, { kind: 'decapsulate', alg: kem, what: `${what}: decapsulate` });
    pair({ kind: 'kdf', alg: kdf, what: `${what}: KEK` }, { kind: 'kdf', alg: kdf, what: `${what}: KEK` });
    pair({ kind: 'wrap', alg: wrap, what: `${what}: wrap CEK` }, { kind: 'unwrap', alg: wrap, what: `${what}: unwrap CEK` });
  }
  pair({ kind: 'encrypt', alg: cipher, bytes: plaintextBytes, what: `${what}: encrypt content` }, { kind: 'decrypt', alg: cipher, bytes: plaintextBytes, what: `${what}: decrypt content` });
  return { seal, open };
}

/** Signature operations over a certificate: who signed it with what. */
function certificateSignature(cert: Certificate, key: string, registry: Registry, what: string): { sign: Op; verify: Op } {
  const alg = registry.byOid('signature', cert.signatureAlgorithm.algorithm);
  const base = { alg: alg.name, key, digest: alg.digest ?? 'SHA-512', bytes: serialize(cert.tbsCertificate).length } as const;
  return { sign: { kind: 'sign', ...base, what: `sign ${what}` }, verify: { kind: 'verify', ...base, what: `verify ${what}` } };
}

/** Digest and signature operations of a SignerInfo over `content`. */
function signerInfoOps(der: Uint8Array, key: string, registry: Registry, what: string): { hash: Op; sign: Op; verify: Op } {
  const sd = parseSignedData(der);
  const si = sd.signedData.signerInfos[0];
  const alg = registry.byOid('signature', si.signatureAlgorithm.algorithm);
  const digest = registry.byOid('digest', si.digestAlgorithm.algorithm).name;
  const base = { alg: alg.name, key, digest: alg.digest ?? digest, bytes: serialize(new Attributes(si.signedAttrs ?? [])).length } as const;
  return {
    hash: { kind: 'hash', alg: digest, bytes: sd.content?.length ?? 0, what: `${what}: messageDigest` },
    sign: { kind: 'sign', ...base, what: `sign ${what}` },
    verify: { kind: 'verify', ...base, what: `verify ${what}` },
  };
}

/** The operations of the enrollment in `c`, against the server environment that answered it. */
export function enrollmentOps(c: Captured, env: ScepEnv, clientKey: string, registry: Registry): EnrollmentOps {
  const clientBuild: Op[] = [];
  const server: Op[] = [];
  const clientOpen: Op[] = [];
  const quantumSafe = registry.byName('key', clientKey).quantumSafe;

  const req = parseSignedData(c.pkcsReq);
  const signerCert = findSignerCertificate(req, req.signedData.signerInfos[0])!;
  const csr = parse(c.csr, CertificationRequest, 'CSR');
  const csrAlg = registry.byOid('signature', csr.signatureAlgorithm.algorithm);
  const csrOp = { alg: csrAlg.name, key: clientKey, digest: csrAlg.digest ?? 'SHA-512', bytes: serialize(csr.certificationRequestInfo).length } as const;
  const signer = certificateSignature(signerCert, clientKey, registry, 'signer certificate');
  // Certificates beside the signer's: the reply certificate(s), signed by the request key.
  const extra = req.certificates.filter((cert) => cert !== signerCert);
  const raCert = pickRecipient(c.caCertificates, registry, quantumSafe);
  const ra = envelopeRecipients(env).find((id) => equalBytes(id.der, serialize(raCert)));
  if (!ra) throw new TypeError('the request envelope is not addressed to one of the server identities');
  const request = envelopeOps(req.content!, c.csr.length, ra.key.keyType, registry, 'request envelope');
  const requestSig = signerInfoOps(c.pkcsReq, clientKey, registry, 'PKCSReq SignerInfo');

  clientBuild.push({ kind: 'sign', ...csrOp, what: 'sign CSR' }, signer.sign);
  for (const cert of extra) {
    clientBuild.push({ kind: 'keygen', alg: 'keygen', key: keyTypeOf(spkiOf(cert), registry) ?? 'unknown', what: 'reply key pair' });
    clientBuild.push(certificateSignature(cert, clientKey, registry, 'reply certificate').sign);
  }
  clientBuild.push(...request.seal, requestSig.hash, requestSig.sign);

  server.push(requestSig.hash, requestSig.verify, ...request.open, { kind: 'verify', ...csrOp, what: 'verify CSR' });
  for (const cert of extra) server.push(certificateSignature(cert, clientKey, registry, 'reply certificate binding').verify);

  const rep = parseSignedData(c.certRep);
  const repSigner = [env.ca, ...env.ras].find((id) => identifies(rep.signedData.signerInfos[0].sid, id.certificate));
  if (!repSigner) throw new TypeError('the CertRep is not signed by a server identity');
  const replyCert = extra.find((cert) => registry.list('kem').some((k) => k.keyOid === cert.tbsCertificate.subjectPublicKeyInfo.algorithm.algorithm));
  const replyKey = replyCert ? keyTypeOf(spkiOf(replyCert), registry)! : clientKey;
  const reply = envelopeOps(rep.content!, certsOnly([c.certificate]).length, replyKey, registry, 'reply envelope');
  const replySig = signerInfoOps(c.certRep, repSigner.key.keyType, registry, 'CertRep SignerInfo');
  server.push(certificateSignature(c.certificate, env.ca.key.keyType, registry, 'issued certificate').sign, ...reply.seal, replySig.hash, replySig.sign);
  clientOpen.push(replySig.hash, replySig.verify, ...reply.open);
  return { clientBuild, server, clientOpen };
}

