/**
 * Issues an end-entity certificate for a parsed, verified PKCS#10 request (RFC 5280 §4.1,
 * extensions §4.2.1): the client's subject and public key verbatim, SANs from its
 * subjectAltName request, and a fixed end-entity profile (basicConstraints cA=false, keyUsage
 * from the key type's abilities, extendedKeyUsage from policy, SKI/AKI, optional CRL DP).
 * Leaves out: deciding whether to issue (src/policy/), other requested extensions (dropped on
 * purpose, a client does not choose its own key usage), storing the certificate.
 * @module
 */
import { createHash } from 'node:crypto';
import {
  AuthorityKeyIdentifier, BasicConstraints, Certificate, CRLDistributionPoints, DistributionPoint,
  DistributionPointName, ExtendedKeyUsage, type Extension, GeneralName, KeyIdentifier, KeyUsage, KeyUsageFlags,
  SubjectAlternativeName, SubjectKeyIdentifier, id_ce_authorityKeyIdentifier, id_ce_basicConstraints,
  id_ce_cRLDistributionPoints, id_ce_extKeyUsage, id_ce_keyUsage, id_ce_subjectAltName, id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
} from '@peculiar/asn1-x509';
import type { Registry } from '../crypto/registry.ts';
import type { KeyType } from '../crypto/types.ts';
import type { PrivateKeyHandle } from '../crypto/types.ts';
import { equalBytes, parse } from '../cms/der.ts';
import { derOf } from '../cms/pre-encoded.ts';
import { spkiOf } from '../cms/signed-data.ts';
import { certificateSignatureAlgorithm, extension, keyIdentifierOf, signCertificate, subjectKeyIdentifier } from './certificate.ts';
import type { CsrInfo } from './csr.ts';

export interface IssuancePolicy {
  readonly validityDays: number;
  /** Key purpose OIDs; an empty list omits the extension. Profiles default to DEFAULT_EXTENDED_KEY_USAGE. */
  readonly extendedKeyUsage: readonly string[];
  /** URI put in cRLDistributionPoints (RFC 5280 §4.2.1.13). */
  readonly crlDistributionPoint?: string;
}

/** id-kp-clientAuth (RFC 5280 §4.2.1.12): what SCEP-enrolled devices use their certificates for. */
export const DEFAULT_EXTENDED_KEY_USAGE: readonly string[] = Object.freeze([id_kp_clientAuth]);

export interface CaIdentity {
  readonly certificate: Certificate;
  readonly der: Uint8Array;
  readonly key: PrivateKeyHandle;
  /** Lowercase hex SHA-256 of `der` (what GetCACert clients pin). */
  readonly fingerprint: string;
}

/**
 * A CaIdentity from a certificate's DER and its private key; throws RangeError when the key
 * does not belong to the certificate, CmsError('malformed') when the DER is not a certificate.
 */
export function caIdentity(der: Uint8Array, key: PrivateKeyHandle): CaIdentity {
  const certificate = parse(der, Certificate, 'certificate');
  if (!equalBytes(spkiOf(certificate), key.spki)) throw new RangeError('private key does not match the certificate');
  const fingerprint = createHash('sha256').update(der).digest('hex');
  return Object.freeze({ certificate, der, key, fingerprint });
}

/** Clock skew allowance: notBefore is this far in the past (devices with slow clocks). */
const SKEW_MS = 60_000;
const DAY_MS = 86_400_000;

/**
 * keyUsage bits for an end entity (RFC 5280 §4.2.1.3) from what its key type can do:
 * digitalSignature, keyEncipherment (key transport, and KEMs: RFC 9935 §5 allows only that bit),
 * keyAgreement (ECDH). An unknown key type gets digitalSignature.
 */
export function endEntityKeyUsage(spki: Uint8Array, registry: Registry): KeyUsage {
  return new KeyUsage(endEntityKeyUsageFlags(spki, registry));
}

const endEntityKeyUsageFlags = (spki: Uint8Array, registry: Registry): number => keyUsageFlags(registry.keyTypeOf(spki)?.usages ?? ['sign']);

/** keyUsage bits for a key type's usages (an RA key generated as 'ecdh-p256' gets keyAgreement only). */
export function keyUsageFor(usages: KeyType['usages']): KeyUsage {
  return new KeyUsage(keyUsageFlags(usages));
}

function keyUsageFlags(usages: KeyType['usages']): number {
  return (
    (usages.includes('sign') ? KeyUsageFlags.digitalSignature : 0) |
    (usages.includes('encrypt') ? KeyUsageFlags.keyEncipherment : 0) |
    (usages.includes('agree') ? KeyUsageFlags.keyAgreement : 0)
  );
}

