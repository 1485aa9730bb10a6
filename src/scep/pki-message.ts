/**
 * pkiMessage (RFC 8894 §3.2): read the outer SignedData of a request up to the point where the
 * transaction is identified (transactionID, messageType, senderNonce, signer certificate), and
 * build a CertRep (§3.3.2) signed by the RA. Before `readPkiMessage` returns, a failure is a
 * ProtocolError (HTTP 400); after it, everything becomes a signed CertRep FAILURE.
 * Leaves out: the inner envelope (cms/enveloped-data.ts) and what the request asks for
 * (pki-operation.ts).
 * @module
 */
import type { SignerInfo } from '@peculiar/asn1-cms';
import type { Certificate } from '@peculiar/asn1-x509';
import { randomBytes } from 'node:crypto';
import type { Registry } from '../crypto/registry.ts';
import type { ContentCipher, Digest, KeyTransport, PrivateKeyHandle } from '../crypto/types.ts';
import { CmsError } from '../cms/errors.ts';
import { sealEnvelope } from '../cms/enveloped-data.ts';
import { findSignerCertificate, parseSignedData, type ParsedSignedData } from '../cms/signed-data.ts';
import { signData } from '../cms/signed-data-build.ts';
import { certRepAttributes, readOctets, readString } from './attributes.ts';
import { ProtocolError } from './errors.ts';
import { FailInfo, MessageType, nameOf, PkiStatus, ScepOid, type FailInfoName, type MessageTypeName } from './message.ts';

export interface PkiRequest {
  readonly der: Uint8Array;
  readonly signedData: ParsedSignedData;
  readonly signerInfo: SignerInfo;
  /** The certificate that signed the request, if the SignedData carries it. */
  readonly signerCert: Certificate | undefined;
  /** Undefined for a messageType we do not know (answered with FAILURE badRequest). */
  readonly messageType: MessageTypeName | undefined;
  readonly rawMessageType: string;
  readonly transactionId: string;
  readonly senderNonce: Uint8Array;
}

/** RFC 8894 §3.2.1.5: nonces are 16 bytes; we accept 8..64 from lenient clients. */
const NONCE_MIN = 8;
const NONCE_MAX = 64;
const TRANSACTION_ID_MAX = 256;

export function readPkiMessage(der: Uint8Array): PkiRequest {
  let signedData: ParsedSignedData;
  try {
    signedData = parseSignedData(der);
  } catch (err) {
    if (err instanceof CmsError) throw new ProtocolError(400, `not a pkiMessage: ${err.message}`);
    throw err;
  }
  if (signedData.signedData.signerInfos.length !== 1) throw new ProtocolError(400, 'pkiMessage must have exactly one SignerInfo');
  const signerInfo = signedData.signedData.signerInfos[0];
  const attrs = signerInfo.signedAttrs;
  const transactionId = readString(attrs, ScepOid.transactionID);
  const rawMessageType = readString(attrs, ScepOid.messageType);
  const senderNonce = readOctets(attrs, ScepOid.senderNonce);
  if (!transactionId || transactionId.length > TRANSACTION_ID_MAX) throw new ProtocolError(400, 'missing or malformed transactionID');
  if (rawMessageType === undefined) throw new ProtocolError(400, 'missing or malformed messageType');
  if (!senderNonce || senderNonce.length < NONCE_MIN || senderNonce.length > NONCE_MAX) throw new ProtocolError(400, 'missing or malformed senderNonce');
  const messageType = nameOf(MessageType, rawMessageType);
  return {
    der,
    signedData,
    signerInfo,
    signerCert: findSignerCertificate(signedData, signerInfo),
    messageType: messageType === 'CertRep' ? undefined : messageType,
    rawMessageType,
    transactionId,
    senderNonce,
  };
}

/** The RA identity that signs CertReps (RFC 8894 §2.1: CA or RA). */
export interface ReplySigner {
  readonly certificate: Certificate;
  readonly key: PrivateKeyHandle;
  readonly certificates: readonly Certificate[];
}

export type CertRepBody =
  | { readonly status: 'SUCCESS'; readonly content: Uint8Array; readonly cipher: ContentCipher; readonly keyTransport?: KeyTransport; readonly recipient: Certificate }
  | { readonly status: 'FAILURE'; readonly failInfo: FailInfoName; readonly failInfoText: string }
  | { readonly status: 'PENDING' };

/**
 * Builds a signed CertRep for `request` (RFC 8894 §3.3.2): transactionID echoed,
 * recipientNonce = request senderNonce, a fresh random senderNonce, and for SUCCESS the
 * degenerate SignedData `content` enveloped to the requester.
 */
export async function certRep(request: Pick<PkiRequest, 'transactionId' | 'senderNonce'>, body: CertRepBody, signer: ReplySigner, digest: Digest, registry: Registry): Promise<Uint8Array> {
  const attributes = certRepAttributes({
    transactionId: request.transactionId,
    messageType: MessageType.CertRep,
    pkiStatus: PkiStatus[body.status],
    senderNonce: new Uint8Array(randomBytes(16)),
    recipientNonce: request.senderNonce,
    failInfo: body.status === 'FAILURE' ? FailInfo[body.failInfo] : undefined,
    failInfoText: body.status === 'FAILURE' ? body.failInfoText : undefined,
  });
  const content = body.status === 'SUCCESS' ? await sealEnvelope(body.content, body.recipient, body.cipher, registry, { keyTransport: body.keyTransport }) : undefined;
  return signData({
    content,
    signerCertificate: signer.certificate,
    key: signer.key,
    signature: replySignature(signer.certificate, registry),
    digest,
    attributes,
    certificates: signer.certificates,
  });
}

/**
 * The SignerInfo signature algorithm for replies: the one for the signer's key whose digest
 * comes from SignerInfo.digestAlgorithm (for RSA that is `rsaEncryption`, the only form
 * strongSwan accepts), else the first that fits the key.
 */
export function replySignature(certificate: Certificate, registry: Registry) {
  const keyOid = certificate.tbsCertificate.subjectPublicKeyInfo.algorithm.algorithm;
  const fits = registry.list('signature').filter((s) => s.keyOid === keyOid);
  const chosen = fits.find((s) => s.digest === null) ?? fits[0];
  if (!chosen) throw new TypeError(`no signature algorithm for the RA key (${keyOid})`);
  return chosen;
}
