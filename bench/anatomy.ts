/**
 * Splits an encoded SCEP message, certificate or CRL into the irreducible cryptographic
 * material it carries and the CMS / X.509 structure around it, by walking the parsed
 * structures with our own parsers (src/cms) and the @peculiar schemas:
 *  - signatures: SignerInfo.signature, certificate / CSR / CRL signature values (ECDSA: the r
 *    and s integers, not their DER SEQUENCE);
 *  - public keys: SubjectPublicKeyInfo keys (RSA: modulus and exponent, not the RSAPublicKey
 *    SEQUENCE), the ephemeral originator key of a KeyAgreeRecipientInfo (RFC 5753);
 *  - KEM ciphertexts: KEMRecipientInfo.kemct (RFC 9629);
 *  - wrapped keys: encryptedKey of KTRI (the RSA ciphertext), KARI and KEMRI (AES key wrap).
 * Everything else (names, validity, extensions, algorithm identifiers, attributes, nonces,
 * digests, IVs, tags, padding, tag/length octets, BIT STRING unused-bit octets) is structure.
 * Encrypted content counts the material of its plaintext (the CSR, or the certs-only reply),
 * which the caller supplies because only the endpoints can decrypt it.
 * Leaves out: judging whether a field is needed; AuthenticatedData; attribute certificates.
 * @module
 */
