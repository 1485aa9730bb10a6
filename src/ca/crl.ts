/**
 * Full CRLs (RFC 5280 §5): v2, signed by the CA key with the algorithm the registry picks for
 * it, with authorityKeyIdentifier (§5.2.1) and cRLNumber (§5.2.3) extensions and a reasonCode
 * entry extension (§5.3.1) when the reason is a named, meaningful one.
 * Leaves out: delta CRLs, indirect CRLs (certificateIssuer), issuingDistributionPoint,
 * invalidityDate, caching (the SCEP layer decides when to rebuild).
 * @module
 */
import {
  AuthorityKeyIdentifier, CertificateList, CRLNumber, CRLReason, CRLReasons, type Extension, KeyIdentifier,
  RevokedCertificate, TBSCertList, Time, Version, id_ce_authorityKeyIdentifier, id_ce_cRLNumber, id_ce_cRLReasons,
} from '@peculiar/asn1-x509';
import type { Registry } from '../crypto/registry.ts';
import { serialize } from '../cms/der.ts';
import { algorithmIdentifier, certificateSignatureAlgorithm, extension, keyIdentifierOf, serialFromHex } from './certificate.ts';
import type { CaIdentity } from './issuer.ts';

export interface RevokedSerial {
  /** Lowercase hex serial as stored (see serialHex). */
  readonly serial: string;
  readonly revokedAt: Date;
  /** An RFC 5280 §5.3.1 CRLReason name, e.g. 'keyCompromise'. */
  readonly reason?: string;
}

/**
 * RFC 5280 §5.3.1 names that get a reasonCode. 'unspecified' is left out (the extension
 * SHOULD be absent rather than say 0) and so is 'removeFromCRL' (delta CRLs only).
 */
const REASONS: Readonly<Record<string, CRLReasons>> = Object.freeze({
  keyCompromise: CRLReasons.keyCompromise,
  cACompromise: CRLReasons.cACompromise,
  affiliationChanged: CRLReasons.affiliationChanged,
  superseded: CRLReasons.superseded,
  cessationOfOperation: CRLReasons.cessationOfOperation,
  certificateHold: CRLReasons.certificateHold,
  privilegeWithdrawn: CRLReasons.privilegeWithdrawn,
  aACompromise: CRLReasons.aACompromise,
});

function entry(r: RevokedSerial): RevokedCertificate {
  const code = r.reason !== undefined && Object.hasOwn(REASONS, r.reason) ? REASONS[r.reason] : undefined;
  return new RevokedCertificate({
    userCertificate: serialFromHex(r.serial).slice().buffer,
    revocationDate: new Time(r.revokedAt),
    crlEntryExtensions: code === undefined ? undefined : [extension(id_ce_cRLReasons, new CRLReason(code))],
  });
}

/** Builds and signs the CA's CRL. `crlNumber` must increase with every CRL the CA issues (§5.2.3). */
export async function buildCrl(
  ca: CaIdentity, revoked: readonly RevokedSerial[], crlNumber: number, thisUpdate: Date, nextUpdate: Date, registry: Registry,
): Promise<{ crl: CertificateList; der: Uint8Array }> {
  if (!Number.isSafeInteger(crlNumber) || crlNumber < 0) throw new RangeError('cRLNumber must be a non-negative integer');
  const { algorithm, digest } = certificateSignatureAlgorithm(ca.key, registry);
  const signature = algorithmIdentifier(algorithm);
  const crlExtensions: Extension[] = [
    extension(id_ce_authorityKeyIdentifier, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyIdentifierOf(ca.certificate)) })),
    extension(id_ce_cRLNumber, new CRLNumber(crlNumber)),
  ];
  const tbsCertList = new TBSCertList({
    version: Version.v2,
    signature,
    issuer: ca.certificate.tbsCertificate.subject,
    thisUpdate: new Time(thisUpdate),
    nextUpdate: new Time(nextUpdate),
    // §5.1.2.6: absent, not empty, when nothing is revoked.
    revokedCertificates: revoked.length ? revoked.map(entry) : undefined,
    crlExtensions,
  });
  const value = await algorithm.sign(serialize(tbsCertList), ca.key, digest);
  const crl = new CertificateList({ tbsCertList, signatureAlgorithm: signature, signature: value.slice().buffer });
  return { crl, der: serialize(crl) };
}
