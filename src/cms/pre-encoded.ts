/**
 * Certificates we send again and again (the CA and RA certificates in every CertRep, RFC 8894
 * §3.3.2; GetCACert chains), and certificates we just signed, spliced into a SignedData as the
 * DER they already have, instead of
 * re-encoding their parsed form field by field with @peculiar/asn1-schema on every reply
 * (profiling showed that re-encoding as a main cost of a CertRep). `preEncoded(cert)` returns
 * an object that stands in for the Certificate where asn1-schema serializes a
 * CertificateChoices: asn1-schema asks it for its asn1js node (`toASN`), and that node writes
 * the stored bytes where asn1js would have written the encoding.
 * Leaves out: parsing (a stand-in cannot be read back), anything not DER already.
 * @module
 */
import { serialize } from './der.ts';

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
  if (!p) cache.set(value, (p = new PreEncoded(serialize(value).slice().buffer)));
  return p as unknown as T;
}

/** The DER of `value`, encoded once per object. */
export function derOf(value: object): Uint8Array {
  return new Uint8Array((preEncoded(value) as unknown as PreEncoded).der.slice(0)); // a copy: callers may write to it
}