/**
 * Extensions that are the same in every certificate of a CA, a policy and a key type
 * (basicConstraints, keyUsage, extendedKeyUsage, cRLDistributionPoints), built once per process
 * and kept by what determines their DER: signCertificate splices each one in as the bytes encoded
 * the first time (pre-encoded.ts), instead of encoding it again for every certificate. A profile
 * set holds a handful; the memo starts over past 256 so no caller can grow it without bound.
 */
const shared = new Map<string, Extension>();
function sharedExtension(key: string, build: () => Extension): Extension {
  let ext = shared.get(key);
  if (!ext) {
    if (shared.size >= 256) shared.clear();
    shared.set(key, (ext = build()));
  }
  return ext;
}

/** authorityKeyIdentifier (RFC 5280 §4.2.1.1) per CA certificate: its key identifier, read once. */
const authorityKeyIds = new WeakMap<Certificate, Extension>();
function authorityKeyId(ca: Certificate): Extension {
  let ext = authorityKeyIds.get(ca);
  if (!ext) authorityKeyIds.set(ca, (ext = extension(id_ce_authorityKeyIdentifier, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyIdentifierOf(ca)) }))));
  return ext;
}

/** The requested SANs we carry over (RFC 5280 §4.2.1.6), as GeneralNames. */
function generalNames(sans: readonly string[]): GeneralName[] {
  return sans.flatMap((san) => {
    const i = san.indexOf(':');
    const kind = san.slice(0, i);
    const value = san.slice(i + 1);
    if (kind === 'DNS') return [new GeneralName({ dNSName: value })];
    if (kind === 'IP') return [new GeneralName({ iPAddress: value })];
    if (kind === 'email') return [new GeneralName({ rfc822Name: value })];
    if (kind === 'URI') return [new GeneralName({ uniformResourceIdentifier: value })];
    return [];
  });
}

/**
 * Issues a certificate for `csr` (already verified and authorised). Validity runs from
 * `now` - 60 s to `now` + validityDays, cut at the CA's own notAfter (past it, no path
 * through the CA validates: RFC 5280 §6.1.3 (a)(2)). Key types the registry does not know get keyUsage digitalSignature only.
 */
export async function issueCertificate(
  csr: CsrInfo, ca: CaIdentity, policy: IssuancePolicy, registry: Registry, serial: Uint8Array, now: Date = new Date(),
): Promise<{ certificate: Certificate; der: Uint8Array }> {
  const caNotAfter = ca.certificate.tbsCertificate.validity.notAfter.getTime();
  const notAfter = new Date(Math.min(now.getTime() + policy.validityDays * DAY_MS, caNotAfter.getTime()));
  const notBefore = new Date(now.getTime() - SKEW_MS);
  if (notAfter <= notBefore) throw new RangeError('the CA certificate has expired');

  const keyUsage = endEntityKeyUsageFlags(csr.spki, registry);
  const extensions: Extension[] = [
    sharedExtension('basicConstraints', () => extension(id_ce_basicConstraints, new BasicConstraints({ cA: false }), true)),
    sharedExtension(`keyUsage ${keyUsage}`, () => extension(id_ce_keyUsage, new KeyUsage(keyUsage), true)),
  ];
  const eku = policy.extendedKeyUsage;
  if (eku.length) extensions.push(sharedExtension(`extKeyUsage ${eku.join(' ')}`, () => extension(id_ce_extKeyUsage, new ExtendedKeyUsage([...eku]))));
  extensions.push(
    extension(id_ce_subjectKeyIdentifier, new SubjectKeyIdentifier(subjectKeyIdentifier(csr.spki))),
    authorityKeyId(ca.certificate),
  );
  const names = generalNames(csr.sans);
  // RFC 5280 §4.2.1.6: with an empty subject, subjectAltName is critical.
  if (names.length) extensions.push(extension(id_ce_subjectAltName, new SubjectAlternativeName(names), csr.subject.length === 0));
  const uri = policy.crlDistributionPoint;
  if (uri) {
    extensions.push(sharedExtension(`cRLDistributionPoints ${uri}`, () => {
      const fullName = [new GeneralName({ uniformResourceIdentifier: uri })];
      return extension(id_ce_cRLDistributionPoints, new CRLDistributionPoints([new DistributionPoint({ distributionPoint: new DistributionPointName({ fullName }) })]));
    }));
  }

  const certificate = await signCertificate(
    { subject: csr.subject, issuer: ca.certificate.tbsCertificate.subject, spki: csr.spki, serial, notBefore, notAfter, extensions },
    { key: ca.key, ...certificateSignatureAlgorithm(ca.key, registry) },
  );
  return { certificate, der: derOf(certificate) };
}
