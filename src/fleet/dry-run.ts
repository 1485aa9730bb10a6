/**
 * `pqscep fleet dry-run NAME --profile P`: replays each client compatibility record of a fleet
 * (what the client last sent, src/scep/client-record.ts) against a candidate profile and says,
 * client by client, whether its next request would still succeed, before anything is switched.
 *
 * The checks mirror the server's, in its order, so the first reason is the answer the client
 * would get (pki-operation.ts verify, enroll.ts, policy/authorize.ts, reply-recipient.ts):
 *
 * | check     | breaks when                                                         | answer          |
 * |-----------|---------------------------------------------------------------------|-----------------|
 * | transport | a GET message would outgrow both the GET limit and what it has sent | HTTP error      |
 * | digest    | SignerInfo digest not in the candidate's digests                    | badAlg          |
 * | signature | SignerInfo signature not in its signatures (renewal exemption below) | badAlg          |
 * | cipher    | content cipher unknown to the candidate's registry                  | badAlg          |
 * | envelope  | no RA (or CA) of the candidate, nor of the current profile (kept as previous RAs after the switch), receives the envelope kind it used | badMessageCheck |
 * | cipher    | content cipher not in its ciphers                                   | badAlg          |
 * | key       | CSR key type not in its clientKeys                                  | badAlg          |
 * | reply     | quantum-safe signer, `require-kem`, and no ML-KEM reply certificate | badRequest      |
 *
 * Assumptions, each a NOTE for the operator:
 * - A client repeats what it did last time. One that reads GetCACaps may choose another digest
 *   or cipher, and one that re-reads GetCACert may pick another RA; the verdict stays "breaks"
 *   (it is what the record shows) and a note says it may adapt.
 * - Renewal exemption: the server accepts any SignerInfo signature on a message signed by a
 *   certificate it issued (pki-operation.ts verify). A client whose record shows renewals and
 *   which holds a valid certificate from the current or the candidate CA (after a switch the
 *   fleet still trusts the previous CA) is assumed to renew with it: its SignerInfo signature
 *   is noted, not counted. Its key still has to be allowed.
 * - GET size: the request grows or shrinks only with the RA's RecipientInfo (the client keeps
 *   its key; RECIPIENT_BYTES below), and the GET `message` parameter is its base64 (4/3). A
 *   message that already got through proves the path carries it, so a GET breaks only when the
 *   estimate exceeds both `maxGetUrlBytes` and the largest message the client has sent.
 *   Percent-encoding of '+', '/', '=' and the rest of the URL are not counted.
 * - Facts the record lacks (an algorithm the registry could not name) are not judged; a note
 *   says so.
 * Leaves out: challenge validity, name checks and the CA certificate trust of the client
 * (a CA change is a fleet-level note), and any I/O beyond reading the store.
 * @module
 */
import type { Profile } from '../policy/profile.ts';
import type { RecipientKind } from '../cms/enveloped-data.ts';
import type { Registry } from '../crypto/registry.ts';
import type { FailInfoName } from '../scep/message.ts';
import type { ClientRecord } from '../store/store.ts';
import { policyOf, registryFor } from './fleet-env.ts';
import { FleetError, FleetInputError, settle, type FleetContext } from './fleet-ops.ts';
import { countRows, table } from './table.ts';

/** IIS's default maxQueryString (shared/docs/scep-field-notes.md): the usual GET ceiling in front of SCEP servers. */
export const DEFAULT_MAX_GET_URL_BYTES = 2048;

/**
 * Bytes of the RA-specific part of a RecipientInfo: the ML-KEM ciphertext (FIPS 203 §8
 * Table 3), the RSA-encrypted key (the modulus length), the ephemeral ECDH point (SEC 1 §2.3.3,
 * uncompressed).
 */
const RECIPIENT_BYTES: Readonly<Record<string, number>> = Object.freeze({
  'rsa-2048': 256, 'rsa-3072': 384, 'rsa-4096': 512,
  'ecdsa-p256': 65, 'ecdsa-p384': 97, 'ecdh-p256': 65, 'ecdh-p384': 97,
  'ml-kem-512': 768, 'ml-kem-768': 1088, 'ml-kem-1024': 1568,
});

