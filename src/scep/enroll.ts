/**
 * PKCSReq, RenewalReq (RFC 8894 §3.3.1) and CertPoll (§3.3.3): parse and check the CSR,
 * authorise, optionally park the request as PENDING for manual approval, issue, and build the
 * SUCCESS body. The certificate and the transaction reply are stored in one write (`commit`).
 * @module
 */
import { AsnProp } from '@peculiar/asn1-schema';
import { Certificate as CertificateClass, Name } from '@peculiar/asn1-x509';
import { randomUUID } from 'node:crypto';
import { nameToString, randomSerial, serialHex } from '../ca/certificate.ts';
import { CsrError, parseCsr, verifyCsr, type CsrInfo } from '../ca/csr.ts';
import { issueCertificate } from '../ca/issuer.ts';
import { equalBytes, parse } from '../cms/der.ts';
import { CmsError } from '../cms/errors.ts';
import { derOf } from '../cms/pre-encoded.ts';
import { spkiOf } from '../cms/signed-data.ts';
import { certsOnly } from '../cms/signed-data-build.ts';
import type { ContentCipher } from '../crypto/types.ts';
import { UnsupportedAlgorithmError } from '../crypto/types.ts';
import { authorize, type Authorization } from '../policy/authorize.ts';
import type { CertificateRecord } from '../store/store.ts';
import type { ScepEnv } from './env.ts';
import { ScepError } from './errors.ts';
import { replyRecipient } from './reply-recipient.ts';
import type { Outcome, Verified } from './pki-operation.ts';

const CSR_FAIL = { malformed: 'badRequest', badAlg: 'badAlg', badSignature: 'badMessageCheck' } as const;

function checkedCsr(der: Uint8Array, env: ScepEnv): CsrInfo {
  try {
    const csr = parseCsr(der);
    // A key of no enabled key type (e.g. RSA-1024) is refused by policy as badAlg; say so before
    // the self-signature check, which cannot succeed with such a key (it would read badMessageCheck).
    if (!env.registry.keyTypeOf(csr.spki)) throw new ScepError('badAlg', 'CSR key is not of an enabled key type');
    verifyCsr(csr, env.registry); // RFC 2986 §3: the self-signature is the proof of possession
    const csrSignature = env.registry.byOid('signature', csr.request.signatureAlgorithm.algorithm).name;
    if (!env.policy.signatures.has(csrSignature)) throw new ScepError('badAlg', `CSR signature ${csrSignature} is not allowed by profile ${env.profile}`);
    return csr;
  } catch (err) {
    if (err instanceof CsrError) throw new ScepError(CSR_FAIL[err.failure], `CSR: ${err.message}`, { cause: err });
    throw err;
  }
}

export async function handleEnrollment(v: Verified, env: ScepEnv): Promise<Outcome> {
  const { request } = v;
  const csr = checkedCsr(v.envelope.content, env);
  const decision = await authorize(
    { messageType: request.messageType as 'PKCSReq' | 'RenewalReq', transactionId: request.transactionId, csr, signerCert: request.signerCert },
    {
      registry: env.registry, clientKeys: env.policy.clientKeys, sanTypes: env.policy.sanTypes, cas: [env.ca, ...env.previousCas],
      store: env.store, challenge: env.challenge, fleet: env.fleet, renewal: env.renewal,
    },
  );
  if ('failInfo' in decision) throw new ScepError(decision.failInfo, decision.reason);
  const earlier = issuedBefore(v, csr, env);
  if (earlier) return { body: success(v, earlier.der, csr, env), record: true };

  // RFC 8894 §3.3.3: a client may resend its request instead of polling.
  // This fleet's: one key enrolled in two fleets has one transactionID in both (RFC 8894 §3.2.1.1).
  const open = env.store.pendingByTransaction(env.fleet, request.transactionId);
  if (open?.status === 'pending') return { body: { status: 'PENDING' }, record: false };
  if (open?.status === 'approved') return issue(v, parseCsr(open.csr), env, approved(open.id), open.id);
  if (env.approval === 'manual' && decision.renewalOf === null) {
    const id = randomUUID();
    env.store.addPending({
      id, transactionId: request.transactionId, fleet: env.fleet, subject: csr.subjectString,
      csr: csr.der, signerCert: derOf(request.signerCert), createdAt: new Date(),
    }, {
      actor: 'server', action: 'request.pending', subject: id,
      details: { fleet: env.fleet, transactionId: request.transactionId, subjectDn: csr.subjectString, authorization: decision.by, challengeId: decision.challengeId },
    });
    return { body: { status: 'PENDING' }, record: false };
  }
  return issue(v, csr, env, decision);
}

