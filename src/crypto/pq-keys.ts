/**
 * Key encodings shared by the post-quantum families whose keys are plain byte strings
 * (ML-DSA, SLH-DSA, ML-KEM):
 *  - SubjectPublicKeyInfo with the raw public key in the BIT STRING and the AlgorithmIdentifier
 *    parameters ABSENT (RFC 9881 §2 and §4, RFC 9909 §3 and §5, RFC 9935);
 *  - OneAsymmetricKey (RFC 5958 §2, the PKCS#8 v2 form) whose privateKey OCTET STRING holds either
 *    the raw private key (SLH-DSA, RFC 9909 §7) or the seed / expandedKey / both CHOICE of
 *    RFC 9881 §6 and RFC 9935, told apart by tag and never by length (RFC 9881 §6).
 * Only structure is checked here (callers compare the OID); whether a seed matches its expanded key
 * is the algorithm family's job. Leaves out: EncryptedPrivateKeyInfo, writing attributes or the
 * optional publicKey (read but not written), BER leniency in SPKI (must be DER).
 * @module
 */
import { AsnConvert, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Attribute, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { sign as signWithNode, verify as verifyWithNode } from 'node:crypto';
import { promisify } from 'node:util';
import { publicKeyFromSpki } from './keys.ts';
import { parseSpki, perSpki } from './spki-oid.ts';
import type { PrivateKeyHandle, SignatureAlgorithm } from './types.ts';

/**
 * ```asn
 * OneAsymmetricKey ::= SEQUENCE {
 *   version                   Version,               -- v1(0) | v2(1)
 *   privateKeyAlgorithm       PrivateKeyAlgorithmIdentifier,
 *   privateKey                PrivateKey,            -- OCTET STRING
 *   attributes            [0] Attributes OPTIONAL,
 *   ...,
 *   [[2: publicKey        [1] PublicKey OPTIONAL ]], -- BIT STRING
 *   ... }
 * ```
 * RFC 5958 §2. `attributes` are parsed (so a key carrying them loads) and otherwise ignored.
 */
class OneAsymmetricKey {
  @AsnProp({ type: AsnPropTypes.Integer }) public version = 0;
  @AsnProp({ type: AlgorithmIdentifier }) public privateKeyAlgorithm = new AlgorithmIdentifier();
  @AsnProp({ type: OctetString }) public privateKey = new OctetString();
  @AsnProp({ type: Attribute, repeated: 'set', context: 0, implicit: true, optional: true }) public attributes?: Attribute[];
  @AsnProp({ type: AsnPropTypes.BitString, context: 1, implicit: true, optional: true }) public publicKey?: ArrayBuffer;
}

/** `both SEQUENCE { seed OCTET STRING, expandedKey OCTET STRING }` of the CHOICE below. */
class SeedAndExpandedKey {
  @AsnProp({ type: OctetString }) public seed = new OctetString();
  @AsnProp({ type: OctetString }) public expandedKey = new OctetString();
}

/**
 * ```asn
 * ML-DSA-44-PrivateKey ::= CHOICE {        -- likewise ML-DSA-65/87, ML-KEM-512/768/1024
 *   seed [0] OCTET STRING (SIZE (32)),     -- IMPLICIT: tag 0x80
 *   expandedKey OCTET STRING (SIZE (2560)),
 *   both SEQUENCE { seed OCTET STRING (SIZE (32)), expandedKey OCTET STRING (SIZE (2560)) } }
 * ```
 * RFC 9881 §6 (ML-DSA), RFC 9935 (ML-KEM, 64-byte seed). Sizes are the family's to check.
 */
@AsnType({ type: AsnTypeTypes.Choice })
class SeedOrExpandedKey {
  @AsnProp({ type: AsnPropTypes.OctetString, context: 0, implicit: true, optional: true }) public seed?: ArrayBuffer;
  @AsnProp({ type: OctetString, optional: true }) public expandedKey?: OctetString;
  @AsnProp({ type: SeedAndExpandedKey, optional: true }) public both?: SeedAndExpandedKey;
}

const bytes = (b: ArrayBuffer | OctetString): Uint8Array => new Uint8Array(b instanceof OctetString ? b.buffer : b).slice();

function parseOrRange<T>(der: Uint8Array, type: new () => T, what: string): T {
  try {
    return AsnConvert.parse(der, type);
  } catch (err) {
    throw new RangeError(`malformed ${what}`, { cause: err });
  }
}

/** DER SubjectPublicKeyInfo { algorithm { oid } (parameters absent), subjectPublicKey = raw key }. */
export function encodeSpki(oid: string, publicKey: Uint8Array): Uint8Array {
  const spki = new SubjectPublicKeyInfo({ algorithm: new AlgorithmIdentifier({ algorithm: oid }), subjectPublicKey: publicKey.slice().buffer });
  return new Uint8Array(AsnConvert.serialize(spki));
}

/**
 * The raw public key in `spki` when it is DER, names `oid` with parameters absent, and the key
 * has `length` bytes; otherwise undefined. Never throws.
 */
export function rawPublicKey(spki: Uint8Array, oid: string, length: number): Uint8Array | undefined {
  const known = parametersAbsentKey(spki);
  return known && known.oid === oid && known.key.length === length ? known.key.slice() : undefined;
}

/**
 * The OID and raw key of a DER SPKI whose parameters are absent, remembered per SPKI (perSpki):
 * one PKIOperation checks the client's key three times (CMS signature, CSR, reply certificate)
 * and our keys on every request.
 */
const parametersAbsentKey = perSpki((spki): { oid: string; key: Uint8Array } | undefined => {
  try {
    const info = parseSpki(spki); // the key's bytes, not tried as embedded BER (spki-oid.ts)
    if (info.algorithm.parameters !== undefined) return undefined;
    const oid = info.algorithm.algorithm;
    const key = new Uint8Array(info.subjectPublicKey);
    // DER only: re-encoding must give the same bytes (no trailing data, no BER lengths, no unused bits).
    return Buffer.from(encodeSpki(oid, key)).equals(spki) ? { oid, key } : undefined;
  } catch {
    return undefined;
  }
});

export interface DecodedPrivateKey {
  /** privateKeyAlgorithm OID. */
  readonly oid: string;
  /** Contents of the privateKey OCTET STRING. */
  readonly privateKey: Uint8Array;
  /** The optional publicKey [1] (RFC 5958 v2), raw bytes. */
  readonly publicKey?: Uint8Array;
}

/** Reads OneAsymmetricKey / PKCS#8; RangeError when malformed or parameters are present. */
export function decodeOneAsymmetricKey(der: Uint8Array): DecodedPrivateKey {
  const key = parseOrRange(der, OneAsymmetricKey, 'OneAsymmetricKey');
  if (key.version !== 0 && key.version !== 1) throw new RangeError(`unsupported OneAsymmetricKey version ${key.version}`);
  if (key.privateKeyAlgorithm.parameters !== undefined) throw new RangeError('privateKeyAlgorithm parameters must be absent');
  const publicKey = key.publicKey ? bytes(key.publicKey) : undefined;
  return { oid: key.privateKeyAlgorithm.algorithm, privateKey: bytes(key.privateKey), ...(publicKey && { publicKey }) };
}

/** OneAsymmetricKey v1 { version 0, { oid }, privateKey }, DER. */
export function encodeOneAsymmetricKey(oid: string, privateKey: Uint8Array): Uint8Array {
  const key = new OneAsymmetricKey();
  key.privateKeyAlgorithm = new AlgorithmIdentifier({ algorithm: oid });
  key.privateKey = new OctetString(privateKey.slice().buffer);
  return new Uint8Array(AsnConvert.serialize(key));
}

/** The seed and/or expanded key of an RFC 9881/9935 private key CHOICE (at least one is set). */
export interface SeedKey {
  readonly seed?: Uint8Array;
  readonly expandedKey?: Uint8Array;
}

/** Parses the CHOICE inside privateKey by its tag (0x80 seed, 0x04 expandedKey, 0x30 both). */
export function decodeSeedKey(privateKey: Uint8Array): SeedKey {
  const choice = parseOrRange(privateKey, SeedOrExpandedKey, 'private key CHOICE');
  if (choice.seed) return { seed: bytes(choice.seed) };
  if (choice.expandedKey) return { expandedKey: bytes(choice.expandedKey) };
  if (choice.both) return { seed: bytes(choice.both.seed), expandedKey: bytes(choice.both.expandedKey) };
  throw new RangeError('empty private key CHOICE');
}

/** DER of the CHOICE: `seed` when given (RFC 9881 §6 RECOMMENDED form), else `expandedKey`. */
export function encodeSeedKey(key: SeedKey): Uint8Array {
  const choice = new SeedOrExpandedKey();
  if (key.seed) choice.seed = key.seed.slice().buffer;
  else if (key.expandedKey) choice.expandedKey = new OctetString(key.expandedKey.slice().buffer);
  else throw new TypeError('neither seed nor expandedKey');
  return new Uint8Array(AsnConvert.serialize(choice));
}

/** What a pure post-quantum signature scheme's noble implementation offers. */
interface RawSigner {
  sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

const signNative = promisify(signWithNode);

/**
 * sign/verify shared by the pure post-quantum signature families (ML-DSA, SLH-DSA): empty
 * context, the handle's own backend for signing, the current backend for verifying, and a
 * verify that never throws (wrong lengths, another algorithm's SPKI: false).
 */
export function pqSignatureOps(o: {
  name: string; keyName: string; oid: string; publicKeyLength: number; signatureLength: number; impl: RawSigner; native: () => boolean;
}): Pick<SignatureAlgorithm, 'sign' | 'verify'> {
  return {
    async sign(data: Uint8Array, k: PrivateKeyHandle): Promise<Uint8Array> {
      if (k.keyType !== o.keyName) throw new TypeError(`${o.name} cannot sign with a ${k.keyType} key`);
      if (k.native) return new Uint8Array(await signNative(null, data, k.native));
      if (k.raw) return o.impl.sign(data, k.raw);
      throw new TypeError(`${o.name} key handle holds no key material`);
    },
    verify(sig: Uint8Array, data: Uint8Array, spki: Uint8Array): boolean {
      const publicKey = rawPublicKey(spki, o.oid, o.publicKeyLength);
      if (!publicKey || sig.length !== o.signatureLength) return false;
      try {
        return o.native() ? verifyWithNode(null, data, publicKeyFromSpki(spki), sig) : o.impl.verify(sig, data, publicKey);
      } catch {
        return false;
      }
    },
  };
}