import { EnvelopedData, type RecipientInfo } from '@peculiar/asn1-cms';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { RSAPublicKey } from '@peculiar/asn1-rsa';
import { Certificate, CertificateList, type SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { octets, parse } from '../src/cms/der.ts';
import { kemRecipientInfo } from '../src/cms/kem-recipient-info.ts';
import { id_ct_authEnvelopedData, id_envelopedData } from '../src/cms/oids.ts';
import { AuthEnvelopedData } from '../src/cms/schema.ts';
import { parseContentInfo, parseSignedData } from '../src/cms/signed-data.ts';

export type MaterialKind = 'signature' | 'publicKey' | 'kemCiphertext' | 'wrappedKey';

export interface Anatomy {
  readonly total: number;
  readonly signatures: number;
  readonly publicKeys: number;
  readonly kemCiphertexts: number;
  readonly wrappedKeys: number;
  /** total − material: the CMS / X.509 structure. */
  readonly structure: number;
  /** structure / total, in percent. */
  readonly overheadPct: number;
  /** Each piece of material found, for inspection. */
  readonly items: readonly { readonly kind: MaterialKind; readonly what: string; readonly bytes: number }[];
}

/** Collects material while walking; `anatomy()` closes the account against the total size. */
export class Tally {
  readonly items: { kind: MaterialKind; what: string; bytes: number }[] = [];
  add(kind: MaterialKind, what: string, bytes: number): void {
    this.items.push({ kind, what, bytes });
  }
  anatomy(total: number): Anatomy {
    const sum = (k: MaterialKind) => this.items.filter((i) => i.kind === k).reduce((a, i) => a + i.bytes, 0);
    const [signatures, publicKeys, kemCiphertexts, wrappedKeys] = [sum('signature'), sum('publicKey'), sum('kemCiphertext'), sum('wrappedKey')];
    const structure = total - signatures - publicKeys - kemCiphertexts - wrappedKeys;
    if (structure < 0) throw new RangeError(`material (${total - structure} B) exceeds the message (${total} B)`);
    const overheadPct = Math.round((structure / total) * 1000) / 10;
    return { total, signatures, publicKeys, kemCiphertexts, wrappedKeys, structure, overheadPct, items: this.items };
  }
}

const rsaEncryption = '1.2.840.113549.1.1.1';
const ecdsaSignatures = '1.2.840.10045.4.';

/** Content octets of a DER INTEGER without the sign-padding zero. */
const unsignedLength = (bytes: Uint8Array) => bytes.length - (bytes.length > 1 && bytes[0] === 0 ? 1 : 0);

function signatureBytes(algorithmOid: string, value: Uint8Array): number {
  if (!algorithmOid.startsWith(ecdsaSignatures)) return value.length;
  // Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 5480 §2.2 / RFC 3279 §2.2.3): r and s are the material.
  const { result } = asn1js.fromBER(value);
  const ints = result instanceof asn1js.Sequence ? result.valueBlock.value : [];
  return ints.reduce((a, i) => a + (i instanceof asn1js.Integer ? unsignedLength(new Uint8Array(i.valueBlock.valueHexView)) : 0), 0);
}

function publicKeyBytes(spki: SubjectPublicKeyInfo): number {
  const key = new Uint8Array(spki.subjectPublicKey);
  if (spki.algorithm.algorithm !== rsaEncryption) return key.length; // EC point, or the raw ML-DSA / ML-KEM / SLH-DSA key
  const rsa = parse(key, RSAPublicKey, 'RSAPublicKey');
  return unsignedLength(new Uint8Array(rsa.modulus)) + unsignedLength(new Uint8Array(rsa.publicExponent));
}

export function certificate(t: Tally, cert: Certificate, what: string): void {
  t.add('publicKey', `${what}: subject public key`, publicKeyBytes(cert.tbsCertificate.subjectPublicKeyInfo));
  t.add('signature', `${what}: signature`, signatureBytes(cert.signatureAlgorithm.algorithm, new Uint8Array(cert.signatureValue)));
}

export function csr(t: Tally, der: Uint8Array, what = 'CSR'): void {
  const req = parse(der, CertificationRequest, 'CertificationRequest');
  t.add('publicKey', `${what}: subject public key`, publicKeyBytes(req.certificationRequestInfo.subjectPKInfo));
  t.add('signature', `${what}: signature`, signatureBytes(req.signatureAlgorithm.algorithm, new Uint8Array(req.signature)));
}

export function crl(t: Tally, list: CertificateList, what = 'CRL'): void {
  t.add('signature', `${what}: signature`, signatureBytes(list.signatureAlgorithm.algorithm, new Uint8Array(list.signature)));
}

function recipientInfo(t: Tally, ri: RecipientInfo, what: string): void {
  if (ri.ktri) return t.add('wrappedKey', `${what}: KTRI encryptedKey`, octets(ri.ktri.encryptedKey).length);
  if (ri.kari) {
    const originatorKey = ri.kari.originator.originatorKey;
    if (originatorKey) t.add('publicKey', `${what}: KARI ephemeral originator key`, originatorKey.publicKey.byteLength);
    for (const rek of ri.kari.recipientEncryptedKeys) t.add('wrappedKey', `${what}: KARI encryptedKey`, octets(rek.encryptedKey).length);
    return;
  }
  const kemri = kemRecipientInfo(ri);
  if (kemri) {
    t.add('kemCiphertext', `${what}: KEMRI kemct`, octets(kemri.kemct).length);
    t.add('wrappedKey', `${what}: KEMRI encryptedKey`, octets(kemri.encryptedKey).length);
  }
}

/** EnvelopedData / AuthEnvelopedData ContentInfo; `plaintext` adds the material inside the encrypted content. */
export function envelope(t: Tally, der: Uint8Array, what: string, plaintext: (t: Tally) => void): void {
  const { contentType, content } = parseContentInfo(der, [id_envelopedData, id_ct_authEnvelopedData]);
  const env = contentType === id_ct_authEnvelopedData ? parse(content, AuthEnvelopedData, 'AuthEnvelopedData') : parse(content, EnvelopedData, 'EnvelopedData');
  for (const ri of env.recipientInfos) recipientInfo(t, ri, what);
  plaintext(t);
}

/**
 * A SignedData ContentInfo: its certificates, CRLs and SignerInfo signatures; if it has
 * content and `plaintext` is given, the content is an envelope whose plaintext material
 * `plaintext` adds.
 */
export function signedData(t: Tally, der: Uint8Array, what: string, plaintext?: (t: Tally) => void): void {
  const sd = parseSignedData(der);
  sd.certificates.forEach((c, i) => certificate(t, c, `${what}: certificate ${i + 1}`));
  sd.crls.forEach((l) => crl(t, l, `${what}: CRL`));
  for (const si of sd.signedData.signerInfos) t.add('signature', `${what}: SignerInfo signature`, signatureBytes(si.signatureAlgorithm.algorithm, octets(si.signature)));
  if (sd.content && plaintext) envelope(t, sd.content, `${what}: envelope`, plaintext);
}

/** Convenience: the anatomy of one DER object walked by `walk`. */
export function anatomyOf(der: Uint8Array, walk: (t: Tally) => void): Anatomy {
  const t = new Tally();
  walk(t);
  return t.anatomy(der.length);
}

export const parseCertificate = (der: Uint8Array): Certificate => parse(der, Certificate, 'Certificate');
