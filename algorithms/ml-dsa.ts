/**
 * ML-DSA-44/65/87 (FIPS 204) for X.509 (RFC 9881) and CMS SignerInfo (RFC 9882): one key type
 * and one signature algorithm per parameter set, from one table. node:crypto (OpenSSL 3.5) runs
 * them when this Node has it, else @noble/post-quantum (`pqBackend('ml-dsa')`); a key keeps the
 * backend that loaded it. Pure ML-DSA, empty context (RFC 9881 §3, RFC 9882 §3), parameters
 * absent (RFC 9881 §2). PKCS#8 accepts the seed, expandedKey and both forms (RFC 9881 §6) and
 * rejects inconsistent keys (§8.2, Appendix C.4); it writes the seed when known.
 * Leaves out: HashML-DSA (RFC 9881 §8.3: its OIDs stay unknown), contexts, External μ.
 * @module
 */
import { shake256 } from '@noble/hashes/sha3.js';
import { genCrystals, XOF128 } from '@noble/post-quantum/_crystals.js';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { pqBackend } from '../src/crypto/backend.ts';
import { nativeFromPkcs8, nativeHandle } from '../src/crypto/keys.ts';
import { decodeOneAsymmetricKey, decodeSeedKey, encodeOneAsymmetricKey, encodeSeedKey, encodeSpki, rawPublicKey, pqSignatureOps, type SeedKey } from '../src/crypto/pq-keys.ts';
import { PQ_IMPLEMENTATION } from '../src/crypto/backend.ts';
import type { KeyType, PrivateKeyHandle, SignatureAlgorithm } from '../src/crypto/types.ts';

/** sigAlgs { joint-iso-itu-t(2) country(16) us(840) organization(1) gov(101) csor(3) nistAlgorithm(4) 3 } */
const sigAlgs = '2.16.840.1.101.3.4.3';

/** RFC 9881 §2 OIDs (id-ml-dsa-*); FIPS 204 Table 1 (k, ℓ, η) and Table 2 (sizes in bytes). */
const PARAMS = Object.freeze({
  'ML-DSA-44': { oid: `${sigAlgs}.17`, impl: ml_dsa44, k: 4, l: 4, eta: 2, pk: 1312, sk: 2560, sig: 2420 },
  'ML-DSA-65': { oid: `${sigAlgs}.18`, impl: ml_dsa65, k: 6, l: 5, eta: 4, pk: 1952, sk: 4032, sig: 3309 },
  'ML-DSA-87': { oid: `${sigAlgs}.19`, impl: ml_dsa87, k: 8, l: 7, eta: 2, pk: 2592, sk: 4896, sig: 4627 },
} as const);
type Name = keyof typeof PARAMS;
type Params = (typeof PARAMS)[Name];

const generateNative = (type: string) =>
  new Promise<KeyObject>((resolve, reject) => generateKeyPair(type as 'ed25519', {}, (err, _pub, priv) => (err ? reject(err) : resolve(priv))));
const equal = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(b);

// FIPS 204 §7.5 ring Z_q[X]/(X^256 + 1), q = 8380417, ζ = 1753; §7.2 bit packing.
const C = genCrystals({ N: 256, Q: 8380417, F: 8347681, ROOT_OF_UNITY: 1753, brvBits: 8, isKyber: false, newPoly: (n) => new Int32Array(n) });
const etaCoder = (eta: number) => C.bitsCoder(eta === 2 ? 3 : 4, { encode: (c) => eta - c, decode: (c) => eta - c });
const t0Coder = C.bitsCoder(13, { encode: (c) => 4096 - c, decode: (c) => 4096 - c }); // 2^(d-1) − t0

/** RejNTTPoly (FIPS 204 Algorithm 30): coefficients < q from 3-byte chunks of a SHAKE128 stream. */
function rejNttPoly(next: () => Uint8Array): Int32Array {
  const a = new Int32Array(256);
  for (let j = 0; j < 256; ) {
    const b = next();
    for (let i = 0; j < 256 && i + 3 <= b.length; i += 3) {
      const c = (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16)) & 0x7fffff;
      if (c < 8380417) a[j++] = c;
    }
  }
  return a;
}

/**
 * RFC 9881 Appendix C.4: an expandedKey (ρ, K, tr, s1, s2, t0; FIPS 204 Algorithm 24) must agree
 * with itself: s1, s2 in [−η, η], tr = H(pk, 64), t0 = low bits of A·s1 + s2 (Algorithm 6).
 * Returns the public key; RangeError otherwise.
 */
