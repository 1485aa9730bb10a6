/**
 * A complete SCEP client flow (RFC 8894 §2, §3.3): discover caps and CA/RA certificates, pick
 * the envelope recipient (the RA's encryption certificate, else the CA), cipher and digest from
 * GetCACaps, send PKCSReq or RenewalReq, and poll with CertPoll (§3.3.3) with backoff while
 * the answer is PENDING. Every message can be handed to `save` for inspection.
 * @module
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicConstraints, KeyUsage, KeyUsageFlags, id_ce_basicConstraints, id_ce_keyUsage, type Certificate } from '@peculiar/asn1-x509';
import { certificateSignatureAlgorithm, extension, parseName, randomSerial, signCertificate } from '../ca/certificate.ts';
import { recipientKindFor } from '../cms/enveloped-data.ts';
import { PQC_CA_IDENT } from '../scep/env.ts';
import { serialize, equalBytes } from '../cms/der.ts';
import { spkiOf } from '../cms/signed-data.ts';
import type { Registry } from '../crypto/registry.ts';
import type { PrivateKeyHandle } from '../crypto/types.ts';
import { IssuerAndSubject } from '../scep/enroll.ts';
import { buildCsr, selfSignedSigner } from './csr.ts';
import { getCaCerts, getCaps, sendPkiMessage } from './http.ts';
import { buildPkiRequest, readCertRep, transactionIdFor, type CertRepResult } from './pki-request.ts';

export interface EnrollOptions {
  readonly url: string;
  readonly registry: Registry;
  readonly key: PrivateKeyHandle;
  readonly subject: string;
  readonly challenge?: string;
  readonly sans?: readonly string[];
  /** Renewal (RFC 8894 §3.3.1.2): sign a RenewalReq with this existing certificate and its key. */
  readonly renew?: { readonly certificate: Certificate; readonly key: PrivateKeyHandle };
  readonly method?: 'POST' | 'GET';
  readonly timeoutMs?: number;
  readonly save?: (name: string, der: Uint8Array) => void;
  readonly onPending?: (attempt: number) => void;
}

export interface Enrolled {
  readonly certificate: Certificate;
  readonly caCertificates: readonly Certificate[];
}

export class EnrollError extends Error {
  override readonly name = 'EnrollError';
}

const ext = (cert: Certificate, oid: string) => cert.tbsCertificate.extensions?.find((e) => e.extnID === oid);
const isCa = (cert: Certificate) => {
  const bc = ext(cert, id_ce_basicConstraints);
  return bc !== undefined && AsnConvert.parse(bc.extnValue.buffer, BasicConstraints).cA;
};
const canEncrypt = (cert: Certificate) => {
  const ku = ext(cert, id_ce_keyUsage);
  if (!ku) return true;
  return (AsnConvert.parse(ku.extnValue.buffer, KeyUsage).toNumber() & (KeyUsageFlags.keyEncipherment | KeyUsageFlags.keyAgreement)) !== 0;
};

/**
 * RFC 8894 §2.2: with an RA, envelope to the RA's encryption certificate; otherwise to the CA.
 * A post-quantum client prefers an RA whose key is a KEM (docs/pqc-scep.md §4); a classical
 * client one it can reach by key transport or agreement.
 */
export function pickRecipient(certs: readonly Certificate[], registry?: Registry, quantumSafe = false): Certificate {
  const ras = certs.filter((c) => !isCa(c) && canEncrypt(c));
  const kind = (c: Certificate) => (registry ? recipientKindFor(spkiOf(c), registry) : 'ktri');
  const usable = ras.filter((c) => kind(c) !== undefined);
  const preferred = usable.find((c) => (kind(c) === 'kemri') === quantumSafe);
  const chosen = preferred ?? usable[0] ?? certs.find(isCa) ?? certs[0];
  if (!chosen) throw new EnrollError('GetCACert returned no certificate');
  return chosen;
}

/**
 * For a key that can only sign: a fresh KEM key (of the RA's KEM family, else ML-KEM-768) and
 * a certificate for it signed by the signing key, which the server envelopes its reply to
 * (docs/pqc-scep.md §5).
 */
