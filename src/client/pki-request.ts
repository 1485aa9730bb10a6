/**
 * Client side of a PKIOperation (RFC 8894 §3.2-3.3): seal a payload to the RA and sign it with
 * the SCEP attributes; then verify and open the CertRep (signature by a CA/RA certificate,
 * recipientNonce = our senderNonce, transactionID echoed) and extract certificates/CRLs.
 * @module
 */
import type { Certificate, CertificateList } from '@peculiar/asn1-x509';
import { createHash, randomBytes } from 'node:crypto';
import { openEnvelope, sealEnvelope, type Recipient } from '../cms/enveloped-data.ts';
import { findSignerCertificate, parseSignedData, spkiAlgorithmOid, spkiOf, verifySignerInfo } from '../cms/signed-data.ts';
import { signData } from '../cms/signed-data-build.ts';
import { identifies } from '../cms/signed-data.ts';
import type { Registry } from '../crypto/registry.ts';
import type { ContentCipher, Digest, PrivateKeyHandle } from '../crypto/types.ts';
import { octetString, printable, readOctets, readString, transactionIdAttribute } from '../scep/attributes.ts';
import { FailInfo, MessageType, nameOf, PkiStatus, ScepOid, type FailInfoName, type MessageTypeName, type PkiStatusName } from '../scep/message.ts';
import { equalBytes } from '../cms/der.ts';

export interface RequestOptions {
  readonly messageType: MessageTypeName;
  readonly transactionId: string;
  readonly payload: Uint8Array;
  /** The certificate to envelope to (the RA's, or the CA's). */
  readonly recipient: Certificate;
  readonly signerCert: Certificate;
  readonly key: PrivateKeyHandle;
  readonly cipher: ContentCipher;
  readonly digest: Digest;
  /** More certificates for the SignedData, e.g. the ML-KEM certificate a post-quantum client receives the reply at. */
  readonly extraCertificates?: readonly Certificate[];
}

export interface BuiltRequest {
  readonly der: Uint8Array;
  readonly senderNonce: Uint8Array;
  readonly transactionId: string;
}

/** transactionID as RFC 8894 §3.2.1.1 suggests: a hash of the public key (hex). */
export const transactionIdFor = (spki: Uint8Array): string => createHash('sha256').update(spki).digest('hex').toUpperCase();

export async function buildPkiRequest(o: RequestOptions, registry: Registry): Promise<BuiltRequest> {
  const envelope = await sealEnvelope(o.payload, o.recipient, o.cipher, registry);
  const senderNonce = new Uint8Array(randomBytes(16));
  const signerKeyOid = spkiAlgorithmOid(o.key.spki);
  const signature = registry.list('signature').find((s) => s.keyOid === signerKeyOid && (s.digest === null || s.digest === o.digest.name));
  if (!signature) throw new Error(`no signature algorithm for a ${signerKeyOid} key`);
  const der = await signData({
    content: envelope,
    signerCertificate: o.signerCert,
    key: o.key,
    signature,
    digest: o.digest,
    certificates: [o.signerCert, ...(o.extraCertificates ?? [])],
    attributes: [
      transactionIdAttribute(o.transactionId),
      printable(ScepOid.messageType, MessageType[o.messageType]),
      octetString(ScepOid.senderNonce, senderNonce),
    ],
  });
  return { der, senderNonce, transactionId: o.transactionId };
}

export type CertRepResult =
  | { readonly status: 'SUCCESS'; readonly certificates: readonly Certificate[]; readonly crls: readonly CertificateList[] }
  | { readonly status: 'FAILURE'; readonly failInfo: FailInfoName | undefined; readonly failInfoText?: string }
  | { readonly status: 'PENDING' };

export class CertRepError extends Error {
  override readonly name = 'CertRepError';
}

/** Verifies a CertRep against `trusted` (CA/RA certificates) and our request, then opens it with one of `me` (our keys that can receive). */
export async function readCertRep(der: Uint8Array, request: BuiltRequest, trusted: readonly Certificate[], me: Recipient | readonly Recipient[], registry: Registry): Promise<CertRepResult> {
  const sd = parseSignedData(der);
  const signer = sd.signedData.signerInfos[0];
  if (!signer) throw new CertRepError('CertRep has no SignerInfo');
  const signerCert = trusted.find((c) => identifies(signer.sid, c)) ?? findSignerCertificate(sd, signer);
  if (!signerCert || !trusted.some((t) => equalBytes(spkiOf(t), spkiOf(signerCert)))) throw new CertRepError('CertRep is not signed by a trusted CA/RA certificate');
  verifySignerInfo(sd, signer, spkiOf(signerCert), registry);
  const attrs = signer.signedAttrs;
  if (readString(attrs, ScepOid.messageType) !== MessageType.CertRep) throw new CertRepError('reply is not a CertRep');
  if (readString(attrs, ScepOid.transactionID) !== request.transactionId) throw new CertRepError('CertRep transactionID does not match');
  const recipientNonce = readOctets(attrs, ScepOid.recipientNonce);
  if (!recipientNonce || !equalBytes(recipientNonce, request.senderNonce)) throw new CertRepError('CertRep recipientNonce does not match our senderNonce');
  const status = nameOf(PkiStatus, readString(attrs, ScepOid.pkiStatus) ?? '') as PkiStatusName | undefined;
  if (status === 'PENDING') return { status };
  if (status === 'FAILURE') {
    const failInfo = nameOf(FailInfo, readString(attrs, ScepOid.failInfo) ?? '') as FailInfoName | undefined;
    return { status, failInfo, failInfoText: readString(attrs, ScepOid.failInfoText) };
  }
  if (status !== 'SUCCESS') throw new CertRepError('CertRep has no valid pkiStatus');
  if (!sd.content) throw new CertRepError('CertRep SUCCESS without content');
  const opened = await openEnvelope(sd.content, Array.isArray(me) ? me : [me as Recipient], registry);
  const inner = parseSignedData(opened.content);
  return { status, certificates: inner.certificates, crls: inner.crls };
}
