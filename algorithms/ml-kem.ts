/**
 * ML-KEM-512/768/1024 (FIPS 203): key pairs with RFC 9935 encodings, and the KEM that
 * KEMRecipientInfo (RFC 9629) uses with the RFC 9936 §3 profile: HKDF-SHA256, and AES-128-WRAP
 * for ML-KEM-512 / AES-256-WRAP for 768 and 1024.
 * Two backends behind each entry (src/crypto/backend.ts): node:crypto (Node 24+ with OpenSSL 3.5;
 * handles hold a KeyObject) or @noble/post-quantum (handles hold the FIPS 203 expanded
 * decapsulation key). A handle keeps working whichever backend is current.
 * Private keys (RFC 9935 §6): seed [0] (d‖z), expandedKey, or both; `both` must match the key
 * re-derived from its seed (§7), an expandedKey must pass the FIPS 203 §7.3 hash check and a
 * pairwise consistency test (RFC 9935 Appendix C.4 example 2 only fails the latter).
 * Leaves out: composite / hybrid KEMs, decapsulation keys without a known public key.
 * @module
 */
import { ml_kem512, ml_kem768, ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import * as nodeCrypto from 'node:crypto';
import { createHash, createPrivateKey, createPublicKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { pqBackend } from '../src/crypto/backend.ts';
import { decodeOneAsymmetricKey, decodeSeedKey, encodeOneAsymmetricKey, encodeSeedKey, encodeSpki, rawPublicKey, type SeedKey } from '../src/crypto/pq-keys.ts';
import { publicKeyFromSpki } from '../src/crypto/keys.ts';
import { PQ_IMPLEMENTATION } from '../src/crypto/backend.ts';
import type { Kem, KeyType, PrivateKeyHandle } from '../src/crypto/types.ts';
import { CipherError } from '../src/crypto/types.ts';

/** kems { joint-iso-itu-t(2) country(16) us(840) organization(1) gov(101) csor(3) nistAlgorithm(4) 4 } */
const kems = '2.16.840.1.101.3.4.4';
export const id_alg_ml_kem_512 = `${kems}.1`;
export const id_alg_ml_kem_768 = `${kems}.2`;
export const id_alg_ml_kem_1024 = `${kems}.3`;

/** node:crypto's KEM functions (Node 24.7+); absent from Node 20's types and runtime. */
type Callback<T> = (err: Error | null, result: T) => void;
const native = nodeCrypto as unknown as {
  encapsulate(key: KeyObject, cb: Callback<{ sharedKey: Buffer; ciphertext: Buffer }>): void;
  decapsulate(key: KeyObject, ciphertext: Uint8Array, cb: Callback<Buffer>): void;
  generateKeyPair(type: string, options: object, cb: (err: Error | null, publicKey: KeyObject, privateKey: KeyObject) => void): void;
};
const call = <T>(fn: (cb: Callback<T>) => void) => new Promise<T>((ok, fail) => fn((err, r) => (err ? fail(err) : ok(r))));

/** FIPS 203 Table 3 sizes come from noble's `lengths`; k is the module rank (Table 2). */
const LEVELS = {
  512: { impl: ml_kem512, oid: id_alg_ml_kem_512, k: 2, wrap: 'AES-128-WRAP' },
  768: { impl: ml_kem768, oid: id_alg_ml_kem_768, k: 3, wrap: 'AES-256-WRAP' },
  1024: { impl: ml_kem1024, oid: id_alg_ml_kem_1024, k: 4, wrap: 'AES-256-WRAP' },
} as const;
type Level = keyof typeof LEVELS;

const SEED = 64; // d ‖ z, FIPS 203 Algorithm 16
const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && timingSafeEqual(a, b);
const backendName = () => (pqBackend('ml-kem') === 'native' ? 'node:crypto' : '@noble/post-quantum');

function family(level: Level): { key: KeyType; kem: Kem } {
  const { impl, oid, k, wrap } = LEVELS[level];
  const keyName = `ml-kem-${level}`;
  const { publicKey: ekLength, secretKey: dkLength, cipherText: ctLength } = impl.lengths as Record<string, number>;
  const pkcs8 = (choice: SeedKey) => encodeOneAsymmetricKey(oid, encodeSeedKey(choice));
  const toNative = (der: Uint8Array) => {
    try {
      return createPrivateKey({ key: Buffer.from(der.buffer, der.byteOffset, der.length), format: 'der', type: 'pkcs8' });
    } finally {
      der.fill(0);
    }
  };

  /** A handle for a validated key: native when the backend is, else the expanded key. */
  function handle(ek: Uint8Array, dk: Uint8Array, seed?: Uint8Array): PrivateKeyHandle {
    const spki = encodeSpki(oid, ek);
    if (pqBackend('ml-kem') === 'native') {
      const key = toNative(pkcs8(seed ? { seed } : { expandedKey: dk }));
      return Object.freeze({ keyType: keyName, spki, native: key, seed });
    }
    return Object.freeze({ keyType: keyName, spki, raw: dk.slice(), seed });
  }

  function fromSeed(seed: Uint8Array, expanded?: Uint8Array): PrivateKeyHandle {
    if (seed.length !== SEED) throw new RangeError(`${keyName}: seed must be ${SEED} bytes`);
    const { publicKey, secretKey } = impl.keygen(seed);
    try {
      // RFC 9935 §7: seed consistency check; a mismatch makes the key malformed.
      if (expanded && !equal(expanded, secretKey)) throw new RangeError(`${keyName}: seed and expandedKey do not match`);
      return handle(publicKey, secretKey, new Uint8Array(seed));
    } finally {
      secretKey.fill(0);
    }
  }

  function fromExpanded(dk: Uint8Array): PrivateKeyHandle {
    if (dk.length !== dkLength) throw new RangeError(`${keyName}: expandedKey must be ${dkLength} bytes`);
    const ek = dk.subarray(384 * k, 768 * k + 32);
    // FIPS 203 §7.3 decapsulation input check: H(ek) stored in dk must be SHA3-256 of ek.
    const h = createHash('sha3-256').update(ek).digest();
    if (!equal(h, dk.subarray(768 * k + 32, 768 * k + 64))) throw new RangeError(`${keyName}: expandedKey fails the hash check`);
    // Pairwise consistency (RFC 9935 Appendix C.4): a mutated secret vector passes the hash check.
    let ok = false;
    try {
      const { cipherText, sharedSecret } = impl.encapsulate(ek);
      const again = impl.decapsulate(cipherText, dk);
      ok = equal(again, sharedSecret);
      again.fill(0);
      sharedSecret.fill(0);
    } catch {
      ok = false; // e.g. FIPS 203 §7.2 modulus check on ek
    }
    if (!ok) throw new RangeError(`${keyName}: expandedKey fails the pairwise consistency test`);
    return handle(ek.slice(), dk);
  }

  const key: KeyType = Object.freeze({
    kind: 'key',
    name: keyName,
    oids: [], // the SPKI OID selects the Kem below; a KeyType claims none
    spkiOid: oid,
    legacy: false,
    implementation: PQ_IMPLEMENTATION,
    usages: ['encrypt'] as const, // RFC 9935 §3: keyEncipherment only
    quantumSafe: true,
    get backend() {
      return backendName();
    },
    async generate() {
      if (pqBackend('ml-kem') !== 'native') return fromSeed(new Uint8Array(randomBytes(SEED)));
      const privateKey = await call<KeyObject>((cb) => native.generateKeyPair(keyName, {}, (err, _pub, priv) => cb(err, priv)));
      // OpenSSL 3.5 exports the seed form when it knows the seed, which it does for keys it generated.
      const der = new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' }));
      const { seed } = decodeSeedKey(decodeOneAsymmetricKey(der).privateKey);
      der.fill(0);
      const spki = new Uint8Array(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
      return Object.freeze({ keyType: keyName, spki, native: privateKey, seed });
    },
    importPkcs8(der: Uint8Array): PrivateKeyHandle {
      const info = decodeOneAsymmetricKey(der);
      if (info.oid !== oid) throw new RangeError(`not an ${keyName} private key`);
      const { seed, expandedKey } = decodeSeedKey(info.privateKey);
      const h = seed ? fromSeed(seed, expandedKey) : fromExpanded(expandedKey!);
      if (info.publicKey && !equal(info.publicKey, rawPublicKey(h.spki, oid, ekLength)!)) throw new RangeError(`${keyName}: publicKey does not match the private key`);
      return h;
    },
    exportPkcs8(h: PrivateKeyHandle): Uint8Array {
      if (h.keyType !== keyName) throw new TypeError(`not an ${keyName} key: ${h.keyType}`);
      if (h.seed) return pkcs8({ seed: h.seed }); // RFC 9935 §6 recommends the seed form
      if (h.raw) return pkcs8({ expandedKey: h.raw });
      if (h.native) return new Uint8Array(h.native.export({ type: 'pkcs8', format: 'der' }));
      throw new TypeError(`${keyName} key handle has no key material`);
    },
    matches: (spki: Uint8Array) => rawPublicKey(spki, oid, ekLength) !== undefined,
  });

  const kem: Kem = Object.freeze({
    kind: 'kem',
    name: `ML-KEM-${level}`,
    oids: [oid],
    legacy: false,
    implementation: PQ_IMPLEMENTATION,
    capability: `ML-KEM-${level}`,
    keyOid: oid,
    quantumSafe: true,
    kdf: 'HKDF-SHA256', // RFC 9936 §3: MUST support
    wrap,
    async encapsulate(spki: Uint8Array) {
      const ek = rawPublicKey(spki, oid, ekLength);
      if (!ek) throw new CipherError(`not an ${keyName} public key`);
      try {
        if (pqBackend('ml-kem') === 'native') {
          const r = await call<{ sharedKey: Buffer; ciphertext: Buffer }>((cb) => native.encapsulate(publicKeyFromSpki(spki), cb));
          return { ciphertext: new Uint8Array(r.ciphertext), sharedSecret: new Uint8Array(r.sharedKey) };
        }
        const { cipherText, sharedSecret } = impl.encapsulate(ek);
        return { ciphertext: cipherText, sharedSecret };
      } catch {
        throw new CipherError(`cannot encapsulate to this ${keyName} key`); // FIPS 203 §7.2 modulus check
      }
    },
    async decapsulate(ciphertext: Uint8Array, h: PrivateKeyHandle) {
      // FIPS 203 §7.3 ciphertext type check; everything else is implicit rejection (§6.3).
      if (ciphertext.length !== ctLength || h.keyType !== keyName) throw new CipherError('decapsulation failed');
      try {
        if (h.native) return new Uint8Array(await call<Buffer>((cb) => native.decapsulate(h.native!, ciphertext, cb)));
        if (h.raw) return impl.decapsulate(ciphertext, h.raw);
      } catch {
        /* uniform failure below */
      }
      throw new CipherError('decapsulation failed');
    },
  });
  return { key, kem };
}

const l512 = family(512);
const l768 = family(768);
const l1024 = family(1024);

/** Key pairs (KeyType), selected by SPKI OID id-alg-ml-kem-* (RFC 9935 §3). */
export const ML_KEM_512_KEY = l512.key;
export const ML_KEM_768_KEY = l768.key;
export const ML_KEM_1024_KEY = l1024.key;
/** KEMs for KEMRecipientInfo.kem (RFC 9936 §3); the name is also the GetCACaps keyword. */
export const ML_KEM_512 = l512.kem;
export const ML_KEM_768 = l768.kem;
export const ML_KEM_1024 = l1024.kem;
