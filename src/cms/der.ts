/**
 * Small glue over @peculiar/asn1-schema and asn1js shared by the CMS code: typed parse with a
 * uniform error, DER serialisation to Uint8Array, OCTET STRING contents from BER (constructed,
 * indefinite-length) encodings, byte comparison. No parsing logic of its own; input whose parse
 * would cost far more than its size is refused first (der-limits.ts).
 * @module
 */
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asn1js from 'asn1js';
import { derCostProblem } from './der-limits.ts';
import { CmsError } from './errors.ts';

type Ctor<T> = new () => T;

/** Parses `der` (BER accepted) as `type`; any failure becomes CmsError('malformed'), as does input too costly to parse (der-limits.ts). */
export function parse<T>(der: ArrayBuffer | Uint8Array, type: Ctor<T>, what: string): T {
  const costly = derCostProblem(der instanceof Uint8Array ? der : new Uint8Array(der));
  if (costly) throw new CmsError('malformed', `${what}: ${costly}`);
  try {
    return AsnConvert.parse(der, type);
  } catch (err) {
    throw new CmsError('malformed', `${what}: ${(err as Error).message}`);
  }
}

export const serialize = (value: unknown): Uint8Array => new Uint8Array(AsnConvert.serialize(value));

/** Contents of an OCTET STRING given as its full BER encoding (primitive or constructed). */
export function octetsFromBer(encoded: ArrayBuffer | Uint8Array): Uint8Array {
  const buf = encoded instanceof Uint8Array ? encoded : new Uint8Array(encoded);
  const costly = derCostProblem(buf);
  if (costly) throw new CmsError('malformed', `OCTET STRING: ${costly}`);
  let parsed: ReturnType<typeof asn1js.fromBER>;
  try {
    parsed = asn1js.fromBER(buf);
  } catch (err) {
    // asn1js throws (RangeError) on some malformed strings, e.g. a BMPString of odd length.
    throw new CmsError('malformed', 'expected an OCTET STRING', { cause: err });
  }
  const { result, offset } = parsed;
  if (offset === -1 || !(result instanceof asn1js.OctetString)) throw new CmsError('malformed', 'expected an OCTET STRING');
  return collect(result);
}

function collect(node: asn1js.OctetString): Uint8Array {
  if (!node.idBlock.isConstructed) return new Uint8Array(node.valueBlock.valueHexView);
  const parts = node.valueBlock.value.map((p) => {
    if (!(p instanceof asn1js.OctetString)) throw new CmsError('malformed', 'constructed OCTET STRING holds a non-OCTET STRING');
    return collect(p);
  });
  return new Uint8Array(Buffer.concat(parts));
}

export const octets = (value: OctetString | ArrayBuffer): Uint8Array =>
  new Uint8Array(value instanceof OctetString ? value.buffer : value);

export const equalBytes = (a: Uint8Array | ArrayBuffer, b: Uint8Array | ArrayBuffer): boolean =>
  Buffer.from(a instanceof Uint8Array ? a : new Uint8Array(a)).equals(b instanceof Uint8Array ? b : new Uint8Array(b));
