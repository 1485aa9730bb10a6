/**
 * CMS ASN.1 that @peculiar/asn1-cms 2.11 lacks, declared once here with @peculiar/asn1-schema:
 * the CertificateList alternative of RevocationInfoChoice (so SignedData can carry CRLs, RFC 5652
 * §10.2.1, needed for GetCRL) and AuthEnvelopedData (RFC 5083 §2.1).
 * KEMRecipientInfo (RFC 9629) is added by the post-quantum work.
 * @module
 */
import { Attribute, CMSVersion, EncryptedContentInfo, OriginatorInfo, RecipientInfos, SignedData } from '@peculiar/asn1-cms';
import { OtherRevocationInfoFormat } from '@peculiar/asn1-cms';
import { AsnArray, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';
import { CertificateList } from '@peculiar/asn1-x509';

/**
 * ```asn
 * RevocationInfoChoice ::= CHOICE {
 *   crl CertificateList,
 *   other [1] IMPLICIT OtherRevocationInfoFormat }
 * ```
 */
@AsnType({ type: AsnTypeTypes.Choice })
export class RevocationInfoChoice {
  @AsnProp({ type: CertificateList, optional: true }) public crl?: CertificateList;
  @AsnProp({ type: OtherRevocationInfoFormat, context: 1, implicit: true, optional: true }) public other?: OtherRevocationInfoFormat;
  constructor(params: Partial<RevocationInfoChoice> = {}) {
    Object.assign(this, params);
  }
}

/** RevocationInfoChoices ::= SET OF RevocationInfoChoice */
@AsnType({ type: AsnTypeTypes.Set, itemType: RevocationInfoChoice })
export class RevocationInfoChoices extends AsnArray<RevocationInfoChoice> {
  constructor(items?: RevocationInfoChoice[]) {
    super(items);
    Object.setPrototypeOf(this, RevocationInfoChoices.prototype);
  }
}

/** SignedData (RFC 5652 §5.1) whose `crls` [1] IMPLICIT may hold CertificateLists. */
export class CmsSignedData extends SignedData {
  @AsnProp({ type: RevocationInfoChoices, context: 1, implicit: true, optional: true })
  public declare crls?: any;
}

/** SET OF Attribute, as AuthAttributes / UnauthAttributes. */
@AsnType({ type: AsnTypeTypes.Set, itemType: Attribute })
export class Attributes extends AsnArray<Attribute> {
  constructor(items?: Attribute[]) {
    super(items);
    Object.setPrototypeOf(this, Attributes.prototype);
  }
}

/**
 * ```asn
 * AuthEnvelopedData ::= SEQUENCE {
 *   version CMSVersion,
 *   originatorInfo [0] IMPLICIT OriginatorInfo OPTIONAL,
 *   recipientInfos RecipientInfos,
 *   authEncryptedContentInfo EncryptedContentInfo,
 *   authAttrs [1] IMPLICIT AuthAttributes OPTIONAL,
 *   mac MessageAuthenticationCode,
 *   unauthAttrs [2] IMPLICIT UnauthAttributes OPTIONAL }
 * ```
 * RFC 5083 §2.1. The AAD (§2.2) is read from the received bytes (enveloped-data.ts authAttributesAad).
 */
export class AuthEnvelopedData {
  @AsnProp({ type: AsnPropTypes.Integer }) public version: CMSVersion = CMSVersion.v0;
  @AsnProp({ type: OriginatorInfo, context: 0, implicit: true, optional: true }) public originatorInfo?: OriginatorInfo;
  @AsnProp({ type: RecipientInfos }) public recipientInfos = new RecipientInfos();
  @AsnProp({ type: EncryptedContentInfo }) public authEncryptedContentInfo = new EncryptedContentInfo();
  @AsnProp({ type: Attribute, repeated: 'set', context: 1, implicit: true, optional: true })
  public authAttrs?: Attribute[];
  @AsnProp({ type: OctetString }) public mac = new OctetString();
  @AsnProp({ type: Attribute, repeated: 'set', context: 2, implicit: true, optional: true }) public unauthAttrs?: Attribute[];
  constructor(params: Partial<AuthEnvelopedData> = {}) {
    Object.assign(this, params);
  }
}
