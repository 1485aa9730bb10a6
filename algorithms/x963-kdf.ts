/**
 * ANSI X9.63 key derivation function (SEC 1 v2 §3.6.1), over node:crypto hashes: the KDF of
 * the RFC 5753 §7.1.4 dhSinglePass-stdDH-sha*kdf-scheme key agreements, which KeyAgreeRecipientInfo
 * uses to turn the ECDH shared secret Z into the key-encryption key (RFC 5753 §3.1.1, §7.2).
 *
 *   K = Hash(Z ‖ Counter ‖ SharedInfo) ‖ Hash(Z ‖ Counter+1 ‖ SharedInfo) ‖ ..., truncated,
 *   Counter a 32-bit big-endian integer starting at 1.
 *
 * These entries carry no OID (`oids: []`): the key-agreement scheme OID fixes the KDF and
 * names it in `KeyAgreement.kdf`. X9.63-SHA1 exists only for OpenSSL's default scheme
 * (dhSinglePass-stdDH-sha1kdf-scheme) and is legacy.
 * Leaves out: the SEC 1 hashmaxlen check (Z and SharedInfo are always tiny here).
 * @module
 */
import { createHash } from 'node:crypto';
import type { Kdf, ShaName } from '../src/crypto/types.ts';
import { NODE_DIGEST } from './sha.ts';

const HASH_SIZE: Readonly<Record<ShaName, number>> = Object.freeze({ 'SHA-1': 20, 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 });

/** SEC 1 §3.6.1 with `hash`; `length` is in bytes. Pure function, exported for tests. */
export function x963Kdf(hash: ShaName, secret: Uint8Array, sharedInfo: Uint8Array, length: number): Uint8Array {
  const size = HASH_SIZE[hash];
  // SEC 1 §3.6.1 step 2: keydatalen < hashlen × (2^32 − 1)
  if (!Number.isInteger(length) || length < 0 || length >= size * 0xffffffff) throw new RangeError(`X9.63 KDF: bad output length ${length}`);
  const out = new Uint8Array(Math.ceil(length / size) * size);
  const counter = new Uint8Array(4);
  for (let i = 1, at = 0; at < length; i++, at += size) {
    new DataView(counter.buffer).setUint32(0, i); // big-endian
    out.set(createHash(NODE_DIGEST[hash]).update(secret).update(counter).update(sharedInfo).digest(), at);
  }
  const key = out.slice(0, length);
  out.fill(0);
  return key;
}

const x963 = (hash: ShaName, legacy = false): Kdf =>
  Object.freeze({
    kind: 'kdf',
    name: `X9.63-${hash.replace('-', '')}`,
    oids: [],
    legacy,
    implementation: 'node:crypto',
    derive: (secret: Uint8Array, info: Uint8Array, length: number) => x963Kdf(hash, secret, info, length),
  });

export const X963_KDF_SHA256 = x963('SHA-256');
export const X963_KDF_SHA384 = x963('SHA-384');
export const X963_KDF_SHA512 = x963('SHA-512');
export const X963_KDF_SHA1 = x963('SHA-1', true);
