/**
 * The client compatibility record (`Store.recordClient`): what one PKCSReq or RenewalReq
 * (RFC 8894 §3.3.1) showed about the client that sent it, merged into the client's row after
 * the request is answered. `fleet dry-run` (src/fleet/dry-run.ts) replays these facts against a
 * candidate profile, so a client is recorded whatever its answer, refusals included: a device
 * whose key or algorithms the profile refuses is exactly what a migration needs to see.
 *
 * The facts, and where each comes from:
 * - subject and key type: the CSR when the envelope was opened, else the signer certificate
 *   (for a PKCSReq a self-signed certificate of the CSR key, by convention with the CSR's
 *   subject, RFC 8894 §2.3; for a RenewalReq the certificate being renewed);
 * - signature and digest: the SignerInfo's algorithm identifiers, named by the fleet's registry;
 * - envelope kind and cipher: the opened envelope, else read from the EnvelopedData structure
 *   (nothing is decrypted or verified for the record);
 * - replyKem: the request carried an ML-KEM certificate signed by its signer (docs/pqc-scep.md §5);
 * - size, HTTP method, client address, and the answer ('SUCCESS', 'PENDING', 'FAILURE:<failInfo>').
 * An algorithm the fleet's registry cannot name is left out rather than guessed.
 *
 * Recording never changes an answer: any error here is logged and dropped.
 * Leaves out: CertPoll, GetCert and GetCRL (they add nothing about the client), exact replays
 * (answered from the store before any of this runs), and judging the facts (fleet/dry-run.ts).
 * @module
 */
import { EnvelopedData, type RecipientInfo } from '@peculiar/asn1-cms';
import { nameToString, verifyCertificateSignature } from '../ca/certificate.ts';
import { parseCsr, type CsrInfo } from '../ca/csr.ts';
import { CmsError } from '../cms/errors.ts';
import { recipientKindFor, type OpenedEnvelope, type RecipientKind } from '../cms/enveloped-data.ts';
import { kariNames } from '../cms/key-agree-recipient-info.ts';
import { id_ori_kem, kemRecipientInfo } from '../cms/kem-recipient-info.ts';
import { id_ct_authEnvelopedData, id_envelopedData } from '../cms/oids.ts';
import { AuthEnvelopedData } from '../cms/schema.ts';
import { identifies, parseContentInfo, spkiOf } from '../cms/signed-data.ts';
import { UnsupportedAlgorithmError } from '../crypto/types.ts';
import type { ClientObservation } from '../store/store.ts';
import { envelopeRecipients, type ScepEnv } from './env.ts';
import type { CertRepBody, PkiRequest } from './pki-message.ts';
import { ALGORITHMS } from '../../algorithms/index.ts';
import { createRegistry } from '../crypto/registry.ts';

/** How the request reached us, from the transport (src/http/router.ts). */
export interface ClientInfo {
  /** The peer address as the HTTP layer sees it. */
  readonly address?: string;
  /** 'GET' or 'POST'. */
  readonly method: string;
}

/** Merges one answered enrollment into the client's record; never throws. */
export function recordClient(request: PkiRequest, envelope: OpenedEnvelope | undefined, body: CertRepBody, client: ClientInfo, env: ScepEnv, at = new Date()): void {
  try {
    const observation = clientObservation(request, envelope, body, client, env, at);
    if (observation) env.store.recordClient(observation);
  } catch (err) {
    env.log.warn({ transactionId: request.transactionId, err }, 'client compatibility record not written');
  }
}

