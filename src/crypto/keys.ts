/**
 * Helpers shared by the node:crypto-backed algorithm families: SPKI DER <-> KeyObject, and
 * PrivateKeyHandle construction. Public KeyObjects are cached by SPKI bytes because the same
 * few keys (CA, RA, a client's signer) are parsed on every message.
 * @module
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { PrivateKeyHandle } from './types.ts';

const cache = new Map<string, KeyObject>();
const CACHE_LIMIT = 1024;

/** A node:crypto public key from DER SubjectPublicKeyInfo; throws on malformed input. */
export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  const id = Buffer.from(spki).toString('base64');
  let key = cache.get(id);
  if (!key) {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(id, key);
  }
  return key;
}

/** Wraps a node:crypto private key as a handle owned by key type `keyType`. */
export function nativeHandle(keyType: string, native: KeyObject): PrivateKeyHandle {
  const spki = new Uint8Array(createPublicKey(native).export({ type: 'spki', format: 'der' }));
  return Object.freeze({ keyType, spki, native });
}

/** Loads PKCS#8 DER into a node:crypto private key. */
export function nativeFromPkcs8(der: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
}

export function nativeToPkcs8(key: PrivateKeyHandle): Uint8Array {
  if (!key.native) throw new TypeError(`key of type ${key.keyType} has no node:crypto form`);
  return new Uint8Array(key.native.export({ type: 'pkcs8', format: 'der' }));
}
