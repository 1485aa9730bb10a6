/**
 * Digests: SHA-1 (legacy, RFC 3370 §2.1) and SHA-2 (RFC 5754 §2), through node:crypto.
 * SHA-1 exists only because micromdm's scepclient signs with it whatever GetCACaps says; it is
 * off unless legacy algorithms are allowed. AlgorithmIdentifier parameters are absent (RFC 5754 §2).
 * @module
 */
import { createHash } from 'node:crypto';
import type { Digest, DigestName, ShaName } from '../src/crypto/types.ts';

const digest = (name: ShaName, node: string, oid: string, size: number, legacy = false): Digest =>
  Object.freeze({
    kind: 'digest',
    name,
    oids: [oid],
    legacy,
    implementation: 'node:crypto',
    capability: name, // RFC 8894 §3.5.2 keywords are the digest names ('SHA-384' is ours: strongSwan 5.9.8 needs it to use AES)
    size,
    hash: (data: Uint8Array) => new Uint8Array(createHash(node).update(data).digest()),
  });

/** id-sha1 { iso(1) identified-organization(3) oiw(14) secsig(3) algorithms(2) 26 } */
export const SHA_1 = digest('SHA-1', 'sha1', '1.3.14.3.2.26', 20, true);
/** id-sha256 { joint-iso-itu-t(2) country(16) us(840) organization(1) gov(101) csor(3) nistAlgorithm(4) hashAlgs(2) 1 } */
export const SHA_256 = digest('SHA-256', 'sha256', '2.16.840.1.101.3.4.2.1', 32);
/** id-sha384 { ... hashAlgs(2) 2 } */
export const SHA_384 = digest('SHA-384', 'sha384', '2.16.840.1.101.3.4.2.2', 48);
/** id-sha512 { ... hashAlgs(2) 3 } */
export const SHA_512 = digest('SHA-512', 'sha512', '2.16.840.1.101.3.4.2.3', 64);

/**
 * SHAKE128 / SHAKE256 as CMS message digests with 256- and 512-bit outputs (RFC 8702 §3), for
 * ML-DSA (RFC 9882 §3: SHAKE256 SHOULD) and the SHAKE SLH-DSA variants (RFC 9814 §4).
 * id-shake128 { hashAlgs 11 }, id-shake256 { hashAlgs 12 }, parameters absent.
 */
const shake = (name: 'SHAKE128' | 'SHAKE256', node: string, arc: number, size: number): Digest =>
  Object.freeze({
    kind: 'digest',
    name,
    oids: [`2.16.840.1.101.3.4.2.${arc}`],
    legacy: false,
    implementation: 'node:crypto',
    size,
    hash: (data: Uint8Array) => new Uint8Array(createHash(node, { outputLength: size }).update(data).digest()),
  });
export const SHAKE128 = shake('SHAKE128', 'shake128', 11, 32);
export const SHAKE256 = shake('SHAKE256', 'shake256', 12, 64);

/** node:crypto's name for each SHA digest, for the families that sign through node:crypto (RSA, ECDSA). */
export const NODE_DIGEST: Readonly<Record<ShaName, string>> = Object.freeze({
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
});

/** The node:crypto name of a SHA digest, or undefined for SHAKE (never used with RSA/ECDSA). */
export const nodeSha = (d: DigestName): string | undefined => (d in NODE_DIGEST ? NODE_DIGEST[d as ShaName] : undefined);
