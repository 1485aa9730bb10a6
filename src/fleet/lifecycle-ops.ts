/**
 * Enrollment authorization and approval, transport-neutral (like admin-ops.ts, whose
 * FleetAdmin surface exposes these): one-time challenges (`pqscep challenge issue|list`), the
 * static challenge's rotation with an overlap (`pqscep challenge rotate`), and the manual
 * approval queue (`pqscep requests list|approve|reject`, RFC 8894 §3.3.3 PENDING/CertPoll).
 * Every change is audited in the same store transaction.
 *
 * A challenge is 128 random bits as 32 hex digits: every SCEP client can type and send that
 * (some devices refuse punctuation in challengePassword). Only its SHA-256 is stored; it is
 * printed once, by the command that created it.
 * Leaves out: deleting challenges (expiry does that), editing a decided request.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { challengeHash, challengeId, configuredSecretMarker } from '../policy/challenge.ts';
import type { ChallengeRecord, PendingRequest, PendingStatus } from '../store/store.ts';
import { FleetError, parseDuration, type FleetContext } from './fleet-ops.ts';

/** Thrown for malformed input (HTTP 400) and unknown things (404) by admin-ops' error kinds. */
export interface LifecycleErrors {
  readonly input: (message: string) => FleetError;
  readonly notFound: (message: string) => FleetError;
}

export interface IssueChallengesRequest {
  readonly fleet?: string;
  /** How long they stay valid, e.g. '1h' (default), '7d'. */
  readonly ttl?: string;
  /** A regular expression the CSR subject must match in full, e.g. 'CN=printer-\\d+,O=Acme'. */
  readonly subjectPattern?: string;
  readonly count?: number;
}

export interface IssuedChallenges {
  readonly fleet: string;
  readonly expiresAt: string;
  readonly subjectPattern?: string;
  readonly challenges: readonly { readonly id: string; readonly challenge: string }[];
}

export interface ChallengeView {
  readonly id: string;
  readonly kind: 'one-time' | 'static';
  readonly fleet: string;
  readonly status: 'unused' | 'used' | 'expired' | 'current' | 'retiring';
  readonly createdAt: string;
  readonly expiresAt?: string;
  readonly subjectPattern?: string;
  readonly usedAt?: string;
  readonly usedByTransaction?: string;
}

export interface RotatedChallenge {
  readonly fleet: string;
  readonly challenge: string;
  /** Until when the previous static challenge(s) stay valid. */
  readonly previousValidUntil: string;
}

export interface RequestView {
  readonly id: string;
  readonly fleet: string;
  readonly transactionId: string;
  readonly subject: string;
  readonly status: PendingStatus;
  readonly createdAt: string;
  readonly decidedAt?: string;
  readonly reason?: string;
  readonly certSerial?: string;
}

const MAX_COUNT = 10_000;
const MAX_TTL_MS = 365 * 86_400_000;

function ttlMs(text: string, errors: LifecycleErrors): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    throw errors.input((err as Error).message);
  }
  if (ms < 1000 || ms > MAX_TTL_MS) throw errors.input(`invalid --ttl ${text}: use 1s to 365d`);
  return ms;
}

function requireFleet(ctx: FleetContext, name: string, errors: LifecycleErrors) {
  const f = ctx.store.fleet(name);
  if (!f) throw errors.notFound(`no fleet named ${JSON.stringify(name)}; create it with: pqscep fleet create ${name} --profile P`);
  return f;
}

/** Refuses to create challenges a fleet's profile would not accept (they could never be used). */
function requireValidator(ctx: FleetContext, fleet: string, kind: 'one-time' | 'static', errors: LifecycleErrors): void {
  const profileName = requireFleet(ctx, fleet, errors).profile;
  const profile = ctx.profiles.get(profileName);
  if (profile && !profile.challenge.validators.includes(kind))
    throw new FleetError(`fleet ${fleet} runs profile ${profileName}, whose challenge.validators (${profile.challenge.validators.join(', ')}) do not include ${kind}`);
}

export function issueChallenges(ctx: FleetContext, r: IssueChallengesRequest, actor: string, errors: LifecycleErrors, now = new Date()): IssuedChallenges {
  const fleet = r.fleet ?? 'default';
  const count = r.count ?? 1;
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_COUNT) throw errors.input(`invalid --count ${count}: use 1 to ${MAX_COUNT}`);
  if (r.subjectPattern !== undefined) {
    try {
      new RegExp(r.subjectPattern);
    } catch (err) {
      throw errors.input(`invalid --subject-pattern: ${(err as Error).message}`);
    }
  }
  requireValidator(ctx, fleet, 'one-time', errors);
  const expiresAt = new Date(now.getTime() + ttlMs(r.ttl ?? '1h', errors));
  const challenges = Array.from({ length: count }, () => randomBytes(16).toString('hex'));
  const records: ChallengeRecord[] = challenges.map((c) => ({
    hash: challengeHash(c), kind: 'one-time', fleet, createdAt: now, expiresAt, ...(r.subjectPattern !== undefined && { subjectPattern: r.subjectPattern }),
  }));
  ctx.store.addChallenges(records, {
    actor, action: 'challenge.issue', subject: fleet,
    details: { fleet, count, expiresAt: expiresAt.toISOString(), subjectPattern: r.subjectPattern, ids: records.map((x) => challengeId(x.hash)) },
  });
  return {
    fleet, expiresAt: expiresAt.toISOString(), ...(r.subjectPattern !== undefined && { subjectPattern: r.subjectPattern }),
    challenges: challenges.map((challenge, i) => ({ id: challengeId(records[i].hash), challenge })),
  };
}

