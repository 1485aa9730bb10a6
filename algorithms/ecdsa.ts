/**
 * Elliptic-curve keys on NIST P-256 and P-384 (RFC 5480 §2.1.1: id-ecPublicKey with a
 * namedCurve) and ECDSA signatures (FIPS 186-5 §6, OIDs and ABSENT parameters per RFC 5758
 * §3.2; signature value DER ECDSA-Sig-Value, RFC 5480 §2.2 / RFC 3279 §2.2.3), through node:crypto.
 *
 * Key types: 'ecdsa-p256'/'ecdsa-p384' sign and agree (RFC 5480 §3 allows both usages on one
 * id-ecPublicKey key). 'ecdh-p256'/'ecdh-p384' are the same keys restricted to key agreement,
 * the names the CLI asks for when it makes an RA key-agreement certificate.
 * NOTE: the ecdh-* entries never `match` an SPKI, so "which key type is this SPKI?" always
 * answers ecdsa-* whatever the order of the list; they are reached only by name.
 *
 * Leaves out: P-521, Brainpool, secp256k1 (rejected on import, not matched, not verified),
 * explicit curve parameters (RFC 5480 §2.1.1 forbids them in PKIX), ecdsa-with-SHA1 and -SHA224.
 * @module
 */
import { ECParameters, id_ecPublicKey, id_secp256r1, id_secp384r1 } from '@peculiar/asn1-ecc';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { createPublicKey, generateKeyPair, sign, verify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { nativeFromPkcs8, nativeHandle, nativeToPkcs8, publicKeyFromSpki } from '../src/crypto/keys.ts';
import type { ShaName, KeyType, PrivateKeyHandle, SignatureAlgorithm } from '../src/crypto/types.ts';
import { NODE_DIGEST } from './sha.ts';

const signAsync = promisify(sign);
const generateAsync = promisify(generateKeyPair);

export interface EcCurve {
  /** RFC 5480 §2.1.1.1 name. */
  readonly name: 'P-256' | 'P-384';
  /** namedCurve OID in ECParameters. */
  readonly oid: string;
  /** OpenSSL's name, as node:crypto reports it in asymmetricKeyDetails.namedCurve. */
  readonly node: string;
  /** Field element size in bytes (SEC 1 §2.3.3 point encodings). */
  readonly size: number;
}

/** The curves this file supports (RFC 5480 §2.1.1.1). Adding a curve = one row + key types. */
export const EC_CURVES: readonly EcCurve[] = Object.freeze([
  Object.freeze({ name: 'P-256', oid: id_secp256r1, node: 'prime256v1', size: 32 } as const), // secp256r1 { 1.2.840.10045.3.1.7 }
  Object.freeze({ name: 'P-384', oid: id_secp384r1, node: 'secp384r1', size: 48 } as const), // secp384r1 { 1.3.132.0.34 }
]);

/** SEC 1 §2.3.3: 04‖X‖Y or 02/03‖X. Rejects the point at infinity (a single 00) and hybrid forms. */
const wellFormedPoint = (p: Uint8Array, size: number) =>
  (p[0] === 0x04 && p.length === 1 + 2 * size) || ((p[0] === 0x02 || p[0] === 0x03) && p.length === 1 + size);

/**
 * The curve and node:crypto key of an EC public key (DER SPKI) on a supported curve, or
 * undefined for anything else or malformed input. `cache`: through publicKeyFromSpki (long-lived
 * keys) or not (ephemeral keys would only churn that cache).
 * NOTE: Node 20 with OpenSSL 3.0 accepts an SPKI whose point is the point at infinity and then
 * aborts the whole process (a C++ CHECK, not an exception) on asymmetricKeyDetails or a JWK
 * export of that key. So the point encoding is checked here before node:crypto sees the key,
 * and node:crypto is given our re-encoding of what we checked.
 */
export function ecPublicKey(spki: Uint8Array, cache = true): { curve: EcCurve; key: KeyObject } | undefined {
  try {
    const info = AsnConvert.parse(spki, SubjectPublicKeyInfo);
    if (info.algorithm.algorithm !== id_ecPublicKey || !info.algorithm.parameters) return undefined;
    const namedCurve = AsnConvert.parse(info.algorithm.parameters, ECParameters).namedCurve;
    const curve = EC_CURVES.find((c) => c.oid === namedCurve);
    if (!curve || !wellFormedPoint(new Uint8Array(info.subjectPublicKey), curve.size)) return undefined;
    const der = new Uint8Array(AsnConvert.serialize(info));
    // node:crypto decodes the point and rejects one that is not on the curve.
    const key = cache ? publicKeyFromSpki(der) : createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
    return key.asymmetricKeyDetails?.namedCurve === curve.node ? { curve, key } : undefined;
  } catch {
    return undefined;
  }
}

/** The supported curve of an EC public key (DER SPKI), or undefined. */
export const ecCurveOf = (spki: Uint8Array): EcCurve | undefined => ecPublicKey(spki)?.curve;

/** The supported curve of a node:crypto EC key, or undefined. Only for keys from generate/importPkcs8 (checked there). */
export const ecCurveOfKey = (key: KeyObject | undefined): EcCurve | undefined =>
  key?.asymmetricKeyType === 'ec' ? EC_CURVES.find((c) => c.node === key.asymmetricKeyDetails?.namedCurve) : undefined;

/** Pairwise consistency test (as FIPS 140-3 asks of generated keys): a test signature verifies with the handle's SPKI. */
function pairwiseConsistent(key: PrivateKeyHandle): boolean {
  const probe = Buffer.from('pqscep pairwise consistency');
  return verify('sha256', probe, publicKeyFromSpki(key.spki), sign('sha256', probe, key.native!));
}

const ecKey = (name: string, curve: EcCurve, usages: readonly ('sign' | 'agree')[]): KeyType =>
  Object.freeze({
    kind: 'key',
    name,
    oids: [], // every curve shares id-ecPublicKey; `matches` tells them apart
    spkiOid: id_ecPublicKey,
    legacy: false,
    implementation: 'node:crypto',
    usages,
    quantumSafe: false,
    backend: 'node:crypto',
    generate: async () => nativeHandle(name, (await generateAsync('ec', { namedCurve: curve.node })).privateKey),
    importPkcs8(der: Uint8Array): PrivateKeyHandle {
      let handle: PrivateKeyHandle;
      try {
        const native = nativeFromPkcs8(der);
        if (native.asymmetricKeyType !== 'ec') throw new RangeError('not an EC key');
        // The SPKI first: the key's public point (embedded in the PKCS#8 or derived from d = 0) may be
        // the point at infinity, which asymmetricKeyDetails would abort on (see ecPublicKey).
        handle = nativeHandle(name, native);
      } catch (err) {
        throw new RangeError(`not a ${curve.name} private key`, { cause: err });
      }
      if (ecPublicKey(handle.spki)?.curve !== curve) throw new RangeError(`not a ${curve.name} private key`);
      if (!pairwiseConsistent(handle)) throw new RangeError(`${name}: the public key in the PKCS#8 does not belong to its private key`);
      return handle;
    },
    exportPkcs8: nativeToPkcs8,
    matches: usages.includes('sign') ? (spki: Uint8Array) => ecCurveOf(spki) === curve : () => false,
  });

const [P256, P384] = EC_CURVES;
export const ECDSA_P256 = ecKey('ecdsa-p256', P256, ['sign', 'agree']);
export const ECDSA_P384 = ecKey('ecdsa-p384', P384, ['sign', 'agree']);
/** Key-agreement-only aliases (never `match`; see the module note). */
export const ECDH_P256 = ecKey('ecdh-p256', P256, ['agree']);
export const ECDH_P384 = ecKey('ecdh-p384', P384, ['agree']);

/** ecdsa-with-SHA2 { iso(1) member-body(2) us(840) ansi-X9-62(10045) signatures(4) ecdsa-with-SHA2(3) } */
const ecdsaWithSha2 = '1.2.840.10045.4.3';

const ecdsa = (digest: ShaName, arc: number): SignatureAlgorithm =>
  Object.freeze({
    kind: 'signature',
    name: `ecdsa-with-${digest.replace('-', '')}`,
    oids: [`${ecdsaWithSha2}.${arc}`],
    legacy: false,
    implementation: 'node:crypto',
    keyOid: id_ecPublicKey,
    digest, // the OID fixes the digest
    parameters: 'absent', // RFC 5758 §3.2
    quantumSafe: false,
    async sign(data: Uint8Array, key: PrivateKeyHandle) {
      if (!ecCurveOfKey(key.native)) throw new TypeError(`ecdsa-with-${digest} needs a node:crypto P-256/P-384 key`);
      return new Uint8Array(await signAsync(NODE_DIGEST[digest], data, { key: key.native!, dsaEncoding: 'der' }));
    },
    verify(signature: Uint8Array, data: Uint8Array, spki: Uint8Array) {
      const pub = ecPublicKey(spki);
      if (!pub) return false;
      try {
        return verify(NODE_DIGEST[digest], data, { key: pub.key, dsaEncoding: 'der' }, signature);
      } catch {
        return false; // malformed ECDSA-Sig-Value
      }
    },
  });

export const ECDSA_WITH_SHA256 = ecdsa('SHA-256', 2);
export const ECDSA_WITH_SHA384 = ecdsa('SHA-384', 3);
export const ECDSA_WITH_SHA512 = ecdsa('SHA-512', 4);
