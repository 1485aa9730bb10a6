/**
 * RSAES-PKCS1-v1_5 decryption (RFC 8017 §7.2.2) with implicit rejection as specified in
 * draft-irtf-cfrg-rsa-guidance ("Implementation Guidance for the PKCS #1 RSA Cryptography
 * Specification", §7.1–7.2) and as implemented by OpenSSL 3.2+ (`derive_kdk` in rsa_ossl.c,
 * `ossl_rsa_prf` / `ossl_rsa_padding_check_PKCS1_type_2` in rsa_pk1.c). A bad padding never
 * throws: the result is then a synthetic message, deterministic in (key, ciphertext), of a
 * pseudo-random length in [0, k-11], byte-identical to what OpenSSL 3.2+ returns.
 *
 * Node 20 bundles OpenSSL 3.0, and refuses RSA_PKCS1_PADDING in privateDecrypt (CVE-2023-46809).
 * Where the runtime does implicit rejection itself it is used; otherwise the fallback does raw
 * RSA (RSA_NO_PADDING, blinded by OpenSSL) and unpads with masks over the whole buffer, with no
 * branch or early exit on secret bytes.
 *
 * Leaves out: multi-prime or external (HSM) keys without an exportable d; the TLS premaster
 * variant; the constant-time guarantees a JIT-compiled language cannot give (the code is
 * branch-free over secrets, but V8 makes no timing promise); wiping KeyObject-internal copies.
 * @module
 */
import {
  constants, createHash, createHmac, generateKeyPairSync, privateDecrypt, publicEncrypt,
  type KeyObject,
} from 'node:crypto';

interface KeyInfo { k: number; n: bigint; dHash: Buffer }
const keyInfo = new WeakMap<KeyObject, KeyInfo>();

function infoFor(key: KeyObject): KeyInfo {
  let info = keyInfo.get(key);
  if (!info) {
    if (key.type !== 'private' || key.asymmetricKeyType !== 'rsa') {
      throw new TypeError('rsaesPkcs1v15Decrypt needs an RSA private KeyObject');
    }
    const jwk = key.export({ format: 'jwk' });
    if (typeof jwk.n !== 'string' || typeof jwk.d !== 'string') throw new TypeError('RSA key lacks n or d');
    const n = Buffer.from(jwk.n, 'base64url');
    const k = n.length; // JWK integers are minimal big-endian octets, so this is ceil(bits / 8)
    const d = Buffer.from(jwk.d, 'base64url');
    const dPadded = Buffer.alloc(k); // I2OSP(d, k)
    d.copy(dPadded, k - d.length);
    info = { k, n: BigInt('0x' + n.toString('hex')), dHash: createHash('sha256').update(dPadded).digest() };
    dPadded.fill(0);
    d.fill(0);
    keyInfo.set(key, info);
  }
  return info;
}

// 32-bit masks: -1 (all ones) for true, 0 for false. Arguments are non-negative and < 2^30.
const isZero = (x: number): number => (~x & (x - 1)) >> 31;
const eq = (a: number, b: number): number => isZero(a ^ b);
const lt = (a: number, b: number): number => (a - b) >> 31;
const select = (mask: number, a: number, b: number): number => (a & mask) | (b & ~mask);

/** The draft's IPRF, OpenSSL's ossl_rsa_prf: HMAC-SHA256(kdk, BE16(i) || label || BE16(bits)), i = 0, 1, ... */
function prf(kdk: Buffer, label: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  const bits = Buffer.from([(length * 8) >> 8, (length * 8) & 0xff]);
  for (let pos = 0, i = 0; pos < length; pos += 32, i++) {
    createHmac('sha256', kdk).update(Buffer.from([i >> 8, i & 0xff])).update(label, 'latin1').update(bits)
      .digest().copy(out, pos);
  }
  return out;
}

