/**
 * The algorithm OID of a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), read without decoding
 * the key: the registry uses it to try only the key types of that OID (registry.keyTypeOf).
 * Also the SPKI parsed the same way, for building certificates (its key is copied as is).
 * Leaves out: validating the key (each key type's `matches` does that).
 * @module
 */
import { AsnConvert, AsnProp, AsnPropTypes } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';

class SpkiHead {
  @AsnProp({ type: AlgorithmIdentifier }) public algorithm = new AlgorithmIdentifier();
  @AsnProp({ type: AsnPropTypes.Any }) public subjectPublicKey = new ArrayBuffer(0);
}

/**
 * asn1js options for these reads. The key is not looked into, so asn1js need not try the
 * subjectPublicKey BIT STRING as embedded BER (for RSA that is a parse of the whole key), nor copy
 * the input (asn1-schema copies every value it reads out of the tree). Neither changes the
 * answer: asn1-schema reads a BIT STRING's bytes, not its embedded tree, and the only way the
 * embedded parse could fail the read (asn1js's limit of 10,000 nodes, each of 2 bytes or more) is
 * out of reach for an SPKI of a real key's size, and for every SPKI met here: each comes from a
 * key we hold or from a certificate or CSR that asn1js parsed whole, embedded BER included.
 */
const HEAD_ONLY = { berOptions: { parseEmbedded: false, copyInput: false } };

/**
 * `compute` remembered by the SPKI's bytes: a PKIOperation asks about the same few keys (the
 * request's signer, our CA and RA keys) several times (key type, signature and recipient kind
 * checks). Only SPKIs of a real key's size are kept (ML-DSA-87's is 2.6 KB), so 512 entries stay
 * a few MB whatever a client sends; when full, the memo starts over.
 */
export function perSpki<T>(compute: (spki: Uint8Array) => T): (spki: Uint8Array) => T {
  const recent = new Map<string, T>();
  return (spki) => {
    if (spki.length > 8 * 1024) return compute(spki);
    const id = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength).toString('latin1');
    if (recent.has(id)) return recent.get(id)!;
    const value = compute(spki);
    if (recent.size >= 512) recent.clear();
    recent.set(id, value);
    return value;
  };
}

/** The OID, or undefined when `spki` is not a SubjectPublicKeyInfo. */
export const spkiOid = perSpki((spki): string | undefined => {
  try {
    return AsnConvert.parse(spki, SpkiHead, HEAD_ONLY).algorithm.algorithm;
  } catch {
    return undefined;
  }
});

/** `spki` parsed; throws as AsnConvert.parse does when it is not a SubjectPublicKeyInfo. */
export const parseSpki = (spki: Uint8Array): SubjectPublicKeyInfo => AsnConvert.parse(spki, SubjectPublicKeyInfo, HEAD_ONLY);