export async function replyKey(subject: string, signer: PrivateKeyHandle, recipient: Certificate, registry: Registry): Promise<{ certificate: Certificate; key: PrivateKeyHandle }> {
  const found = registry.keyTypeOf(spkiOf(recipient));
  const raKem = found?.usages.includes('encrypt') && found.quantumSafe ? found : undefined;
  const key = await (raKem ?? registry.byName('key', 'ml-kem-768')).generate();
  const name = parseName(subject);
  const now = Date.now();
  const certificate = await signCertificate(
    {
      subject: name, issuer: name, spki: key.spki, serial: randomSerial(), notBefore: new Date(now - 60_000), notAfter: new Date(now + 7 * 86400_000),
      extensions: [extension(id_ce_keyUsage, new KeyUsage(KeyUsageFlags.keyEncipherment), true)], // RFC 9935 §5
    },
    { key: signer, ...certificateSignatureAlgorithm(signer, registry) },
  );
  return { certificate, key };
}

export async function enroll(o: EnrollOptions): Promise<Enrolled> {
  const { registry } = o;
  const caps = (await getCaps(o.url)).map((c) => c.toUpperCase());
  const signing = o.renew?.key ?? o.key;
  const quantumSafe = registry.keyTypeOf(signing.spki)?.quantumSafe ?? false;
  const { certificates: caCerts, der: caDer } = await getCaCerts(o.url, quantumSafe ? PQC_CA_IDENT : undefined);
  o.save?.('getcacert.der', caDer);
  const recipient = pickRecipient(caCerts, registry, quantumSafe);
  const has = (k: string) => caps.includes(k) || (caps.includes('SCEPSTANDARD') && ['AES', 'SHA-256', 'POSTPKIOPERATION'].includes(k));
  const cipher = registry.byName('cipher', has('AES') ? 'AES-256-CBC' : 'DES-EDE3-CBC');
  const signatureAlg = certificateSignatureAlgorithm(signing, registry).algorithm;
  const digest = registry.byName('digest', signatureAlg.cmsDigest ?? (has('SHA-512') ? 'SHA-512' : has('SHA-256') ? 'SHA-256' : 'SHA-1'));
  const method = o.method ?? (has('POSTPKIOPERATION') ? 'POST' : 'GET');

  const csr = await buildCsr({ subject: o.subject, key: o.key, challenge: o.challenge, sans: o.sans }, registry);
  o.save?.('csr.der', csr);
  const me = o.renew ?? { certificate: await selfSignedSigner(o.subject, o.key, registry), key: o.key };
  // A signing-only key cannot receive the reply: bring a KEM certificate bound to it.
  const canReceive = recipientKindFor(me.key.spki, registry) !== undefined;
  const receiver = canReceive ? undefined : await replyKey(o.subject, me.key, recipient, registry);
  const transactionId = transactionIdFor(o.key.spki);
  const exchange = async (messageType: 'PKCSReq' | 'RenewalReq' | 'CertPoll', payload: Uint8Array, name: string): Promise<CertRepResult> => {
    const request = await buildPkiRequest({
      messageType, transactionId, payload, recipient, signerCert: me.certificate, key: me.key, cipher, digest,
      extraCertificates: receiver ? [receiver.certificate] : [],
    }, registry);
    o.save?.(`${name}.der`, request.der);
    const reply = await sendPkiMessage(o.url, request.der, method);
    o.save?.(`${name === 'pkcsreq' || name === 'renewalreq' ? 'certrep' : `${name}-certrep`}.der`, reply);
    return readCertRep(reply, request, caCerts, receiver ? [receiver, me] : [me], registry);
  };

  let result = await exchange(o.renew ? 'RenewalReq' : 'PKCSReq', csr, o.renew ? 'renewalreq' : 'pkcsreq');
  const deadline = Date.now() + (o.timeoutMs ?? 300_000);
  const ca = caCerts.find(isCa) ?? recipient;
  const poll = serialize(Object.assign(new IssuerAndSubject(), { issuer: ca.tbsCertificate.subject, subject: parseName(o.subject) }));
  for (let attempt = 1, wait = 1000; result.status === 'PENDING'; attempt++, wait = Math.min(wait * 2, 30_000)) {
    o.onPending?.(attempt);
    if (Date.now() + wait > deadline) throw new EnrollError('still PENDING when the timeout ran out: the request awaits approval');
    await new Promise((r) => setTimeout(r, wait));
    result = await exchange('CertPoll', poll, `certpoll-${attempt}`);
  }
  if (result.status === 'FAILURE') throw new EnrollError(`server refused the request: ${result.failInfo ?? 'unknown failInfo'}${result.failInfoText ? ` (${result.failInfoText})` : ''}`);
  const certificate = result.certificates.find((c) => equalBytes(spkiOf(c), o.key.spki));
  if (!certificate) throw new EnrollError('CertRep SUCCESS does not hold a certificate for our key');
  return { certificate, caCertificates: caCerts };
}
