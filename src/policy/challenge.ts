/**
 * Challenge-password validation (RFC 8894 §2.3, PKCS#9 challengePassword RFC 2985 §5.4.1)
 * behind one interface, with the validators that need no network: the static shared secret
 * (per fleet, rotatable with an overlap) and one-time challenges (single use, expiring,
 * optionally bound to a subject). The webhook validator is in webhook.ts; how a profile
 * combines them is validators.ts.
 *
 * Challenges are compared as SHA-256 digests: the store keeps only digests, and comparing
 * digests keeps the comparison independent of the secret's length and content.
 * Leaves out: who may skip the challenge (renewals, authorize.ts).
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuditInput, ChallengeRecord, Store } from '../store/store.ts';

/** The facts of the request a challenge must authorise (what a webhook receives too). */
export interface ChallengeRequest {
  readonly fleet: string;
  readonly transactionId: string;
  readonly messageType: 'PKCSReq' | 'RenewalReq';
  /** CSR subject as an RFC 4514 string. */
  readonly subject: string;
  readonly sans: readonly string[];
  /** Registry name of the CSR key type, e.g. 'ml-dsa-65'. */
  readonly keyAlgorithm: string;
  /** SHA-256 hex of the CSR's SubjectPublicKeyInfo. */
  readonly keyHash: string;
  /** DER PKCS#10 request. */
  readonly csr: Uint8Array;
}

/**
 * A validator's answer. `known` marks a denial about a challenge this validator recognised
 * (reused, expired, other fleet, subject mismatch): more telling than "unknown challenge".
 */
export type ChallengeResult =
  | { readonly ok: true; readonly by: string; readonly challengeId?: string }
  | { readonly ok: false; readonly by: string; readonly reason: string; readonly known?: boolean };

export interface ChallengeValidator {
  readonly name: string;
  validate(challenge: string | undefined, request: ChallengeRequest): Promise<ChallengeResult>;
}

export const challengeHash = (challenge: string): string => createHash('sha256').update(challenge, 'utf8').digest('hex');
/** What `pqscep challenge list` shows for a challenge: the first 12 hex digits of its hash. */
export const challengeId = (hash: string): string => hash.slice(0, 12);

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const missing = (by: string): ChallengeResult => ({ ok: false, by, reason: 'no challenge password' });

/** One shared secret, fixed for the life of the validator. */
export function staticChallenge(secret: string): ChallengeValidator {
  if (!secret) throw new RangeError('the static challenge must not be empty');
  const expected = digest(secret);
  return {
    name: 'static',
    async validate(challenge) {
      if (challenge === undefined) return missing('static');
      return timingSafeEqual(digest(challenge), expected) ? { ok: true, by: 'static' } : { ok: false, by: 'static', reason: 'wrong challenge password' };
    },
  };
}

/**
 * The hash under which a rotation records "the server's configured secret stays valid until":
 * before the first rotation a fleet's static challenge is the server's (`--challenge` or
 * data/challenge.txt), which the store never saw.
 */
export const configuredSecretMarker = (fleet: string): string => `configured:${fleet}`;

/**
 * The static challenge of `fleet`: the server's configured secret until the fleet's first
 * rotation, then the rotated secrets still within their validity (the newest, and the previous
 * ones until their overlap ends).
 */
export function fleetStaticChallenge(store: Store, fleet: string, configured: string): ChallengeValidator {
  const fallback = staticChallenge(configured);
  return {
    name: 'static',
    async validate(challenge, request) {
      if (challenge === undefined) return missing('static');
      const now = Date.now();
      const rows = store.challenges(fleet, 'static');
      if (rows.length === 0) return fallback.validate(challenge, request);
      const live = rows.filter((r) => !r.expiresAt || r.expiresAt.getTime() > now);
      const hash = Buffer.from(challengeHash(challenge));
      if (live.some((r) => r.hash.length === hash.length && timingSafeEqual(Buffer.from(r.hash), hash))) return { ok: true, by: 'static' };
      if (live.some((r) => r.hash === configuredSecretMarker(fleet)) && (await fallback.validate(challenge, request)).ok) return { ok: true, by: 'static' };
      return { ok: false, by: 'static', reason: 'wrong challenge password' };
    },
  };
}

/** Why a stored one-time challenge cannot authorise `request` now, or undefined if it can. */
function oneTimeProblem(c: ChallengeRecord, request: ChallengeRequest, now: Date): string | undefined {
  if (c.fleet !== request.fleet) return `one-time challenge ${challengeId(c.hash)} was issued for fleet ${c.fleet}`;
  if (c.expiresAt && c.expiresAt <= now) return `one-time challenge ${challengeId(c.hash)} expired at ${c.expiresAt.toISOString()}`;
  if (c.usedBy && (c.usedBy.transactionId !== request.transactionId || c.usedBy.keyHash !== request.keyHash))
    return `one-time challenge ${challengeId(c.hash)} was already used by transaction ${c.usedBy.transactionId} at ${c.usedAt?.toISOString()}`;
  if (c.subjectPattern !== undefined && !new RegExp(`^(?:${c.subjectPattern})$`).test(request.subject))
    return `subject ${JSON.stringify(request.subject)} does not match the pattern one-time challenge ${challengeId(c.hash)} is bound to`;
  return undefined;
}

/**
 * One-time challenges from `pqscep challenge issue`: found by hash, checked (fleet, expiry,
 * earlier use, subject pattern) and consumed atomically with a 'challenge.use' audit record.
 */
export function oneTimeChallenge(store: Store, actor = 'server'): ChallengeValidator {
  return {
    name: 'one-time',
    async validate(challenge, request) {
      if (challenge === undefined) return missing('one-time');
      const hash = challengeHash(challenge);
      const record = store.challenge(hash);
      if (!record || record.kind !== 'one-time') return { ok: false, by: 'one-time', reason: 'unknown challenge password' };
      const now = new Date();
      const problem = oneTimeProblem(record, request, now);
      if (problem) return { ok: false, by: 'one-time', reason: problem, known: true };
      const audit: AuditInput = {
        actor, action: 'challenge.use', subject: challengeId(hash),
        details: { fleet: request.fleet, transactionId: request.transactionId, subjectDn: request.subject, messageType: request.messageType },
      };
      if (!store.useChallenge(hash, { transactionId: request.transactionId, keyHash: request.keyHash, at: now }, audit)) {
        return { ok: false, by: 'one-time', reason: `one-time challenge ${challengeId(hash)} was used by another request at the same time`, known: true };
      }
      return { ok: true, by: 'one-time', challengeId: challengeId(hash) };
    },
  };
}