/** The fallback path, always in TypeScript: raw RSA, then constant-time unpadding with implicit rejection. */
export function rsaesPkcs1v15DecryptFallback(privateKey: KeyObject, ciphertext: Uint8Array): Uint8Array {
  const { k, dHash } = checkInput(privateKey, ciphertext);
  if (k < 11 || k * 8 > 0xffff) throw new RangeError('unsupported RSA modulus size');
  const ct = Buffer.from(ciphertext);
  const em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ct);
  // KDK = HMAC-SHA256(SHA-256(I2OSP(d, k)), C); C is already exactly k octets here.
  const kdk = createHmac('sha256', dHash).update(ct).digest();
  const synthetic = prf(kdk, 'message', k);
  const candidates = prf(kdk, 'length', 256); // 128 big-endian 16-bit candidate lengths
  // Synthetic length: the last candidate, masked to the bit width of k-10, that is < k-10.
  const maxSepOffset = k - 10;
  let lenMask = maxSepOffset;
  lenMask |= lenMask >> 1; lenMask |= lenMask >> 2; lenMask |= lenMask >> 4; lenMask |= lenMask >> 8;
  let synthLen = 0;
  for (let i = 0; i < 256; i += 2) {
    const c = ((candidates[i]! << 8) | candidates[i + 1]!) & lenMask;
    synthLen = select(lt(c, maxSepOffset), c, synthLen);
  }
  // EM = 0x00 || 0x02 || PS (>= 8 non-zero octets) || 0x00 || M
  let good = isZero(em[0]!) & eq(em[1]!, 2);
  let found = 0;
  let zeroIndex = 0;
  for (let i = 2; i < k; i++) {
    const z = isZero(em[i]!);
    zeroIndex = select(~found & z, i, zeroIndex);
    found |= z;
  }
  good &= ~lt(zeroIndex, 2 + 8); // also fails when no separator was found (zeroIndex = 0)
  const msgIndex = select(good, zeroIndex + 1, k - synthLen);
  // Mix every byte of both buffers, so that the memory access pattern does not depend on `good`.
  const mixed = Buffer.alloc(k);
  for (let i = 0; i < k; i++) mixed[i] = select(good, em[i]!, synthetic[i]!);
  const out = new Uint8Array(mixed.subarray(msgIndex)); // its length is the (public) output length
  mixed.fill(0); em.fill(0); synthetic.fill(0); kdk.fill(0);
  return out;
}

function checkInput(privateKey: KeyObject, ciphertext: Uint8Array): KeyInfo {
  const info = infoFor(privateKey);
  if (ciphertext.length !== info.k) throw new RangeError(`ciphertext is ${ciphertext.length} octets, modulus is ${info.k}`);
  // RSADP step 1 (RFC 8017 §5.1.2): public data only, so a plain comparison is fine.
  if (BigInt('0x' + Buffer.from(ciphertext).toString('hex')) >= info.n) {
    throw new RangeError('ciphertext representative out of range');
  }
  return info;
}

let native: boolean | undefined;

/**
 * Whether this runtime's privateDecrypt does implicit rejection itself, probed once. A probe is
 * used, not `process.versions.openssl >= 3.2`: Node may link a system OpenSSL (RHEL's 3.0.7 has
 * implicit rejection backported), `--security-revert=CVE-2023-46809` re-enables PKCS#1 padding
 * WITHOUT implicit rejection on OpenSSL 3.0, and a provider may behave differently. The probe
 * decrypts a deliberately mispadded ciphertext under a throwaway key and accepts native only if
 * it does not throw and is byte-identical to the fallback.
 */
export function nativeImplicitRejection(): boolean {
  if (native === undefined) {
    try {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
      const block = Buffer.alloc(128, 0xa5);
      block[0] = 0; block[1] = 1; // block type 1: invalid for decryption
      const ct = publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, block);
      const got = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, ct);
      native = Buffer.from(rsaesPkcs1v15DecryptFallback(privateKey, ct)).equals(got);
    } catch {
      native = false;
    }
  }
  return native;
}

/** Decrypts an RSAES-PKCS1-v1_5 ciphertext (RFC 8017 §7.2.2) with implicit rejection: never throws for bad padding; returns a synthetic pseudo-random message instead, deterministic in (key, ciphertext), exactly as OpenSSL 3.2+ does. Throws RangeError only if ciphertext length != modulus length (or, per RSADP, the ciphertext as an integer is >= n). */
export function rsaesPkcs1v15Decrypt(privateKey: KeyObject, ciphertext: Uint8Array): Uint8Array {
  if (!nativeImplicitRejection()) return rsaesPkcs1v15DecryptFallback(privateKey, ciphertext);
  checkInput(privateKey, ciphertext);
  return new Uint8Array(privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(ciphertext)));
}
