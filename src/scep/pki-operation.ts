/**
 * PKIOperation (RFC 8894 §3.3, §4.3), straight-line: read the pkiMessage (before this point:
 * HTTP 400) -> exact-replay check -> verify the signer -> open the envelope -> handle the
 * message type -> signed CertRep. Every failure after `readPkiMessage` is a signed CertRep
 * FAILURE with a failInfo (RFC 8894 §3.3.2.2); anything that is not a ScepError is a bug and
 * propagates (the HTTP layer turns it into a generic error, never a stack trace).
 * @module
 */
import { createHash } from 'node:crypto';
import { oneAtATime } from './one-at-a-time.ts';
import { issuedByUs } from '../policy/authorize.ts';
import { CmsError, type CmsFailureName } from '../cms/errors.ts';
import { derIfEncodable } from '../cms/pre-encoded.ts';
import { openEnvelope, type OpenedEnvelope } from '../cms/enveloped-data.ts';
import { spkiOf, verifySignerInfo } from '../cms/signed-data.ts';
import type { Digest, KeyType, SignatureAlgorithm } from '../crypto/types.ts';
import type { TransactionRecord } from '../store/store.ts';
import { envelopeRecipients, replySigner, signerChain, type ScepEnv } from './env.ts';
import { FAIL_TEXT, ScepError } from './errors.ts';
import { type FailInfoName, type MessageTypeName, type PkiStatusName } from './message.ts';
import { certRep, readPkiMessage, replySignature, type CertRepBody, type PkiRequest } from './pki-message.ts';
import { recordClient, type ClientInfo } from './client-record.ts';
import { handleCertPoll, handleEnrollment } from './enroll.ts';
import { handleGetCert, handleGetCrl } from './queries.ts';

/** What a message-type handler returns: the CertRep body, and whether the answer is final. */
export interface Outcome {
  readonly body: CertRepBody;
  /** Recorded for exact replays (SUCCESS/FAILURE of enrollments); PENDING and queries are not. */
  readonly record: boolean;
  /** Set when a certificate was issued: the store write happens with the reply, atomically; `actor` goes into its audit records. */
  readonly commit?: (transaction: TransactionRecord, actor: string) => void;
  /** Key type of the certificate `commit` stores (for the issued-certificates metric). */
  readonly issuedKeyType?: string;
}

/**
 * What one PKIOperation came to, for metrics (src/http/metrics.ts). Every value is a fixed
 * RFC 8894 name or a registry key type, so it is safe as a metric label.
 */
export interface PkiObservation {
  readonly messageType?: MessageTypeName;
  readonly status: PkiStatusName;
  readonly failInfo?: FailInfoName;
  /** Key type of the request's signer certificate, e.g. 'rsa-2048', 'ml-dsa-65'. */
  readonly clientKeyType?: string;
  /** Set when this answer issued a certificate: its key type. */
  readonly issuedKeyType?: string;
  /** An exact replay, answered from the store. */
  readonly replay?: boolean;
}
export type Observe = (observation: PkiObservation) => void;

export interface Verified {
  readonly request: PkiRequest & { readonly signerCert: NonNullable<PkiRequest['signerCert']> };
  readonly digest: Digest;
  readonly signature: SignatureAlgorithm;
  readonly envelope: OpenedEnvelope;
}

type Handler = (v: Verified, env: ScepEnv) => Promise<Outcome>;
const HANDLERS: Readonly<Record<MessageTypeName, Handler | undefined>> = Object.freeze({
  PKCSReq: handleEnrollment,
  RenewalReq: handleEnrollment,
  CertPoll: handleCertPoll,
  GetCert: handleGetCert,
  GetCRL: handleGetCrl,
  CertRep: undefined, // a response is never a request
});

const CMS_FAIL: Readonly<Record<CmsFailureName, FailInfoName>> = Object.freeze({
  malformed: 'badRequest',
  badAlg: 'badAlg',
  badSignature: 'badMessageCheck',
  undecryptable: 'badMessageCheck',
});

/** Answers in progress on this thread, by {@link replayKey}. */
const inflight = new Map<string, Promise<Uint8Array>>();

/**
 * What makes two requests one exact replay: the same bytes to the same fleet (RFC 8894 §3.3.1).
 * The same bytes posted to another fleet (another URL, CA and profile) are that fleet's request.
 * A fleet name holds no newline (fleet-ops.ts), so the key is unambiguous.
 */
export const replayKey = (fleet: string, requestHash: string): string => `${fleet}\n${requestHash}`;

