/**
 * Who may enroll (RFC 8894 §2.3, §3.3.1): a renewal — a RenewalReq, or a PKCSReq (§3.3.1.2
 * allows either), signed by a certificate this CA issued that is unexpired and not revoked, for
 * the same subject — needs no challenge but must pass the fleet's renewal rules (window, re-key,
 * active certificates per subject); anything else needs the fleet's challenge validators
 * (validators.ts). Also the client key policy (a registered key type that can sign) and the
 * names we refuse to certify.
 * Leaves out: manual approval (enroll.ts parks the request), the audit records (pki-operation.ts).
 * @module
 */
import { createHash } from 'node:crypto';
import type { Certificate } from '@peculiar/asn1-x509';
import type { CaIdentity } from '../ca/issuer.ts';
import type { CsrInfo } from '../ca/csr.ts';
import { serialHex, verifyCertificateSignature } from '../ca/certificate.ts';
import { equalBytes } from '../cms/der.ts';
import { derIfEncodable, derOf, receivedBytes } from '../cms/pre-encoded.ts';
import { spkiOf } from '../cms/signed-data.ts';
import type { Registry } from '../crypto/registry.ts';
import type { Store } from '../store/store.ts';
import type { ChallengeValidator } from './challenge.ts';

export type Denial = { readonly failInfo: 'badRequest' | 'badAlg'; readonly reason: string };

/** A profile's `renewal` section. */
export interface RenewalPolicy {
  readonly windowDays?: number;
  readonly rekey: 'allowed' | 'required' | 'forbidden';
  readonly maxActivePerSubject?: number;
  readonly revokeOnReplace: boolean;
}

/** Why the request may go ahead. */
export interface Authorization {
  /** The serial of the certificate being renewed, or null for a challenge-authorised request. */
  readonly renewalOf: string | null;
  /** What authorised it: 'renewal', or the validators that allowed ('static', 'one-time', 'webhook'). */
  readonly by: string;
  /** The one-time challenge used (its id, never the challenge). */
  readonly challengeId?: string;
  /** Revoke this serial when the new certificate is issued (revoke-on-replace). */
  readonly replaces?: string;
}

export interface AuthorizeInput {
  readonly messageType: 'PKCSReq' | 'RenewalReq';
  readonly transactionId: string;
  readonly csr: CsrInfo;
  readonly signerCert: Certificate;
}

export interface AuthorizeEnv {
  readonly registry: Registry;
  /** Key types a CSR may carry (the profile's clientKeys). */
  readonly clientKeys: ReadonlySet<string>;
  /** SAN kinds a CSR may request (the profile's certificate.sanTypes); all when absent. */
  readonly sanTypes?: ReadonlySet<string>;
  readonly cas: readonly CaIdentity[];
  readonly store: Store;
  readonly challenge: ChallengeValidator;
  readonly fleet: string;
  readonly renewal?: RenewalPolicy;
}

const DAY = 86_400_000;
const deny = (reason: string): Denial => ({ failInfo: 'badRequest', reason });

export async function authorize(input: AuthorizeInput, env: AuthorizeEnv, now = new Date()): Promise<Authorization | Denial> {
  const { csr } = input;
  const found = env.registry.keyTypeOf(csr.spki);
  const keyType = found?.usages.includes('sign') ? found : undefined;
  if (!keyType || !env.clientKeys.has(keyType.name)) return { failInfo: 'badAlg', reason: `CSR key ${keyType?.name ?? 'of unknown type'} is not allowed` };
  const names = nameProblem(csr, env.sanTypes);
  if (names) return deny(names);

  const policy = env.renewal ?? { rekey: 'allowed', revokeOnReplace: false };
  const renewed = renewalOf(input, env, now);
  if (renewed) {
    const problem = renewalProblem(renewed, csr, policy, now);
    if (problem) return deny(problem);
  }
  const replaces = renewed && policy.revokeOnReplace ? renewed.serial : undefined;
  if (policy.maxActivePerSubject !== undefined) {
    const active = env.store.activeCertificates(env.fleet, csr.subjectString, now).filter((c) => c.serial !== replaces);
    if (active.length >= policy.maxActivePerSubject)
      return deny(`subject ${JSON.stringify(csr.subjectString)} already holds ${active.length} valid certificate(s) in fleet ${env.fleet} (renewal.maxActivePerSubject ${policy.maxActivePerSubject}); revoke one first`);
  }
  if (renewed) return { renewalOf: renewed.serial, by: 'renewal', ...(replaces && { replaces }) };

  const result = await env.challenge.validate(csr.challengePassword, {
    fleet: env.fleet,
    transactionId: input.transactionId,
    messageType: input.messageType,
    subject: csr.subjectString,
    sans: csr.sans,
    keyAlgorithm: keyType.name,
    keyHash: createHash('sha256').update(csr.spki).digest('hex'),
    csr: csr.der,
  });
  if (!result.ok) return deny(result.reason);
  return { renewalOf: null, by: result.by, ...(result.challengeId && { challengeId: result.challengeId }) };
}