/** The observation for an answered PKCSReq or RenewalReq; undefined for other messages or when nothing names the client. */
export function clientObservation(request: PkiRequest, envelope: OpenedEnvelope | undefined, body: CertRepBody, client: ClientInfo, env: ScepEnv, at: Date): ClientObservation | undefined {
  const messageType = request.messageType;
  if (messageType !== 'PKCSReq' && messageType !== 'RenewalReq') return undefined;
  const csr = envelope && csrOf(envelope.content);
  const signer = request.signerCert;
  const subject = csr ? csr.subjectString || csr.sans.join(',') : signer && nameToString(signer.tbsCertificate.subject);
  const spki = csr?.spki ?? (signer && spkiOf(signer));
  if (!subject || !spki) return undefined;
  const outer = envelope ? { kind: envelope.kind, cipher: envelope.cipher.name } : peekEnvelope(request.signedData.content, env);
  return {
    fleet: env.fleet,
    subject,
    address: client.address,
    method: client.method,
    keyAlgorithm: env.registry.keyTypeOf(spki)?.name,
    signatureAlgorithm: nameOf(env, 'signature', request.signerInfo.signatureAlgorithm.algorithm),
    digest: nameOf(env, 'digest', request.signerInfo.digestAlgorithm.algorithm),
    cipher: outer.cipher,
    envelope: outer.kind,
    replyKem: replyKem(request, body, env),
    lastOutcome: body.status === 'FAILURE' ? `FAILURE:${body.failInfo}` : body.status,
    at,
    requestBytes: request.der.length,
    messageType,
  };
}

function csrOf(der: Uint8Array): CsrInfo | undefined {
  try {
    return parseCsr(der);
  } catch {
    return undefined; // a malformed CSR: the signer certificate still names the client
  }
}

/** Names every registered algorithm, legacy ones included: naming is not enabling (dry-run needs to know a refused DES). */
const NAMING = createRegistry(ALGORITHMS, { allowLegacy: true });

function nameOf(_env: ScepEnv, kind: 'signature' | 'digest' | 'cipher', oid: string): string | undefined {
  try {
    return NAMING.byOid(kind, oid).name;
  } catch (err) {
    if (err instanceof UnsupportedAlgorithmError) return undefined;
    throw err;
  }
}

/**
 * Did the client bring a KEM certificate bound to its signer? A SUCCESS was enveloped to it
 * if so (reply-recipient.ts prefers it), which spares a second signature check.
 */
function replyKem(request: PkiRequest, body: CertRepBody, env: ScepEnv): boolean {
  if (body.status === 'SUCCESS') return recipientKindFor(spkiOf(body.recipient), env.registry) === 'kemri';
  const signer = request.signerCert;
  if (!signer) return false;
  return request.signedData.certificates.some((c) => c !== signer &&
    recipientKindFor(spkiOf(c), env.registry) === 'kemri' && verifyCertificateSignature(c, spkiOf(signer), env.registry));
}

/**
 * The RecipientInfo kind and content cipher of an envelope we did not open (RFC 5652 §6.1,
 * RFC 5083 §2.1): the RecipientInfo addressed to one of our certificates, else the first.
 */
function peekEnvelope(der: Uint8Array | undefined, env: ScepEnv): { kind?: RecipientKind; cipher?: string } {
  if (!der) return {};
  try {
    return peek(der, env);
  } catch (err) {
    if (err instanceof CmsError) return {}; // not an envelope we can read: the rest of the record stands
    throw err;
  }
}

function peek(der: Uint8Array, env: ScepEnv): { kind?: RecipientKind; cipher?: string } {
  const ci = parseContentInfo(der, [id_envelopedData, id_ct_authEnvelopedData]);
  const e = ci.contentType === id_ct_authEnvelopedData ? ci.decode(AuthEnvelopedData, 'AuthEnvelopedData') : ci.decode(EnvelopedData, 'EnvelopedData');
  const eci = e instanceof AuthEnvelopedData ? e.authEncryptedContentInfo : e.encryptedContentInfo;
  const ours = envelopeRecipients(env).map((id) => id.certificate);
  const addressed = (ri: RecipientInfo) => ours.some((cert) =>
    (ri.ktri && identifies(ri.ktri.rid, cert)) || (ri.kari && kariNames(ri.kari, cert)) ||
    (ri.ori?.oriType === id_ori_kem && identifies(kemRecipientInfo(ri)!.rid, cert)));
  const ri = e.recipientInfos.find(addressed) ?? e.recipientInfos[0];
  const kind: RecipientKind | undefined = ri?.ktri ? 'ktri' : ri?.kari ? 'kari' : ri?.ori?.oriType === id_ori_kem ? 'kemri' : undefined;
  return { kind, cipher: nameOf(env, 'cipher', eci.contentEncryptionAlgorithm.algorithm) };
}