/**
 * Answers one pkiMessage. `client` (address and HTTP method, from the transport) makes an
 * answered PKCSReq or RenewalReq update the client's compatibility record (client-record.ts);
 * callers outside HTTP may leave it out, and then nothing is recorded. `observe` (metrics) is
 * told what the answer came to; not for a request identical to one still being answered.
 * `turn` orders the requests of one transaction (default: one at a time in this thread).
 */
export async function pkiOperation(der: Uint8Array, env: ScepEnv, client?: ClientInfo, observe?: Observe, turn: Turn = inTurn): Promise<Uint8Array> {
  const request = readPkiMessage(der); // ProtocolError 400 until the transaction is identified
  const requestHash = createHash('sha256').update(der).digest('hex');
  // RFC 8894 §3.3.1 / our replay rule: an exact replay (to this fleet) gets the same answer, never a second certificate.
  const previous = env.store.transactionByRequestHash(env.fleet, requestHash);
  if (previous) {
    observe?.({ messageType: request.messageType, status: previous.status, replay: true, clientKeyType: signerKeyType(request, env)?.name });
    return previous.reply;
  }
  const key = replayKey(env.fleet, requestHash);
  const running = inflight.get(key);
  if (running) return running;
  // One transaction's requests one at a time: an issuance commits before the next one looks (enroll.ts).
  const work = turn(`${env.fleet}\n${request.transactionId}`, () => answer(request, requestHash, env, client, observe)).finally(() => inflight.delete(key));
  inflight.set(key, work);
  return work;
}

/**
 * Runs `task` when it is the turn of transaction `key` (fleet + transactionID). The default is
 * this thread's queue; the worker pool (pki-pool.ts) passes its own, which keeps the turn until
 * the answer's writes are committed, on whichever thread the request runs.
 */
export type Turn = (key: string, task: () => Promise<Uint8Array>) => Promise<Uint8Array>;

/** One transaction's requests one at a time, when no `turn` is given. */
const inTurn: Turn = oneAtATime();

/** What verify() got to before it returned or threw: the client record wants it either way. */
interface Reached {
  envelope?: OpenedEnvelope;
}

async function answer(request: PkiRequest, requestHash: string, env: ScepEnv, client: ClientInfo | undefined, observe?: Observe): Promise<Uint8Array> {
  let digest = env.registry.byName('digest', 'SHA-256');
  // Until the signature verifies, the signer certificate's key says which kind of client this is.
  const clientKey = signerKeyType(request, env);
  let quantumSafe = clientKey?.quantumSafe ?? false;
  let outcome: Outcome;
  let rejection: { failInfo: FailInfoName; reason: string } | undefined;
  const reached: Reached = {};
  try {
    const verified = await verify(request, env, reached);
    digest = verified.digest;
    quantumSafe = verified.signature.quantumSafe;
    outcome = await HANDLERS[verified.request.messageType!]!(verified, env);
  } catch (err) {
    const failure = asScepError(err);
    env.log.warn({ transactionId: request.transactionId, messageType: request.rawMessageType, outcome: 'FAILURE', failInfo: failure.failInfo, reason: failure.message }, 'PKIOperation failed');
    outcome = { body: { status: 'FAILURE', failInfo: failure.failInfo, failInfoText: FAIL_TEXT[failure.failInfo] }, record: true };
    rejection = { failInfo: failure.failInfo, reason: failure.message };
  }
  const ra = replySigner(env, quantumSafe);
  const signer = { certificate: ra.certificate, key: ra.key, certificates: signerChain(env, ra) };
  // RFC 9882 §3: ML-DSA prescribes SHA-512; otherwise the profile's preferred digest, else the request's.
  const prescribed = replySignature(ra.certificate, env.registry).cmsDigest ?? env.policy.preferredDigest;
  const replyDigest = prescribed ? env.registry.byName('digest', prescribed) : digest;
  let reply: Uint8Array;
  try {
    reply = await certRep(request, outcome.body, signer, replyDigest, env.registry);
  } catch (err) {
    if (!(err instanceof CmsError) || outcome.body.status !== 'SUCCESS') throw err;
    // The envelope cannot be sealed to the certificate the request gave to receive at (a key
    // that passed every check but does not encrypt). Nothing was committed yet: the issuance is
    // dropped and the answer is a FAILURE like any other bad request.
    const reason = `the reply cannot be enveloped to the requester: ${err.message}`;
    env.log.warn({ transactionId: request.transactionId, messageType: request.rawMessageType, outcome: 'FAILURE', failInfo: 'badRequest', reason }, 'PKIOperation failed');
    outcome = { body: { status: 'FAILURE', failInfo: 'badRequest', failInfoText: FAIL_TEXT.badRequest }, record: true };
    rejection = { failInfo: 'badRequest', reason };
    reply = await certRep(request, outcome.body, signer, replyDigest, env.registry);
  }
  const record: TransactionRecord = {
    transactionId: request.transactionId,
    fleet: env.fleet,
    requestHash,
    messageType: request.messageType ?? request.rawMessageType,
    status: outcome.body.status,
    reply,
    createdAt: new Date(),
  };
  const actor = client?.address ? `client@${client.address}` : 'server';
  if (outcome.commit) outcome.commit(record, actor);
  else if (outcome.record) {
    // Every rejection is audited with its reason, in the same write as the FAILURE reply.
    const audit = rejection && {
      actor, action: 'request.reject', subject: request.transactionId,
      details: { fleet: env.fleet, messageType: record.messageType, failInfo: rejection.failInfo, reason: rejection.reason.slice(0, 300) },
    };
    env.store.recordTransaction(record, audit);
  }
  env.log.info({ transactionId: request.transactionId, fleet: env.fleet, messageType: record.messageType, outcome: record.status }, 'PKIOperation answered');
  observe?.({
    messageType: request.messageType, status: outcome.body.status, failInfo: outcome.body.status === 'FAILURE' ? outcome.body.failInfo : undefined,
    clientKeyType: clientKey?.name, issuedKeyType: outcome.commit ? outcome.issuedKeyType : undefined,
  });
  if (client) recordClient(request, reached.envelope, outcome.body, client, env, record.createdAt);
  return reply;
}

