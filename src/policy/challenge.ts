/**
 * Challenge-password validation (RFC 8894 §2.3, PKCS#9 challengePassword RFC 2985 §5.4.1)
 * behind one interface, so one-time, webhook and per-fleet validators can be added without
 * touching the protocol code. Here: the static shared secret.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export interface ChallengeRequest {
  readonly transactionId: string;
  readonly subject: string;
  readonly sans: readonly string[];
}

export interface ChallengeValidator {
  /** Resolves true when `challenge` authorises this request. Must not leak timing. */
  validate(challenge: string | undefined, request: ChallengeRequest): Promise<boolean>;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** One shared secret. Both sides are hashed first so the compare is constant-time in the length too. */
export function staticChallenge(secret: string): ChallengeValidator {
  if (!secret) throw new RangeError('the static challenge must not be empty');
  const expected = digest(secret);
  return {
    async validate(challenge) {
      return challenge !== undefined && timingSafeEqual(digest(challenge), expected);
    },
  };
}
