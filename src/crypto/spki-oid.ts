/**
 * The algorithm OID of a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), read without decoding
 * the key: the registry uses it to try only the key types of that OID (registry.keyTypeOf).
 * Leaves out: validating the key (each key type's `matches` does that).
 * @module
 */
import { AsnConvert, AsnProp, AsnPropTypes } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';

class SpkiHead {
  @AsnProp({ type: AlgorithmIdentifier }) public algorithm = new AlgorithmIdentifier();
  @AsnProp({ type: AsnPropTypes.Any }) public subjectPublicKey = new ArrayBuffer(0);
}

/** The OID, or undefined when `spki` is not a SubjectPublicKeyInfo. */
export function spkiOid(spki: Uint8Array): string | undefined {
  try {
    return AsnConvert.parse(spki, SpkiHead).algorithm.algorithm;
  } catch {
    return undefined;
  }
}