/** RFC 8894 §3.2: signature over the signed attributes, then the pkcsPKIEnvelope. */
async function verify(request: PkiRequest, env: ScepEnv, reached: Reached): Promise<Verified> {
  if (!request.messageType || !HANDLERS[request.messageType]) throw new ScepError('badRequest', `unsupported messageType ${request.rawMessageType}`);
  const signerCert = request.signerCert;
  if (!signerCert) throw new ScepError('badMessageCheck', 'the signer certificate is not in the SignedData');
  try {
    const { digest, signature } = verifySignerInfo(request.signedData, request.signerInfo, spkiOf(signerCert), env.registry);
    // The profile's allow-lists. A message signed by a certificate we issued (a renewal from an
    // older profile's algorithm, during a migration) is authenticated by us, whatever its algorithm.
    if (!env.policy.digests.has(digest.name)) throw new ScepError('badAlg', `digest ${digest.name} is not allowed by profile ${env.profile}`);
    if (!env.policy.signatures.has(signature.name) && !issuedByUs(signerCert, { registry: env.registry, cas: [env.ca, ...env.previousCas], store: env.store }))
      throw new ScepError('badAlg', `signature ${signature.name} is not allowed by profile ${env.profile}`);
    if (!request.signedData.content) throw new ScepError('badRequest', 'pkiMessage has no pkcsPKIEnvelope');
    const recipients = envelopeRecipients(env).map((id) => ({ certificate: id.certificate, key: id.key }));
    const envelope = await openEnvelope(request.signedData.content, recipients, env.registry);
    reached.envelope = envelope;
    if (!env.policy.ciphers.has(envelope.cipher.name)) throw new ScepError('badAlg', `cipher ${envelope.cipher.name} is not allowed by profile ${env.profile}`);
    return { request: { ...request, signerCert }, digest, signature, envelope };
  } catch (err) {
    if (err instanceof CmsError) {
      // A signer key of no enabled key type (e.g. RSA-1024) cannot verify at all: badAlg, not badMessageCheck.
      const unusableKey = err.failure === 'badSignature' && !env.registry.keyTypeOf(spkiOf(signerCert));
      throw new ScepError(unusableKey ? 'badAlg' : CMS_FAIL[err.failure], err.message, { cause: err });
    }
    throw err;
  }
}

/** The key type of the request's signer certificate (its kind of client), if any. */
function signerKeyType(request: PkiRequest, env: ScepEnv): KeyType | undefined {
  // An SPKI with no DER (derIfEncodable) is no key type of ours; verify refuses it.
  const spki = request.signerCert && derIfEncodable(request.signerCert.tbsCertificate.subjectPublicKeyInfo);
  return spki && env.registry.keyTypeOf(spki);
}

function asScepError(err: unknown): ScepError {
  if (err instanceof ScepError) return err;
  if (err instanceof CmsError) return new ScepError(CMS_FAIL[err.failure], err.message, { cause: err });
  throw err;
}

