/**
 * SLH-DSA (FIPS 205), all twelve parameter sets, for X.509 (RFC 9909) and CMS SignerInfo
 * (RFC 9814): one key type and one signature algorithm per set, from one table. node:crypto
 * (OpenSSL 3.5) runs them when this Node has it, else @noble/post-quantum
 * (`pqBackend('slh-dsa')`). Pure SLH-DSA, empty context, AlgorithmIdentifier parameters absent
 * (RFC 9909 §3, RFC 9814). PKCS#8: the privateKey OCTET STRING holds the raw 4n-byte secret key
 * SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root (RFC 9909 §7; OpenSSL 3.5 writes the same); on import
 * PK.root is recomputed from the seeds and must match.
 * Leaves out: HashSLH-DSA (OIDs .35–.46; RFC 9814 excludes it from CMS), contexts.
 * NOTE: RFC 9814 pairs SHAKE128 / SHAKE256 with the SHAKE sets as CMS digest; the registry has no
 * SHAKE digest yet, so those sets use SHA-512 for now, which a strict RFC 9814 peer may refuse.
 * @module
 */
import {
  slh_dsa_sha2_128f, slh_dsa_sha2_128s, slh_dsa_sha2_192f, slh_dsa_sha2_192s, slh_dsa_sha2_256f, slh_dsa_sha2_256s,
  slh_dsa_shake_128f, slh_dsa_shake_128s, slh_dsa_shake_192f, slh_dsa_shake_192s, slh_dsa_shake_256f, slh_dsa_shake_256s,
} from '@noble/post-quantum/slh-dsa.js';
import { generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { pqBackend } from '../src/crypto/backend.ts';
import { nativeFromPkcs8, nativeHandle } from '../src/crypto/keys.ts';
import { decodeOneAsymmetricKey, encodeOneAsymmetricKey, encodeSpki, rawPublicKey, pqSignatureOps } from '../src/crypto/pq-keys.ts';
import { PQ_IMPLEMENTATION } from '../src/crypto/backend.ts';
import type { DigestName, KeyType, PrivateKeyHandle, SignatureAlgorithm } from '../src/crypto/types.ts';

/** sigAlgs { joint-iso-itu-t(2) country(16) us(840) organization(1) gov(101) csor(3) nistAlgorithm(4) 3 } */
const sigAlgs = '2.16.840.1.101.3.4.3';

/** RFC 9909 §3 OIDs (id-slh-dsa-*), FIPS 205 Table 2 (n, signature bytes), RFC 9814 CMS digest. */
const PARAMS = Object.freeze({
  'SLH-DSA-SHA2-128S': { arc: 20, impl: slh_dsa_sha2_128s, n: 16, sig: 7856, cms: 'SHA-256' },
  'SLH-DSA-SHA2-128F': { arc: 21, impl: slh_dsa_sha2_128f, n: 16, sig: 17088, cms: 'SHA-256' },
  'SLH-DSA-SHA2-192S': { arc: 22, impl: slh_dsa_sha2_192s, n: 24, sig: 16224, cms: 'SHA-512' },
  'SLH-DSA-SHA2-192F': { arc: 23, impl: slh_dsa_sha2_192f, n: 24, sig: 35664, cms: 'SHA-512' },
  'SLH-DSA-SHA2-256S': { arc: 24, impl: slh_dsa_sha2_256s, n: 32, sig: 29792, cms: 'SHA-512' },
  'SLH-DSA-SHA2-256F': { arc: 25, impl: slh_dsa_sha2_256f, n: 32, sig: 49856, cms: 'SHA-512' },
  'SLH-DSA-SHAKE-128S': { arc: 26, impl: slh_dsa_shake_128s, n: 16, sig: 7856, cms: 'SHAKE128' }, // RFC 9814 §4
  'SLH-DSA-SHAKE-128F': { arc: 27, impl: slh_dsa_shake_128f, n: 16, sig: 17088, cms: 'SHAKE128' }, // RFC 9814 §4
  'SLH-DSA-SHAKE-192S': { arc: 28, impl: slh_dsa_shake_192s, n: 24, sig: 16224, cms: 'SHAKE256' }, // RFC 9814 §4
  'SLH-DSA-SHAKE-192F': { arc: 29, impl: slh_dsa_shake_192f, n: 24, sig: 35664, cms: 'SHAKE256' }, // RFC 9814 §4
  'SLH-DSA-SHAKE-256S': { arc: 30, impl: slh_dsa_shake_256s, n: 32, sig: 29792, cms: 'SHAKE256' }, // RFC 9814 §4
  'SLH-DSA-SHAKE-256F': { arc: 31, impl: slh_dsa_shake_256f, n: 32, sig: 49856, cms: 'SHAKE256' }, // RFC 9814 §4
} as const satisfies Record<string, { arc: number; n: number; sig: number; cms: DigestName; impl: unknown }>);
type Name = keyof typeof PARAMS;

const generateNative = (type: string) =>
  new Promise<KeyObject>((resolve, reject) => generateKeyPair(type as 'ed25519', {}, (err, _pub, priv) => (err ? reject(err) : resolve(priv))));
const native = () => pqBackend('slh-dsa') === 'native';

const slhDsa = (name: Name) => {
  const p = PARAMS[name];
  const oid = `${sigAlgs}.${p.arc}`;
  const keyName = name.toLowerCase(); // also node:crypto's key type name
  const nobleHandle = (secretKey: Uint8Array): PrivateKeyHandle =>
    Object.freeze({ keyType: keyName, spki: encodeSpki(oid, secretKey.slice(2 * p.n)), raw: secretKey });

  const key: KeyType = Object.freeze({
    kind: 'key',
    name: keyName,
    oids: [], // the OID names the signature algorithm; `matches` selects the key type
    spkiOid: oid,
    legacy: false,
    implementation: PQ_IMPLEMENTATION,
    usages: ['sign'] as const,
    quantumSafe: true,
    get backend() {
      return native() ? 'node:crypto' : '@noble/post-quantum';
    },
    async generate(): Promise<PrivateKeyHandle> {
      if (native()) return nativeHandle(keyName, await generateNative(keyName));
      return nobleHandle(p.impl.keygen(new Uint8Array(randomBytes(3 * p.n))).secretKey);
    },
    importPkcs8(der: Uint8Array): PrivateKeyHandle {
      const decoded = decodeOneAsymmetricKey(der);
      if (decoded.oid !== oid) throw new RangeError(`not an ${name} private key`);
      const sk = decoded.privateKey;
      if (sk.length !== 4 * p.n) throw new RangeError(`${name} private key must be ${4 * p.n} bytes`);
      // FIPS 205 Algorithm 18 (slh_keygen_internal): PK.root follows from SK.seed and PK.seed.
      const derived = p.impl.keygen(sk.subarray(0, 3 * p.n)).secretKey;
      const consistent = Buffer.from(derived).equals(sk);
      derived.fill(0);
      if (!consistent) throw new RangeError(`inconsistent ${name} private key`);
      if (decoded.publicKey && !Buffer.from(decoded.publicKey).equals(sk.subarray(2 * p.n))) throw new RangeError(`${name} publicKey does not match`);
      return native() ? nativeHandle(keyName, nativeFromPkcs8(encodeOneAsymmetricKey(oid, sk))) : nobleHandle(sk.slice());
    },
    exportPkcs8(k: PrivateKeyHandle): Uint8Array {
      if (k.keyType !== keyName) throw new TypeError(`not an ${name} key: ${k.keyType}`);
      if (k.native) return encodeOneAsymmetricKey(oid, decodeOneAsymmetricKey(k.native.export({ type: 'pkcs8', format: 'der' })).privateKey);
      if (k.raw) return encodeOneAsymmetricKey(oid, k.raw);
      throw new TypeError(`${name} key handle holds no key material`);
    },
    matches: (spki: Uint8Array) => rawPublicKey(spki, oid, 2 * p.n) !== undefined,
  });

  const signature: SignatureAlgorithm = Object.freeze({
    kind: 'signature',
    name,
    oids: [oid], // RFC 9909 §3: the same OID names the key and the signature
    legacy: false,
    implementation: PQ_IMPLEMENTATION,
    capability: name,
    keyOid: oid,
    digest: null,
    parameters: 'absent',
    cmsDigest: p.cms,
    quantumSafe: true,
    ...pqSignatureOps({ name, keyName, oid, publicKeyLength: 2 * p.n, signatureLength: p.sig, impl: p.impl, native }),
  });
  return { key, signature };
};

export const { key: SLH_DSA_SHA2_128S_KEY, signature: SLH_DSA_SHA2_128S } = slhDsa('SLH-DSA-SHA2-128S');
export const { key: SLH_DSA_SHA2_128F_KEY, signature: SLH_DSA_SHA2_128F } = slhDsa('SLH-DSA-SHA2-128F');
export const { key: SLH_DSA_SHA2_192S_KEY, signature: SLH_DSA_SHA2_192S } = slhDsa('SLH-DSA-SHA2-192S');
export const { key: SLH_DSA_SHA2_192F_KEY, signature: SLH_DSA_SHA2_192F } = slhDsa('SLH-DSA-SHA2-192F');
export const { key: SLH_DSA_SHA2_256S_KEY, signature: SLH_DSA_SHA2_256S } = slhDsa('SLH-DSA-SHA2-256S');
export const { key: SLH_DSA_SHA2_256F_KEY, signature: SLH_DSA_SHA2_256F } = slhDsa('SLH-DSA-SHA2-256F');
export const { key: SLH_DSA_SHAKE_128S_KEY, signature: SLH_DSA_SHAKE_128S } = slhDsa('SLH-DSA-SHAKE-128S');
export const { key: SLH_DSA_SHAKE_128F_KEY, signature: SLH_DSA_SHAKE_128F } = slhDsa('SLH-DSA-SHAKE-128F');
export const { key: SLH_DSA_SHAKE_192S_KEY, signature: SLH_DSA_SHAKE_192S } = slhDsa('SLH-DSA-SHAKE-192S');
export const { key: SLH_DSA_SHAKE_192F_KEY, signature: SLH_DSA_SHAKE_192F } = slhDsa('SLH-DSA-SHAKE-192F');
export const { key: SLH_DSA_SHAKE_256S_KEY, signature: SLH_DSA_SHAKE_256S } = slhDsa('SLH-DSA-SHAKE-256S');
export const { key: SLH_DSA_SHAKE_256F_KEY, signature: SLH_DSA_SHAKE_256F } = slhDsa('SLH-DSA-SHAKE-256F');