/** The authorization of a request an operator approved (`pqscep requests approve`). */
const approved = (id: string): Authorization => ({ renewalOf: null, by: `approval:${id}` });

/**
 * One transaction, one certificate (RFC 8894 §3.2.1.1: the transactionID names the transaction
 * across resends). A client whose reply was lost resends with a fresh senderNonce, so the exact-
 * replay rule (pki-operation.ts) does not catch it: when this fleet's current CA already issued
 * a valid, unexpired certificate in this transaction (other than the request's own signer
 * certificate, which a renewal reusing its key and transactionID presents), the answer is that
 * certificate again if it certifies the CSR's key, and FAILURE badRequest if it certifies another
 * key. A revoked or expired certificate, or one from an earlier CA (after a fleet switch), does
 * not count: the same key may enroll again. A fresh certificate for a still valid one is a
 * RenewalReq (or a new key, hence a new transactionID with our client).
 * Concurrent requests of one transaction are answered one at a time (pki-operation.ts), so the
 * check cannot race an issuance in this process.
 */
function issuedBefore(v: Verified, csr: CsrInfo, env: ScepEnv): CertificateRecord | undefined {
  const now = Date.now();
  // The signer certificate is encoded only when there is something to compare it with (a new transaction has nothing).
  const earlier = env.store.certificatesByTransaction(v.request.transactionId)
    .find((c) => c.fleet === env.fleet && c.issuer === env.ca.fingerprint && c.status === 'valid' && c.notAfter.getTime() > now && !equalBytes(c.der, derOf(v.request.signerCert)));
  if (!earlier) return undefined;
  const spki = spkiOf(parse(earlier.der, CertificateClass, 'Certificate'));
  if (!equalBytes(spki, csr.spki)) throw new ScepError('badRequest', `transaction ${v.request.transactionId} already has certificate ${earlier.serial} for another key`);
  return earlier;
}

/**
 * ```asn
 * IssuerAndSubject ::= SEQUENCE { issuer Name, subject Name }
 * ```
 * RFC 8894 §3.3.3: the content of a CertPoll.
 */
export class IssuerAndSubject {
  @AsnProp({ type: Name }) public issuer = new Name();
  @AsnProp({ type: Name }) public subject = new Name();
}

export async function handleCertPoll(v: Verified, env: ScepEnv): Promise<Outcome> {
  try {
    parse(v.envelope.content, IssuerAndSubject, 'IssuerAndSubject');
  } catch (err) {
    if (err instanceof CmsError) throw new ScepError('badRequest', err.message);
    throw err;
  }
  const txid = v.request.transactionId;
  const pending = env.store.pendingByTransaction(env.fleet, txid);
  if (pending?.status === 'pending') return { body: { status: 'PENDING' }, record: false };
  if (pending?.status === 'approved') return issue(v, parseCsr(pending.csr), env, approved(pending.id), pending.id);
  if (pending?.status === 'rejected') throw new ScepError('badRequest', `request ${pending.id} was rejected: ${pending.reason ?? 'no reason given'}`);
  const serial = pending?.status === 'issued' ? pending.certSerial : undefined;
  const record = serial ? env.store.certificate(serial) : env.store.certificatesByTransaction(txid).find((c) => c.fleet === env.fleet);
  if (!record) throw new ScepError('badCertID', `no request or certificate for transaction ${txid}`);
  return { body: success(v, record.der, undefined, env), record: false };
}

