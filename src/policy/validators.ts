/**
 * A fleet's enrollment authorization, built from its profile's `challenge` section: the
 * validators it names (static, one-time, webhook), combined with 'any' (the first that allows
 * wins) or 'all' (every one must allow), behind an optional per-challenge rate limit.
 *
 * Order matters because one-time challenges are consumed: 'any' tries static first (a fleet's
 * shared secret never burns a one-time challenge), 'all' runs one-time last so a challenge is
 * consumed only when everything else allowed the request.
 * Leaves out: renewals, which need no challenge (authorize.ts).
 * @module
 */
import type { Logger } from '../scep/env.ts';
import type { Store } from '../store/store.ts';
import { challengeHash, fleetStaticChallenge, oneTimeChallenge, type ChallengeResult, type ChallengeValidator } from './challenge.ts';
import type { Profile } from './profile.ts';
import { webhookValidator } from './webhook.ts';

export const VALIDATOR_KINDS = ['static', 'one-time', 'webhook'] as const;
export type ValidatorKind = (typeof VALIDATOR_KINDS)[number];

const ORDER: Readonly<Record<ValidatorKind, number>> = Object.freeze({ static: 0, webhook: 1, 'one-time': 2 });

/** The denial that tells the most: about a challenge some validator recognised, else the first. */
function bestDenial(denials: readonly Extract<ChallengeResult, { ok: false }>[]): ChallengeResult {
  return denials.find((d) => d.known) ?? denials[0];
}

export function combineValidators(validators: readonly ChallengeValidator[], mode: 'any' | 'all'): ChallengeValidator {
  if (validators.length === 1) return validators[0];
  return {
    name: validators.map((v) => v.name).join(mode === 'any' ? '|' : '+'),
    async validate(challenge, request) {
      const denials: Extract<ChallengeResult, { ok: false }>[] = [];
      const allowed: Extract<ChallengeResult, { ok: true }>[] = [];
      for (const v of validators) {
        const r = await v.validate(challenge, request);
        if (r.ok && mode === 'any') return r;
        if (!r.ok && mode === 'all') return r;
        if (r.ok) allowed.push(r);
        else denials.push(r);
      }
      if (mode === 'any') return bestDenial(denials);
      return { ok: true, by: allowed.map((a) => a.by).join('+'), challengeId: allowed.find((a) => a.challengeId)?.challengeId };
    },
  };
}

/**
 * At most `perMinute` requests per challenge value in any sliding minute: a leaked static
 * secret or one-time challenge cannot be hammered. Counts every attempt, allowed or not.
 */
export function rateLimited(inner: ChallengeValidator, perMinute: number, now = () => Date.now()): ChallengeValidator {
  const seen = new Map<string, number[]>();
  return {
    name: inner.name,
    async validate(challenge, request) {
      if (challenge !== undefined) {
        const t = now();
        const key = challengeHash(challenge);
        const recent = (seen.get(key) ?? []).filter((at) => at > t - 60_000);
        if (recent.length >= perMinute) {
          seen.set(key, recent);
          return { ok: false, by: inner.name, reason: `too many requests with this challenge (limit ${perMinute} per minute)`, known: true };
        }
        recent.push(t);
        seen.set(key, recent);
        if (seen.size > 10_000) for (const [k, v] of seen) if (v.every((at) => at <= t - 60_000)) seen.delete(k);
      }
      return inner.validate(challenge, request);
    },
  };
}

export interface ValidatorServices {
  readonly store: Store;
  /** The server's static secret (`--challenge` or data/challenge.txt). */
  readonly staticSecret: string;
  readonly log: Logger;
}

/** The validator of `fleet` running `profile`. */
export function challengeValidatorFor(profile: Profile, fleet: string, s: ValidatorServices): ChallengeValidator {
  const c = profile.challenge;
  const kinds = [...new Set(c.validators)].sort((a, b) => ORDER[a] - ORDER[b]);
  const validators = kinds.map((kind): ChallengeValidator => {
    if (kind === 'static') return fleetStaticChallenge(s.store, fleet, s.staticSecret);
    if (kind === 'one-time') return oneTimeChallenge(s.store);
    if (!c.webhook) throw new Error(`profile ${profile.name}: challenge.webhook is required by the webhook validator`); // the schema refuses this
    return webhookValidator(c.webhook, s.log);
  });
  const combined = combineValidators(validators, c.combine);
  return c.rateLimitPerMinute ? rateLimited(combined, c.rateLimitPerMinute) : combined;
}
