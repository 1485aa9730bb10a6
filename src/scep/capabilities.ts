/**
 * GetCACaps (RFC 8894 §3.5.2), computed from what this server really supports and enforces:
 * the keywords of the enabled algorithms (AES, DES3, SHA-*), the post-quantum signature
 * algorithms it verifies (ML-DSA-65, SLH-DSA-SHA2-128S, ...) and the KEMs its RA certificates
 * receive with (ML-KEM-768, ...; docs/pqc-scep.md §2), plus the protocol features. Never a
 * fixed string: turning legacy algorithms off removes DES3 and SHA-1. RFC 8894 clients ignore
 * keywords they do not know.
 * @module
 */
import { spkiAlgorithmOid } from '../cms/signed-data.ts';
import type { Registry } from '../crypto/registry.ts';
import type { AlgorithmPolicy } from './env.ts';

export function capabilities(registry: Registry, policy: AlgorithmPolicy, features: { nextCaCert: boolean; raKeys: readonly Uint8Array[] }): string[] {
  const keywords = new Set<string>(['POSTPKIOperation', 'Renewal']);
  if (features.nextCaCert) keywords.add('GetNextCACert');
  const allowed = { digest: policy.digests, cipher: policy.ciphers, signature: policy.signatures } as const;
  for (const kind of ['digest', 'cipher', 'signature'] as const) {
    for (const alg of registry.list(kind)) if (alg.capability && allowed[kind].has(alg.name)) keywords.add(alg.capability);
  }
  const raKeyOids = new Set(features.raKeys.map(spkiAlgorithmOid));
  for (const kem of registry.list('kem')) if (kem.capability && raKeyOids.has(kem.keyOid)) keywords.add(kem.capability);
  // RFC 8894 §3.5.2: SCEPStandard means AES, POSTPKIOperation and SHA-256 are all supported.
  if (keywords.has('AES') && keywords.has('SHA-256')) keywords.add('SCEPStandard');
  const order = ['AES', 'DES3', 'GetNextCACert', 'POSTPKIOperation', 'Renewal', 'SCEPStandard', 'SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'];
  return [...keywords].sort((a, b) => rank(order, a) - rank(order, b) || a.localeCompare(b));
}

const rank = (order: string[], k: string) => (order.includes(k) ? order.indexOf(k) : order.length);
