/**
 * SCEP authenticated attributes (RFC 8894 §3.2.1): read them from a request's SignerInfo and
 * encode them for a CertRep. transactionID, messageType, pkiStatus and failInfo are
 * PrintableString; nonces are 16-byte OCTET STRINGs; failInfoText is UTF8String.
 * Reading is tolerant: any ASN.1 string type is accepted for the string attributes (some
 * clients use UTF8String or IA5String), BER included.
 * @module
 */
import { Attribute } from '@peculiar/asn1-cms';
import * as asn1js from 'asn1js';
import { ScepOid } from './message.ts';

/** The string value of a single-valued string attribute, or undefined when absent or not a string. */
export function readString(attrs: readonly Attribute[] | undefined, oid: string): string | undefined {
  const value = single(attrs, oid);
  if (!value) return undefined;
  const { result, offset } = asn1js.fromBER(value);
  if (offset === -1 || !(result instanceof asn1js.BaseStringBlock)) return undefined;
  return (result.valueBlock as { value: string }).value;
}

/** The octets of a single-valued OCTET STRING attribute. */
export function readOctets(attrs: readonly Attribute[] | undefined, oid: string): Uint8Array | undefined {
  const value = single(attrs, oid);
  if (!value) return undefined;
  const { result, offset } = asn1js.fromBER(value);
  if (offset === -1 || !(result instanceof asn1js.OctetString) || result.idBlock.isConstructed) return undefined;
  return new Uint8Array(result.valueBlock.valueHexView);
}

function single(attrs: readonly Attribute[] | undefined, oid: string): ArrayBuffer | undefined {
  const matches = attrs?.filter((a) => a.attrType === oid) ?? [];
  // RFC 5652 §5.3: an attribute type appears at most once; SCEP attributes are single-valued.
  if (matches.length !== 1 || matches[0].attrValues.length !== 1) return undefined;
  return matches[0].attrValues[0];
}

const attribute = (oid: string, value: asn1js.BaseBlock) => new Attribute({ attrType: oid, attrValues: [value.toBER(false)] });

export const printable = (oid: string, value: string) => attribute(oid, new asn1js.PrintableString({ value }));
export const octetString = (oid: string, value: Uint8Array) => attribute(oid, new asn1js.OctetString({ valueHex: value }));
export const utf8 = (oid: string, value: string) => attribute(oid, new asn1js.Utf8String({ value }));

/** X.680 §41.4 PrintableString characters */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/**
 * RFC 8894 §3.2.1.1 says PrintableString; an ID with other characters goes out as UTF8String
 * rather than garbled (clients compare the string value).
 */
export const transactionIdAttribute = (id: string) =>
  PRINTABLE.test(id) ? printable(ScepOid.transactionID, id) : utf8(ScepOid.transactionID, id);

/** The attributes every CertRep carries (RFC 8894 §3.3.2). */
export function certRepAttributes(o: {
  transactionId: string; senderNonce: Uint8Array; recipientNonce: Uint8Array; pkiStatus: string; messageType: string;
  failInfo?: string; failInfoText?: string;
}): Attribute[] {
  const attrs = [
    transactionIdAttribute(o.transactionId),
    printable(ScepOid.messageType, o.messageType),
    printable(ScepOid.pkiStatus, o.pkiStatus),
    octetString(ScepOid.senderNonce, o.senderNonce),
    octetString(ScepOid.recipientNonce, o.recipientNonce),
  ];
  if (o.failInfo !== undefined) attrs.push(printable(ScepOid.failInfo, o.failInfo));
  if (o.failInfoText !== undefined) attrs.push(utf8(ScepOid.failInfoText, o.failInfoText));
  return attrs;
}
