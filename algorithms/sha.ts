/**
 * Digests: SHA-1 (legacy, RFC 3370 §2.1) and SHA-2 (RFC 5754 §2), through node:crypto.
 * SHA-1 exists only because micromdm's scepclient signs with it whatever GetCACaps says; it is
 * off unless legacy algorithms are allowed. AlgorithmIdentifier parameters are absent (RFC 5754 §2).
 * @module
 */
import { createHash } from 'node:crypto';
import type { Digest, DigestName } from '../src/crypto/types.ts';

const digest = (name: DigestName, node: string, oid: string, size: number, legacy = false): Digest =>
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

/** node:crypto's name for each digest, for the families that sign through node:crypto. */
export const NODE_DIGEST: Readonly<Record<DigestName, string>> = Object.freeze({
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
});