export interface DryRunOptions {
  /** Largest GET `message` parameter the path to the server is known to carry, in characters; default 2048. */
  readonly maxGetUrlBytes?: number;
  /** The server's `--allow-legacy` (DES, 3DES, SHA-1 for every fleet); default false. */
  readonly allowLegacy?: boolean;
  readonly now?: Date;
}

export type Check = 'transport' | 'digest' | 'signature' | 'cipher' | 'envelope' | 'key' | 'reply';

export interface Break {
  readonly check: Check;
  /** The failInfo of the CertRep FAILURE; absent when the request would not reach SCEP (transport). */
  readonly failInfo?: FailInfoName;
  readonly message: string;
}

export interface ClientVerdict {
  readonly subject: string;
  readonly address?: string;
  readonly method: string;
  readonly keyAlgorithm?: string;
  /** The answer to its last request under the current profile. */
  readonly lastOutcome: string;
  readonly verdict: 'ok' | 'breaks';
  /** In the server's order: the first is what the client would be told. */
  readonly reasons: readonly Break[];
  /** The predicted answer: 'SUCCESS', 'PENDING', 'FAILURE:<failInfo>' or 'HTTP error'. */
  readonly expected: string;
  readonly notes: readonly string[];
  /** GET clients: the estimated length of the base64 `message` parameter under the candidate. */
  readonly getMessageChars?: number;
}

export interface DryRunResult {
  readonly fleet: string;
  readonly profile: string;
  readonly candidate: string;
  readonly maxGetUrlBytes: number;
  /** About the switch as a whole (CA change, approval). */
  readonly notes: readonly string[];
  readonly clients: readonly ClientVerdict[];
  readonly summary: { readonly total: number; readonly ok: number; readonly breaks: number; readonly byCheck: Readonly<Record<string, number>> };
}

const base64Chars = (bytes: number) => 4 * Math.ceil(bytes / 3);

/** The RecipientInfo kind a key type receives with (cms/enveloped-data.ts recipientKindFor, by name). */
function kindOf(keyType: string, registry: Registry): RecipientKind | undefined {
  const k = registry.list('key').find((t) => t.name === keyType);
  if (!k) return undefined;
  if (registry.list('kem').some((kem) => kem.keyOid === k.spkiOid)) return 'kemri';
  if (k.usages.includes('agree') && registry.list('key-agreement').some((a) => a.keyOid === k.spkiOid)) return 'kari';
  if (k.usages.includes('encrypt') && registry.list('key-transport').some((t) => t.keyOid === k.spkiOid)) return 'ktri';
  return undefined;
}

/** The identity of `p` a client using `kind` would envelope to: RAs first, then the CA (env.ts envelopeRecipients). */
const receiverOf = (p: Profile, kind: string, registry: Registry) => [...p.ra, p.ca.algorithm].find((n) => kindOf(n, registry) === kind);

const known = (registry: Registry, kind: 'cipher' | 'signature', name: string) => registry.list(kind).some((a) => a.name === name);

