/**
 * CMS SignedData (RFC 5652 §5) as SCEP writes it: sign content with signed attributes (§5.3-5.5;
 * the SET OF in DER order, X.690 §11.6), the degenerate certs-only form (§5.2, RFC 8894 §3.4),
 * and the ContentInfo around either (§3). Certificates are spliced in as the DER they have
 * (pre-encoded.ts). Reading one is signed-data.ts.
 * Leaves out: counter-signatures, SignerInfos without signed attributes, more than one signer.
 * @module
 */
import { Attribute, CertificateChoices, CertificateSet, EncapsulatedContent, EncapsulatedContentInfo, IssuerAndSerialNumber, SignerIdentifier, SignerInfo, SignerInfos, DigestAlgorithmIdentifiers } from '@peculiar/asn1-cms';
import { AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';
import * as asn1js from 'asn1js';
import { AlgorithmIdentifier, Certificate, CertificateList } from '@peculiar/asn1-x509';
import type { Digest, DigestName, PrivateKeyHandle, SignatureAlgorithm } from '../crypto/types.ts';
import { serialize } from './der.ts';
import { attributeDer, preEncoded } from './pre-encoded.ts';
import { id_contentType, id_data, id_messageDigest, id_signedData } from './oids.ts';
import { Attributes, CmsSignedData, RevocationInfoChoice, RevocationInfoChoices } from './schema.ts';

/** A content-type attribute value (RFC 5652 §11.1): an OBJECT IDENTIFIER. */
@AsnType({ type: AsnTypeTypes.Choice })
export class ContentTypeValue {
  @AsnProp({ type: AsnPropTypes.ObjectIdentifier }) public value: string;
  constructor(value = '') {
    this.value = value;
  }
}

export interface SignOptions {
  /** eContent; omitted for CertRep FAILURE/PENDING (RFC 8894 §3.3.2: no content). */
  readonly content?: Uint8Array;
  readonly signerCertificate: Certificate;
  readonly key: PrivateKeyHandle;
  readonly signature: SignatureAlgorithm;
  readonly digest: Digest;
  /** Extra signed attributes (SCEP attributes); contentType and messageDigest are added here. */
  readonly attributes: readonly Attribute[];
  readonly certificates?: readonly Certificate[];
}

/** An AlgorithmIdentifier with NULL, absent, or the given DER parameters (the one place that decides). */
export function algorithmId(oid: string, parameters: SignatureAlgorithm['parameters']): AlgorithmIdentifier {
  if (parameters === 'null') return new AlgorithmIdentifier({ algorithm: oid, parameters: null });
  if (parameters === 'absent') return new AlgorithmIdentifier({ algorithm: oid });
  return new AlgorithmIdentifier({ algorithm: oid, parameters: parameters.slice().buffer });
}

/** Signs `content` (RFC 5652 §5.4-5.5) and returns the DER ContentInfo. */
export async function signData(o: SignOptions): Promise<Uint8Array> {
  const content = o.content ?? new Uint8Array(0);
  const attrs = derSorted([
    CONTENT_TYPE_DATA,
    new Attribute({ attrType: id_messageDigest, attrValues: [serialize(new OctetString(o.digest.hash(content))).slice().buffer] }),
    ...o.attributes,
  ]);
  const digestName: DigestName = o.signature.digest ?? o.digest.name;
  const sig = await o.signature.sign(serialize(new Attributes(attrs)), o.key, digestName);
  const tbs = o.signerCertificate.tbsCertificate;
  const signerInfo = new SignerInfo({
    version: 1,
    // The signer is the RA/CA certificate of every reply: its issuer Name is encoded once (pre-encoded.ts).
    sid: new SignerIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: preEncoded(tbs.issuer), serialNumber: tbs.serialNumber }) }),
    digestAlgorithm: algorithmId(o.digest.oids[0], 'absent'),
    signedAttrs: attrs,
    signatureAlgorithm: algorithmId(o.signature.oids[0], o.signature.parameters),
    signature: new OctetString(sig),
  });
  const sd = new CmsSignedData({
    version: 1,
    digestAlgorithms: new DigestAlgorithmIdentifiers([algorithmId(o.digest.oids[0], 'absent')]),
    encapContentInfo: new EncapsulatedContentInfo({
      eContentType: id_data,
      eContent: o.content ? new EncapsulatedContent({ single: new OctetString(o.content) }) : undefined,
    }),
    certificates: o.certificates?.length ? certificateSet(o.certificates) : undefined,
    signerInfos: new SignerInfos([signerInfo]),
  });
  return wrap(id_signedData, sd);
}

/**
 * DER orders the elements of a SET OF by their encodings (X.690 §11.6). Verifiers that
 * re-encode the attributes (Go's pkcs7, used by micromdm's scepclient) only match a signature
 * made over the sorted set. The attributes come back as stand-ins carrying the DER the sort
 * needed (pre-encoded.ts), so the signed SET OF and the SignerInfo do not encode them again
 * (asn1-schema re-parses every ANY attribute value to encode it).
 */
function derSorted(attrs: Attribute[]): Attribute[] {
  return attrs
    .map((a) => ({ a, der: attributeDer(a) }))
    .sort((x, y) => Buffer.compare(x.der, y.der))
    .map((x) => preEncoded(x.a));
}

/** The contentType attribute id-data (RFC 5652 §11.1), the same in every reply: one object, encoded once. */
export const CONTENT_TYPE_DATA = new Attribute({ attrType: id_contentType, attrValues: [serialize(new ContentTypeValue(id_data)).slice().buffer] });

/** Degenerate certs-only SignedData (RFC 5652 §5.2; RFC 8894 §3.4), optionally with CRLs. */
export function certsOnly(certificates: readonly Certificate[], crls: readonly CertificateList[] = []): Uint8Array {
  const sd = new CmsSignedData({
    version: 1,
    digestAlgorithms: new DigestAlgorithmIdentifiers([]),
    encapContentInfo: new EncapsulatedContentInfo({ eContentType: id_data }),
    certificates: certificates.length ? certificateSet(certificates) : undefined,
    signerInfos: new SignerInfos([]),
  });
  if (crls.length) sd.crls = new RevocationInfoChoices(crls.map((crl) => new RevocationInfoChoice({ crl })));
  return wrap(id_signedData, sd);
}

/** CertificateSet of `certs`, each written as the DER it was parsed from or signed as (pre-encoded.ts). */
const certificateSet = (certs: readonly Certificate[]) => new CertificateSet(certs.map((c) => new CertificateChoices({ certificate: preEncoded(c) })));

/**
 * ContentInfo { contentType, [0] EXPLICIT content } (RFC 5652 §3) around `value`'s DER. Built
 * with asn1js from the already-encoded content: asn1-schema's ContentInfo would re-parse the
 * content (an ANY) only to encode it again, which for a 20 KB post-quantum message costs more
 * than the rest of the wrapping.
 */
export function wrap(contentType: string, value: unknown): Uint8Array {
  const explicit = new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: serialize(value) });
  explicit.idBlock.isConstructed = true; // [0] EXPLICIT: constructed, its value the content's DER verbatim
  return new Uint8Array(new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: contentType }), explicit] }).toBER());
}
