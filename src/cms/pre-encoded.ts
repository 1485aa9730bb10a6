/**
 * Certificates we send again and again (the CA and RA certificates in every CertRep, RFC 8894
 * §3.3.2; GetCACert chains), and certificates we just signed, spliced into a SignedData as the
 * DER they already have, instead of
 * re-encoding their parsed form field by field with @peculiar/asn1-schema on every reply
 * (profiling showed that re-encoding as a main cost of a CertRep). `preEncoded(cert)` returns
 * an object that stands in for the Certificate where asn1-schema serializes a
 * CertificateChoices: asn1-schema asks it for its asn1js node (`toASN`), and that node writes
 * the stored bytes where asn1js would have written the encoding.
 * Also kept here: the bytes a parsed value was decoded from (`noteReceived`), which may be BER;
 * comparisons try them first and fall back to DER (`sameEncoding`).
 * Leaves out: parsing (a stand-in cannot be read back), anything not DER already.
 * @module
 */
import * as asn1js from 'asn1js';
import { equalBytes, serialize, type Tree } from './der.ts';
import { CmsError } from './errors.ts';

const EMPTY = new ArrayBuffer(0);

/** The asn1js node: only `toBER` is ever called on a child, by its constructed parent or by serialize. */
class RawNode {
  /** No indefinite length here (asn1js checks children for it before encoding). */
  readonly lenBlock = { isIndefiniteForm: false };
  constructor(private readonly der: ArrayBuffer) {}
  toBER(sizeOnly?: boolean, writer?: { write(buf: ArrayBuffer): void }): ArrayBuffer {
    const out = sizeOnly ? new ArrayBuffer(this.der.byteLength) : this.der;
    if (!writer) return out;
    writer.write(out);
    return EMPTY;
  }
}

/** An asn1js node that writes `der` as is, for building a structure around bytes already encoded. */
export const rawNode = (der: ArrayBuffer): asn1js.AsnType => new RawNode(der) as unknown as asn1js.AsnType;

/** Stands in for a value (a Certificate, a TBSCertificate) in asn1-schema serialization. */
class PreEncoded {
  constructor(readonly der: ArrayBuffer) {}
  toASN(): RawNode {
    return new RawNode(this.der);
  }
  fromASN(): this {
    throw new TypeError('a pre-encoded certificate cannot be parsed into');
  }
}

const cache = new WeakMap<object, PreEncoded>();

/**
 * Notes that `value` encodes to `der` (known from signing it), so preEncoded and derOf need not
 * encode it. Values are never changed after they were built or parsed; that is what makes the
 * cache sound.
 */
export function remember(value: object, der: Uint8Array): void {
  cache.set(value, new PreEncoded(der.slice().buffer));
}

/** `value` as a stand-in carrying its DER, encoded once per object. */
export function preEncoded<T extends object>(value: T): T {
  let p = cache.get(value);
  if (!p) cache.set(value, (p = new PreEncoded(encoded(value))));
  return p as unknown as T;
}

/**
 * `value`'s DER. A value decoded from a request may hold what asn1-schema reads but cannot write
 * (e.g. a Name whose value is a UTCTime that is no time): CmsError('malformed'), as for any
 * other malformed input; ours always encode.
 */
function encoded(value: object): ArrayBuffer {
  try {
    return serialize(value).slice().buffer;
  } catch (err) {
    if (err instanceof CmsError) throw err;
    throw new CmsError('malformed', `not encodable as DER: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The DER of an Attribute (RFC 5652 §5.3: SEQUENCE { attrType, SET OF value }) whose values are
 * DER already, encoded once per object and remembered. Written with asn1js around the values'
 * bytes: asn1-schema decodes every ANY value again only to encode it (a third of a CertRep's
 * attribute encoding). The values are not sorted, as asn1-schema does not sort them either (ours have one each).
 */
export function attributeDer(a: { readonly attrType: string; readonly attrValues: readonly ArrayBuffer[] }): Uint8Array {
  const known = cache.get(a);
  if (known) return new Uint8Array(known.der.slice(0)); // a copy: callers may write to it
  const der = new asn1js.Sequence({ value: [rawNode(oidDer(a.attrType)), new asn1js.Set({ value: a.attrValues.map(rawNode) })] }).toBER();
  cache.set(a, new PreEncoded(der));
  return new Uint8Array(der.slice(0));
}

/** The DER of an attribute type OID: a handful of them (RFC 8894 §3.2.1, RFC 5652 §11), each encoded once. */
const oidDers = new Map<string, ArrayBuffer>();
function oidDer(oid: string): ArrayBuffer {
  let der = oidDers.get(oid);
  if (!der) {
    der = new asn1js.ObjectIdentifier({ value: oid }).toBER();
    if (oidDers.size < 64) oidDers.set(oid, der);
  }
  return der;
}

/** The DER of `value`, encoded once per object. */
export function derOf(value: object): Uint8Array {
  return new Uint8Array((preEncoded(value) as unknown as PreEncoded).der.slice(0)); // a copy: callers may write to it
}

/** derOf, or undefined for a received value that has no DER (`encoded`): such a value matches nothing of ours. */
export function derIfEncodable(value: object): Uint8Array | undefined {
  try {
    return derOf(value);
  } catch (err) {
    if (err instanceof CmsError) return undefined;
    throw err;
  }
}

const receivedAs = new WeakMap<object, Uint8Array>();

/**
 * Notes the bytes `value` was decoded from (a view of the received message, BER possibly). Not
 * its DER: never written out by preEncoded; only compared (sameEncoding) or checked with a
 * fallback by the caller.
 */
export function noteReceived(value: object, bytes: Uint8Array): void {
  receivedAs.set(value, bytes);
}

/** Notes `node`'s bytes as `value`'s when `node` is a universal SEQUENCE (a Name, in the tree it was decoded from). */
export function noteReceivedAt(value: object, node: Tree | undefined): void {
  if (node && node.idBlock.tagClass === 1 && node.idBlock.tagNumber === 16) noteReceived(value, node.valueBeforeDecodeView);
}

/** The bytes `value` was decoded from, if noted. */
export const receivedBytes = (value: object): Uint8Array | undefined => receivedAs.get(value);

/**
 * True when `a` and `b` have the same DER (a Name of a request against a Name of ours). Known
 * bytes (received, or the DER already encoded) are compared first: equal bytes decode the same,
 * so they encode the same. Only when they differ and one was received, possibly as BER, are
 * both encoded as DER.
 */
export function sameEncoding(a: object, b: object): boolean {
  const ra = receivedAs.get(a);
  const rb = receivedAs.get(b);
  const ka = ra ?? cache.get(a)?.der;
  const kb = rb ?? cache.get(b)?.der;
  if (ka && kb && equalBytes(ka, kb)) return true;
  if (ka && kb && !ra && !rb) return false; // both DER already
  const da = derIfEncodable(a);
  const db = derIfEncodable(b);
  return da !== undefined && db !== undefined && equalBytes(da, db);
}