export function dryRun(ctx: FleetContext, fleet: string, candidate: string, o: DryRunOptions = {}): DryRunResult {
  const now = o.now ?? new Date();
  const stored = ctx.store.fleet(fleet);
  if (!stored) throw new FleetError(`no fleet named ${JSON.stringify(fleet)}`);
  const target = ctx.profiles.get(candidate);
  if (!target) throw new FleetInputError(`no profile named ${JSON.stringify(candidate)}; profiles: ${[...ctx.profiles.keys()].join(', ')}`);
  const { record } = settle(stored, now);
  const current = ctx.profiles.get(record.profile);
  const allowLegacy = o.allowLegacy ?? false;
  const registry = registryFor(target, allowLegacy);
  const policy = policyOf(target, registry, allowLegacy);
  const maxGet = o.maxGetUrlBytes ?? DEFAULT_MAX_GET_URL_BYTES;

  // Devices that can renew with a certificate the fleet will still trust after the switch.
  const trustedCas = new Set([target.ca.algorithm, ...(current ? [current.ca.algorithm] : [])]);
  const canRenew = new Set(ctx.store.listCertificates({ fleet, status: 'valid' })
    .filter((c) => c.notAfter > now && c.caKeyType !== undefined && trustedCas.has(c.caKeyType)).map((c) => c.subject || c.sans.join(',')));

  const judge = (c: ClientRecord): ClientVerdict => {
    const reasons: Break[] = [];
    const notes: string[] = [];
    const adapts = c.capsFetched ? ' (it reads GetCACaps and may choose another)' : '';
    let getMessageChars: number | undefined;

    if (c.method === 'GET') {
      const from = current && c.envelope ? receiverOf(current, c.envelope, registry) : undefined;
      const to = c.envelope ? receiverOf(target, c.envelope, registry) : undefined;
      const delta = from && to && RECIPIENT_BYTES[from] !== undefined && RECIPIENT_BYTES[to] !== undefined ? RECIPIENT_BYTES[to] - RECIPIENT_BYTES[from] : 0;
      const sent = base64Chars(c.maxRequestBytes);
      getMessageChars = base64Chars(c.maxRequestBytes + delta);
      if (getMessageChars > maxGet && getMessageChars > sent) {
        reasons.push({ check: 'transport', message: `message too large for GET: about ${getMessageChars} characters, over the ${maxGet}-character limit and above the ${sent} it has sent` });
      } else if (getMessageChars > maxGet) {
        notes.push(`its GET messages (about ${getMessageChars} characters) exceed ${maxGet}, but ones this large have reached the server`);
      }
    }
    if (c.digest === undefined) notes.push('digest not recorded');
    else if (!policy.digests.has(c.digest)) reasons.push({ check: 'digest', failInfo: 'badAlg', message: `digest ${c.digest} is not allowed${adapts}` });
    if (c.signatureAlgorithm === undefined) notes.push('signature algorithm not recorded');
    else if (!policy.signatures.has(c.signatureAlgorithm)) {
      if (c.renewals > 0 && canRenew.has(c.subject)) notes.push(`signature ${c.signatureAlgorithm} is not allowed, but accepted on a RenewalReq signed by its certificate from this fleet`);
      else reasons.push({ check: 'signature', failInfo: 'badAlg', message: `signature ${c.signatureAlgorithm} is not allowed` });
    }
    const cipherBreak: Break | undefined = c.cipher !== undefined && !policy.ciphers.has(c.cipher) ? { check: 'cipher', failInfo: 'badAlg', message: `cipher ${c.cipher} is not allowed${adapts}` } : undefined;
    if (cipherBreak && !known(registry, 'cipher', c.cipher!)) reasons.push(cipherBreak); // openEnvelope refuses it before looking for a recipient
    if (c.envelope === undefined) notes.push('envelope not recorded');
    else if (!receiverOf(target, c.envelope, registry)) {
      const what = { ktri: 'key transport (ktri) needs an RSA RA', kari: 'key agreement (kari) needs an ECDH RA', kemri: 'KEMRecipientInfo (kemri) needs an ML-KEM RA' }[c.envelope as RecipientKind] ?? `envelope ${c.envelope} has no receiver`;
      // After the switch the fleet still opens envelopes to the previous profile's RAs (env.ts previousRas).
      if (current && receiverOf(current, c.envelope, registry)) notes.push(`${what}; ${target.name} has ${target.ra.join(', ')}: it keeps working with the RA it knows until the next switch, but once it re-reads GetCACert it finds none it can use`);
      else reasons.push({ check: 'envelope', failInfo: 'badMessageCheck', message: `${what}; ${target.name} has ${target.ra.join(', ')}` });
    }
    if (cipherBreak && known(registry, 'cipher', c.cipher!)) reasons.push(cipherBreak);
    if (c.cipher === undefined) notes.push('cipher not recorded');
    if (c.keyAlgorithm === undefined) notes.push('key algorithm not recorded');
    else if (!policy.clientKeys.has(c.keyAlgorithm)) reasons.push({ check: 'key', failInfo: 'badAlg', message: `key algorithm ${c.keyAlgorithm} is not allowed (clientKeys: ${target.clientKeys.join(', ')})` });
    const signatureQs = c.signatureAlgorithm && known(registry, 'signature', c.signatureAlgorithm) ? registry.byName('signature', c.signatureAlgorithm).quantumSafe : false;
    if (signatureQs && target.replyEnvelope === 'require-kem' && !c.replyKem) {
      reasons.push({ check: 'reply', failInfo: 'badRequest', message: 'a post-quantum request must bring an ML-KEM certificate for the reply (require-kem), and it did not' });
    }
    if (!c.lastOutcome.startsWith('SUCCESS')) notes.push(`its last request got ${c.lastOutcome} under ${record.profile}`);

    const renews = c.renewals > 0 && canRenew.has(c.subject);
    const first = reasons[0];
    const expected = first ? (first.failInfo ? `FAILURE:${first.failInfo}` : 'HTTP error') : target.approval === 'manual' && !renews ? 'PENDING' : 'SUCCESS';
    return {
      subject: c.subject,
      ...(c.address !== undefined && { address: c.address }),
      method: c.method,
      ...(c.keyAlgorithm !== undefined && { keyAlgorithm: c.keyAlgorithm }),
      lastOutcome: c.lastOutcome,
      verdict: first ? 'breaks' : 'ok',
      reasons,
      expected,
      notes,
      ...(getMessageChars !== undefined && { getMessageChars }),
    };
  };

  const clients = ctx.store.clients(fleet).map(judge);
  const notes: string[] = [];
  if (!current) notes.push(`the current profile ${record.profile} is not loaded: GET sizes assume the same RA`);
  else if (current.ca.algorithm !== target.ca.algorithm) notes.push(`the CA changes from ${current.ca.algorithm} to ${target.ca.algorithm}: clients must fetch and trust the new CA (announce it first: set-profile --overlap)`);
  if (target.approval === 'manual') notes.push(`${target.name} approves new enrollments manually: they answer PENDING until approved`);
  const byCheck: Record<string, number> = {};
  for (const v of clients) for (const check of new Set(v.reasons.map((r) => r.check))) byCheck[check] = (byCheck[check] ?? 0) + 1;
  const breaks = clients.filter((v) => v.verdict === 'breaks').length;
  return {
    fleet,
    profile: record.profile,
    candidate,
    maxGetUrlBytes: maxGet,
    notes,
    clients,
    summary: { total: clients.length, ok: clients.length - breaks, breaks, byCheck },
  };
}

/** The result as `pqscep fleet dry-run` prints it. */
export function formatDryRun(r: DryRunResult): string {
  const out = [`fleet ${r.fleet}: dry run of ${r.candidate} (now ${r.profile}) against ${r.summary.total} recorded client${r.summary.total === 1 ? '' : 's'}`];
  for (const n of r.notes) out.push(`  note: ${n}`);
  if (r.clients.length) {
    out.push(...table([['SUBJECT', 'KEY', 'METHOD', 'VERDICT', 'EXPECTED'],
      ...r.clients.map((c) => [c.subject, c.keyAlgorithm ?? '?', c.method, c.verdict, c.expected])]));
  }
  for (const c of r.clients.filter((v) => v.reasons.length || v.notes.length)) {
    out.push(`${c.subject}:`);
    for (const b of c.reasons) out.push(`  breaks (${b.check}): ${b.message}`);
    for (const n of c.notes) out.push(`  note: ${n}`);
  }
  out.push(`summary: ${r.summary.ok} ok, ${r.summary.breaks} would break`);
  if (r.summary.breaks) out.push(...table(countRows(r.summary.byCheck)));
  return out.join('\n') + '\n';
}