function checkExpandedKey(p: Params, sk: Uint8Array): Uint8Array {
  if (sk.length !== p.sk) throw new RangeError('ML-DSA expandedKey has the wrong length');
  let pk: Uint8Array;
  try {
    pk = p.impl.getPublicKey(sk); // throws when s1/s2 leave [−η, η]
  } catch (err) {
    throw new RangeError('malformed ML-DSA expandedKey', { cause: err });
  }
  const bad = () => new RangeError('inconsistent ML-DSA expandedKey');
  if (!equal(shake256(pk, { dkLen: 64 }), sk.subarray(64, 128))) throw bad();
  const eta = etaCoder(p.eta);
  const polys = (off: number, n: number, coder: typeof eta) =>
    Array.from({ length: n }, (_, i) => coder.decode(sk.subarray(off + i * coder.bytesLen, off + (i + 1) * coder.bytesLen)));
  const s1Hat = polys(128, p.l, eta).map((s) => C.NTT.encode(s));
  const s2 = polys(128 + p.l * eta.bytesLen, p.k, eta);
  const t0 = polys(128 + (p.l + p.k) * eta.bytesLen, p.k, t0Coder);
  const xof = XOF128(sk.subarray(0, 32));
  try {
    for (let i = 0; i < p.k; i++) {
      const t = new Int32Array(256);
      for (let j = 0; j < p.l; j++) {
        const a = rejNttPoly(xof.get(j, i)); // Â[i][j] (ExpandA, Algorithm 32)
        for (let n = 0; n < 256; n++) t[n] = C.mod(t[n] + C.mod(a[n] * s1Hat[j][n]));
      }
      C.NTT.decode(t);
      for (let n = 0; n < 256; n++) if (C.smod(C.mod(t[n] + s2[i][n]), 1 << 13) !== t0[i][n]) throw bad(); // Power2Round
    }
  } finally {
    xof.clean();
    for (const poly of [...s1Hat, ...s2, ...t0]) poly.fill(0); // secret polynomials
  }
  return pk;
}

/** The key pair a decoded private key stands for (RFC 9881 §8.2 consistency); RangeError if its parts disagree. */
function loadKey(p: Params, { seed, expandedKey }: SeedKey, publicKey?: Uint8Array): { secretKey: Uint8Array; publicKey: Uint8Array } {
  if (seed && seed.length !== 32) throw new RangeError('ML-DSA seed must be 32 bytes');
  const keys = seed ? p.impl.keygen(seed) : { secretKey: expandedKey!, publicKey: checkExpandedKey(p, expandedKey!) };
  if (seed && expandedKey && !equal(expandedKey, keys.secretKey)) throw new RangeError('ML-DSA seed and expandedKey do not match');
  if (publicKey && !equal(publicKey, keys.publicKey)) throw new RangeError('ML-DSA publicKey does not match the private key');
  return keys;
}

const mlDsa = (name: Name) => {
  const p = PARAMS[name];
  const keyName = name.toLowerCase(); // also node:crypto's key type name
  const toPkcs8 = (k: SeedKey) => encodeOneAsymmetricKey(p.oid, encodeSeedKey(k));
  const nobleHandle = (secretKey: Uint8Array, publicKey: Uint8Array, seed?: Uint8Array): PrivateKeyHandle =>
    Object.freeze({ keyType: keyName, spki: encodeSpki(p.oid, publicKey), raw: secretKey, ...(seed && { seed }) });
  const native = () => pqBackend('ml-dsa') === 'native';

  const key: KeyType = Object.freeze({
    kind: 'key',
    name: keyName,
    oids: [], // the OID names the signature algorithm; `matches` selects the key type
    spkiOid: p.oid,
    legacy: false,
    implementation: PQ_IMPLEMENTATION,
    usages: ['sign'] as const,
    quantumSafe: true,
    get backend() {
      return native() ? 'node:crypto' : '@noble/post-quantum';
    },
    async generate(): Promise<PrivateKeyHandle> {
      if (native()) return nativeHandle(keyName, await generateNative(keyName));
      const seed = new Uint8Array(randomBytes(32));
      const { secretKey, publicKey } = p.impl.keygen(seed);
      return nobleHandle(secretKey, publicKey, seed);
    },
    importPkcs8(der: Uint8Array): PrivateKeyHandle {
      const decoded = decodeOneAsymmetricKey(der);
      if (decoded.oid !== p.oid) throw new RangeError(`not an ${name} private key`);
      const parts = decodeSeedKey(decoded.privateKey);
      const { secretKey, publicKey } = loadKey(p, parts, decoded.publicKey);
      if (!native()) return nobleHandle(secretKey, publicKey, parts.seed);
      if (parts.seed) secretKey.fill(0); // derived only for the check; OpenSSL re-derives its own
      return nativeHandle(keyName, nativeFromPkcs8(toPkcs8(parts)));
    },
    exportPkcs8(k: PrivateKeyHandle): Uint8Array {
      if (k.keyType !== keyName) throw new TypeError(`not an ${name} key: ${k.keyType}`);
      if (k.native) return toPkcs8(decodeSeedKey(decodeOneAsymmetricKey(k.native.export({ type: 'pkcs8', format: 'der' })).privateKey));
      return toPkcs8({ seed: k.seed, expandedKey: k.raw });
    },
    matches: (spki: Uint8Array) => rawPublicKey(spki, p.oid, p.pk) !== undefined,
  });

  const signature: SignatureAlgorithm = Object.freeze({
    kind: 'signature',
    name,
    oids: [p.oid], // RFC 9881 §2: the same OID names the key and the signature
    legacy: false,
    implementation: PQ_IMPLEMENTATION,
    capability: name,
    keyOid: p.oid,
    digest: null,
    parameters: 'absent',
    cmsDigest: 'SHA-512', // RFC 9882 §3.3: SHA-512 MUST be supported, and suits every level
    quantumSafe: true,
    ...pqSignatureOps({ name, keyName, oid: p.oid, publicKeyLength: p.pk, signatureLength: p.sig, impl: p.impl, native }),
  });
  return { key, signature };
};

export const { key: ML_DSA_44_KEY, signature: ML_DSA_44 } = mlDsa('ML-DSA-44');
export const { key: ML_DSA_65_KEY, signature: ML_DSA_65 } = mlDsa('ML-DSA-65');
export const { key: ML_DSA_87_KEY, signature: ML_DSA_87 } = mlDsa('ML-DSA-87');
