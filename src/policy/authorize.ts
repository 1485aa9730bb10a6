/**
 * Who may enroll (RFC 8894 §2.3, §3.3.1): a PKCSReq needs a valid challenge password; a
 * RenewalReq signed by a certificate this CA issued that is unexpired and not revoked needs
 * none (a RenewalReq without such a certificate falls back to the challenge). Also the client
 * key policy: the CSR key must be of a registered key type that can sign.
 * Leaves out: one-time/webhook validators and approval (behind ChallengeValidator and ScepEnv).
 * @module
 */
import type { Certificate } from '@peculiar/asn1-x509';
import type { CaIdentity } from '../ca/issuer.ts';
import type { CsrInfo } from '../ca/csr.ts';
import { serialHex, verifyCertificateSignature } from '../ca/certificate.ts';
import { serialize, equalBytes } from '../cms/der.ts';
import type { Registry } from '../crypto/registry.ts';
import type { Store } from '../store/store.ts';
import type { ChallengeValidator } from './challenge.ts';

export type Denial = { readonly failInfo: 'badRequest' | 'badAlg'; readonly reason: string };

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
}

/** Resolves to the renewed certificate's serial (renewals), null (challenge), or a Denial. */
export async function authorize(input: AuthorizeInput, env: AuthorizeEnv, now = new Date()): Promise<{ renewalOf: string | null } | Denial> {
  const keyType = env.registry.list('key').find((k) => k.usages.includes('sign') && k.matches(input.csr.spki));
  if (!keyType || !env.clientKeys.has(keyType.name)) return { failInfo: 'badAlg', reason: `CSR key ${keyType?.name ?? 'of unknown type'} is not allowed` };
  const names = nameProblem(input.csr, env.sanTypes);
  if (names) return { failInfo: 'badRequest', reason: names };

  if (input.messageType === 'RenewalReq') {
    const serial = issuedByUs(input.signerCert, env, now);
    if (serial) return { renewalOf: serial };
  }
  const ok = await env.challenge.validate(input.csr.challengePassword, {
    transactionId: input.transactionId,
    subject: input.csr.subjectString,
    sans: input.csr.sans,
  });
  if (!ok) return { failInfo: 'badRequest', reason: input.csr.challengePassword === undefined ? 'no challenge password' : 'wrong challenge password' };
  return { renewalOf: null };
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
  const issuerDer = serialize(tbs.issuer);
  const ca = env.cas.find((c) => equalBytes(serialize(c.certificate.tbsCertificate.subject), issuerDer));
  if (!ca) return undefined;
  if (!verifyCertificateSignature(cert, serialize(ca.certificate.tbsCertificate.subjectPublicKeyInfo), env.registry)) return undefined;
  const notBefore = tbs.validity.notBefore.getTime();
  const notAfter = tbs.validity.notAfter.getTime();
  if (now < notBefore || now > notAfter) return undefined;
  const serial = serialHex(tbs.serialNumber);
  const record = env.store.certificate(serial);
  if (!record || record.status !== 'valid' || record.issuer !== ca.fingerprint) return undefined;
  return serial;
}