/** The certificate a request renews: signed by a certificate we issued, for the same subject. */
function renewalOf(input: AuthorizeInput, env: AuthorizeEnv, now: Date): { serial: string; cert: Certificate } | undefined {
  const serial = issuedByUs(input.signerCert, env, now);
  if (!serial) return undefined;
  // A request for another subject is a new enrollment by a known device: it needs a challenge.
  if (!equalBytes(derOf(input.signerCert.tbsCertificate.subject), derOf(input.csr.subject))) return undefined;
  return { serial, cert: input.signerCert };
}

function renewalProblem(old: { serial: string; cert: Certificate }, csr: CsrInfo, p: RenewalPolicy, now: Date): string | undefined {
  const notAfter = old.cert.tbsCertificate.validity.notAfter.getTime();
  if (p.windowDays !== undefined && now.getTime() < notAfter.getTime() - p.windowDays * DAY) {
    const opens = new Date(notAfter.getTime() - p.windowDays * DAY).toISOString();
    return `renewal of ${old.serial} is too early: the renewal window (${p.windowDays} days before notAfter ${notAfter.toISOString()}) opens at ${opens}`;
  }
  const sameKey = equalBytes(spkiOf(old.cert), csr.spki);
  if (p.rekey === 'required' && sameKey) return `renewal of ${old.serial} must use a new key (renewal.rekey required)`;
  if (p.rekey === 'forbidden' && !sameKey) return `renewal of ${old.serial} must keep its key (renewal.rekey forbidden)`;
  return undefined;
}

/** RFC 1034 §3.5 preferred name syntax (LDH labels), optionally with a leading wildcard label. */
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DNS_NAME = new RegExp(`^(?:\\*\\.)?(?:${LABEL}\\.)*${LABEL}$`);
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * What we refuse to put in a certificate: an empty subject without SANs (RFC 5280 §4.1.2.6),
 * dNSNames that are not hostnames (RFC 5280 §4.2.1.6; NUL-prefix tricks), control characters.
 */
function nameProblem(csr: CsrInfo, sanTypes: ReadonlySet<string> | undefined): string | undefined {
  if (csr.subject.length === 0 && csr.sans.length === 0) return 'empty subject and no subjectAltName';
  for (const san of csr.sans) {
    const kind = san.slice(0, san.indexOf(':'));
    const value = san.slice(san.indexOf(':') + 1);
    if (sanTypes && !sanTypes.has(kind)) return `subjectAltName of kind ${kind} is not allowed by the profile (allowed: ${[...sanTypes].join(', ')})`;
    if (san.startsWith('DNS:') && (!DNS_NAME.test(value) || value.length > 253)) return `invalid dNSName ${JSON.stringify(value.slice(0, 80))}`;
    if (CONTROL.test(value) || value.length === 0) return `invalid subjectAltName ${JSON.stringify(san.slice(0, 80))}`;
  }
  return undefined;
}

/** The serial of `cert` if one of our CAs issued it, it is in validity and not revoked. */
export function issuedByUs(cert: Certificate, env: Pick<AuthorizeEnv, 'registry' | 'cas' | 'store'>, now = new Date()): string | undefined {
  const tbs = cert.tbsCertificate;
  // Our CA certificates' subjects and keys are encoded once for the process (derOf), not per
  // request. The request's certificate is compared by the issuer bytes it came with: a
  // certificate we issued carries our CA's subject DER in its signed bytes (anything else fails
  // the signature check below anyway), so nothing needs encoding.
  const issuerDer = receivedBytes(tbs.issuer) ?? derIfEncodable(tbs.issuer);
  if (!issuerDer) return undefined; // an issuer Name with no DER is not one of ours
  const ca = env.cas.find((c) => equalBytes(derOf(c.certificate.tbsCertificate.subject), issuerDer));
  if (!ca) return undefined;
  if (!verifyCertificateSignature(cert, spkiOf(ca.certificate), env.registry)) return undefined;
  const notBefore = tbs.validity.notBefore.getTime();
  const notAfter = tbs.validity.notAfter.getTime();
  if (now < notBefore || now > notAfter) return undefined;
  const serial = serialHex(tbs.serialNumber);
  const record = env.store.certificate(serial);
  if (!record || record.status !== 'valid' || record.issuer !== ca.fingerprint) return undefined;
  return serial;
}
