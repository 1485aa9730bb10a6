/**
 * Everything a SCEP request needs, gathered in one immutable value built at start-up (and, with
 * profiles, swapped whole so no request sees half a configuration).
 * @module
 */
import type { Certificate } from '@peculiar/asn1-x509';
import type { CaIdentity, IssuancePolicy } from '../ca/issuer.ts';
import type { Registry } from '../crypto/registry.ts';
import type { ChallengeValidator } from '../policy/challenge.ts';
import type { Store } from '../store/store.ts';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ScepEnv {
  readonly registry: Registry;
  /** The current CA (issues certificates and CRLs). */
  readonly ca: CaIdentity;
  /** The RA: receives request envelopes and signs CertReps. May be the CA itself. */
  readonly ra: CaIdentity;
  /** A staged successor CA announced by GetNextCACert (RFC 8894 §3.5.3), if any. */
  readonly nextCa?: { readonly ca: CaIdentity; readonly ra?: CaIdentity };
  /** Earlier CAs whose certificates still authenticate renewals (rollover). */
  readonly previousCas: readonly CaIdentity[];
  readonly store: Store;
  readonly challenge: ChallengeValidator;
  readonly issuance: IssuancePolicy;
  /** 'manual': enrollment requests wait as PENDING until approved (RFC 8894 §3.3.3). */
  readonly approval: 'auto' | 'manual';
  readonly crlValidityHours: number;
  readonly log: Logger;
}

/** The certificates GetCACert returns and CertReps carry: RA first (if distinct), then the CA. */
export function caChain(env: Pick<ScepEnv, 'ca' | 'ra'>): Certificate[] {
  return env.ra.fingerprint === env.ca.fingerprint ? [env.ca.certificate] : [env.ra.certificate, env.ca.certificate];
}