function challengeStatus(c: ChallengeRecord, now: Date): ChallengeView['status'] {
  const expired = c.expiresAt !== undefined && c.expiresAt <= now;
  if (c.kind === 'static') return expired ? 'expired' : c.expiresAt ? 'retiring' : 'current';
  return c.usedAt ? 'used' : expired ? 'expired' : 'unused';
}

export function listChallenges(ctx: FleetContext, fleet: string, errors: LifecycleErrors, now = new Date()): ChallengeView[] {
  requireFleet(ctx, fleet, errors);
  return ctx.store.challenges(fleet).map((c) => ({
    id: c.hash.startsWith('configured:') ? 'configured' : challengeId(c.hash),
    kind: c.kind, fleet: c.fleet, status: challengeStatus(c, now), createdAt: c.createdAt.toISOString(),
    ...(c.expiresAt && { expiresAt: c.expiresAt.toISOString() }),
    ...(c.subjectPattern !== undefined && { subjectPattern: c.subjectPattern }),
    ...(c.usedAt && { usedAt: c.usedAt.toISOString() }),
    ...(c.usedBy && { usedByTransaction: c.usedBy.transactionId }),
  }));
}

/**
 * A new static challenge for `fleet`; the current one(s) stay valid for `overlap` (default 24h)
 * so devices configured with the old secret can be moved over. The first rotation retires the
 * server's configured secret (`--challenge`, data/challenge.txt) for this fleet the same way.
 */
export function rotateStaticChallenge(ctx: FleetContext, fleet: string, overlap: string | undefined, actor: string, errors: LifecycleErrors, now = new Date()): RotatedChallenge {
  requireValidator(ctx, fleet, 'static', errors);
  let overlapMs: number;
  try {
    overlapMs = parseDuration(overlap ?? '24h');
  } catch (err) {
    throw errors.input((err as Error).message);
  }
  if (overlapMs > MAX_TTL_MS) throw errors.input(`invalid --overlap ${overlap}: at most 365d`);
  const retireAt = new Date(now.getTime() + overlapMs);
  if (ctx.store.challenges(fleet, 'static').length === 0) {
    ctx.store.addChallenges([{ hash: configuredSecretMarker(fleet), kind: 'static', fleet, createdAt: now }],
      { actor, action: 'challenge.static.adopt', subject: fleet, details: { fleet } });
  }
  const challenge = randomBytes(16).toString('hex');
  const hash = challengeHash(challenge);
  ctx.store.rotateStaticChallenge(fleet, { hash, kind: 'static', fleet, createdAt: now }, retireAt, {
    actor, action: 'challenge.static.rotate', subject: fleet, details: { fleet, id: challengeId(hash), previousValidUntil: retireAt.toISOString() },
  });
  return { fleet, challenge, previousValidUntil: retireAt.toISOString() };
}

function requestView(p: PendingRequest): RequestView {
  return {
    id: p.id, fleet: p.fleet, transactionId: p.transactionId, subject: p.subject, status: p.status, createdAt: p.createdAt.toISOString(),
    ...(p.decidedAt && { decidedAt: p.decidedAt.toISOString() }),
    ...(p.reason !== undefined && { reason: p.reason }),
    ...(p.certSerial !== undefined && { certSerial: p.certSerial }),
  };
}

const STATUSES: readonly PendingStatus[] = ['pending', 'approved', 'rejected', 'issued'];

export function listRequests(ctx: FleetContext, filter: { fleet?: string; status?: string }, errors: LifecycleErrors): RequestView[] {
  if (filter.fleet !== undefined) requireFleet(ctx, filter.fleet, errors);
  const status = filter.status === 'all' ? undefined : (filter.status ?? 'pending');
  if (status !== undefined && !STATUSES.includes(status as PendingStatus)) throw errors.input(`invalid status ${JSON.stringify(status)}: use ${STATUSES.join(', ')} or all`);
  return ctx.store.listPending(status as PendingStatus | undefined, filter.fleet).map(requestView);
}

/** The request `id`, or the only one whose id starts with it (at least 8 characters). */
function findRequest(ctx: FleetContext, id: string, errors: LifecycleErrors): PendingRequest {
  const exact = ctx.store.pending(id);
  if (exact) return exact;
  const matches = id.length >= 8 ? ctx.store.listPending().filter((p) => p.id.startsWith(id)) : [];
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) throw errors.input(`request id ${id} is ambiguous: give more characters`);
  throw errors.notFound(`no request ${JSON.stringify(id.slice(0, 64))}; see pqscep requests list`);
}

export function decideRequest(ctx: FleetContext, id: string, decision: 'approved' | 'rejected', reason: string | undefined, actor: string, errors: LifecycleErrors): RequestView {
  const p = findRequest(ctx, id, errors);
  if (p.status !== 'pending') throw new FleetError(`request ${p.id} is already ${p.status}`);
  if (decision === 'rejected' && !reason?.trim()) throw errors.input('a rejection needs a reason (--reason)');
  const action = decision === 'approved' ? 'request.approve' : 'request.reject';
  const ok = ctx.store.decide(p.id, decision, reason?.trim(), new Date(), {
    actor, action, subject: p.id, details: { fleet: p.fleet, transactionId: p.transactionId, subjectDn: p.subject, reason: reason?.trim() },
  });
  if (!ok) throw new FleetError(`request ${p.id} was decided meanwhile`);
  return requestView(ctx.store.pending(p.id)!);
}
