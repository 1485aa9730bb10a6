/**
 * HKDF (RFC 5869) as the KeyDerivationAlgorithm of KEMRecipientInfo (RFC 9629 §5), with the
 * RFC 8619 §2 identifiers; parameters are absent (RFC 8619 §3). RFC 9936 §3 requires
 * HKDF-SHA256 for ML-KEM; SHA-384 and SHA-512 are offered as the hackathon artifacts use them.
 * The salt is empty (RFC 9629 §5: KDF(IKM = shared secret, L = kekLength, info)).
 * node:crypto (OpenSSL) takes at most 1024 bytes of info; the info is DER(CMSORIforKEMOtherInfo),
 * which holds the sender's ukm, of any length (RFC 9629 §3): a longer info goes to @noble/hashes.
 * Leaves out: HKDF with a salt, HKDF-Extract/Expand as separate steps.
 * @module
 */
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { hkdfSync } from 'node:crypto';
import type { Kdf } from '../src/crypto/types.ts';

/** id-alg { iso(1) member-body(2) us(840) rsadsi(113549) pkcs(1) pkcs9(9) smime(16) alg(3) } */
const id_alg = '1.2.840.113549.1.9.16.3';
export const id_alg_hkdf_with_sha256 = `${id_alg}.28`;
export const id_alg_hkdf_with_sha384 = `${id_alg}.29`;
export const id_alg_hkdf_with_sha512 = `${id_alg}.30`;

const EMPTY_SALT = new Uint8Array(0);
/** The most info bytes node:crypto's hkdfSync accepts (OpenSSL's HKDF limit). */
const NODE_INFO_MAX = 1024;
const NOBLE_HASH = { 256: sha256, 384: sha384, 512: sha512 } as const;

const hkdf = (bits: 256 | 384 | 512, oid: string): Kdf =>
  Object.freeze({
    kind: 'kdf',
    name: `HKDF-SHA${bits}`,
    oids: [oid],
    legacy: false,
    implementation: 'node:crypto',
    derive(secret: Uint8Array, info: Uint8Array, length: number): Uint8Array {
      // RFC 5869 §2.3: L <= 255 * HashLen.
      if (!Number.isInteger(length) || length < 1 || length > 255 * (bits / 8)) throw new RangeError(`HKDF-SHA${bits}: bad output length ${length}`);
      if (info.length > NODE_INFO_MAX) return nobleHkdf(NOBLE_HASH[bits], secret, EMPTY_SALT, info, length);
      return new Uint8Array(hkdfSync(`sha${bits}`, secret, EMPTY_SALT, info, length));
    },
  });

export const HKDF_SHA256 = hkdf(256, id_alg_hkdf_with_sha256);
export const HKDF_SHA384 = hkdf(384, id_alg_hkdf_with_sha384);
export const HKDF_SHA512 = hkdf(512, id_alg_hkdf_with_sha512);