async function issue(v: Verified, csr: CsrInfo, env: ScepEnv, authorization: Authorization, pendingId?: string): Promise<Outcome> {
  // Whom the reply goes to is settled before the CA signs anything (a refusal signs nothing).
  const recipient = recipientOf(v, env);
  // 127-bit random serials (RFC 5280 §4.1.2.2); the store's UNIQUE constraint is the last word.
  let serial = randomSerial();
  while (env.store.certificate(serialHex(serial))) serial = randomSerial();
  const { certificate, der } = await issueCertificate(csr, env.ca, env.issuance, env.registry, serial);
  const record: CertificateRecord = {
    serial: serialHex(serial),
    subject: nameToString(certificate.tbsCertificate.subject),
    sans: csr.sans,
    notBefore: certificate.tbsCertificate.validity.notBefore.getTime(),
    notAfter: certificate.tbsCertificate.validity.notAfter.getTime(),
    keyAlgorithm: env.registry.keyTypeOf(csr.spki)?.name ?? 'unknown',
    signatureAlgorithm: env.registry.byOid('signature', certificate.signatureAlgorithm.algorithm).name,
    issuer: env.ca.fingerprint,
    transactionId: v.request.transactionId,
    fleet: env.fleet,
    caKeyType: env.ca.key.keyType,
    status: 'valid',
    der,
  };
  env.log.info({ transactionId: v.request.transactionId, serial: record.serial, subject: record.subject, fleet: env.fleet }, 'certificate issued');
  const replaces = authorization.replaces;
  return {
    body: successWith(v, certsOnly([certificate]), csr, env, recipient),
    record: true,
    // The certificate, the reply, the audit records and a revoke-on-replace commit together.
    commit: (transaction, actor) => env.store.recordIssuance(record, { ...transaction, certSerial: record.serial }, pendingId, {
      audit: [
        {
          actor, action: 'certificate.issue', subject: record.serial,
          details: {
            fleet: env.fleet, transactionId: record.transactionId, messageType: transaction.messageType, subjectDn: record.subject,
            keyAlgorithm: record.keyAlgorithm, signatureAlgorithm: record.signatureAlgorithm, authorization: authorization.by,
            challengeId: authorization.challengeId, renewalOf: authorization.renewalOf ?? undefined,
          },
        },
        ...(replaces ? [{ actor, action: 'certificate.revoke', subject: replaces, details: { serial: replaces, reason: 'superseded', fleet: env.fleet, replacedBy: record.serial } }] : []),
      ],
      revoke: replaces ? { serial: replaces, reason: 'superseded' } : undefined,
    }),
    issuedKeyType: record.keyAlgorithm,
  };
}

/** SUCCESS body: the certificate in a degenerate SignedData, enveloped to the requester. */
export function success(v: Verified, certDer: Uint8Array, csr: CsrInfo | undefined, env: ScepEnv): Outcome['body'] {
  return successWith(v, certsOnly([parse(certDer, CertificateClass, 'Certificate')]), csr, env);
}

const recipientOf = (v: Verified, env: ScepEnv) =>
  replyRecipient(v.request.signerCert, v.request.signedData.certificates, v.signature.quantumSafe, env.pqReplyEnvelope, env.registry);

/** SUCCESS body carrying `content` (a degenerate SignedData) enveloped to the requester (RFC 8894 §3.3.2). */
export function successWith(v: Verified, content: Uint8Array, csr: CsrInfo | undefined, env: ScepEnv, recipient = recipientOf(v, env)): Outcome['body'] {
  return {
    status: 'SUCCESS',
    content,
    recipient,
    cipher: replyCipher(v, csr, env),
    keyTransport: v.envelope.keyTransport, // a key-transport reply uses the sender's choice (e.g. OAEP) when it fits
  };
}

/**
 * The reply cipher among those the client showed it supports (the one it used, and those its
 * CSR's SMIMECapabilities list) and the profile allows: the profile's preferred one if shown,
 * else the strongest.
 */
function replyCipher(v: Verified, csr: CsrInfo | undefined, env: ScepEnv): ContentCipher {
  const used = v.envelope.cipher;
  const listed = (csr?.smimeCiphers ?? []).flatMap((oid) => {
    try {
      return [env.registry.byOid('cipher', oid)];
    } catch (err) {
      if (err instanceof UnsupportedAlgorithmError) return [];
      throw err;
    }
  });
  const shown = [used, ...listed].filter((c) => c.aead === used.aead && env.policy.ciphers.has(c.name));
  return shown.find((c) => c.name === env.policy.preferredCipher) ?? shown.reduce((a, b) => (b.strength > a.strength ? b : a), used);
}
