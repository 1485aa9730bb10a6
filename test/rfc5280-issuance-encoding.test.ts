/**
 * RFC 5280 §4.1 issuance encodes some parts once and splices them in as DER (src/ca/issuer.ts
 * shared extensions, certificate.ts pre-encoded subject, key, algorithm and extensions): the
 * certificate's DER must still be exactly the encoding of the certificate object, whatever was
 * spliced, for keys of several types, an empty subject, a BER-encoded request subject (re-encoded
 * as DER, RFC 5280 §4.1.2.6), and policies issued in turn (shared parts must not leak between them).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, ExtendedKeyUsage, id_ce_cRLDistributionPoints, id_ce_extKeyUsage } from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { ALGORITHMS } from '../algorithms/index.ts';
import { createRegistry } from '../src/crypto/registry.ts';
import { loadOrCreateCa, type CaFiles } from '../src/ca/bootstrap.ts';
import { verifyCertificateSignature } from '../src/ca/certificate.ts';
import { parseCsr } from '../src/ca/csr.ts';
import { DEFAULT_EXTENDED_KEY_USAGE, issueCertificate, type IssuancePolicy } from '../src/ca/issuer.ts';
import { buildCsr } from '../src/client/csr.ts';
import { serialize } from '../src/cms/der.ts';
import { derLength } from './helpers/der-mutator.ts';

const registry = createRegistry(ALGORITHMS);
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
const tlv = (tag: number, content: Uint8Array): Uint8Array => concat(Uint8Array.of(tag), derLength(content.length), content);
const dir = mkdtempSync(join(tmpdir(), 'pqscep-enc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const POLICIES: readonly IssuancePolicy[] = [
  { validityDays: 30, extendedKeyUsage: DEFAULT_EXTENDED_KEY_USAGE, crlDistributionPoint: 'http://pki.example/ca.crl' },
  { validityDays: 30, extendedKeyUsage: [] },
  { validityDays: 30, extendedKeyUsage: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], crlDistributionPoint: 'http://other.example/x.crl' },
];

/** The request with its subject's length in the long form (X.690 §8.1.3.5: BER, not DER); only lengths change. */
function berSubject(der: Uint8Array): Uint8Array {
  const tree = asn1js.fromBER(der).result as asn1js.Sequence;
  const raw = (n: asn1js.AsnType) => new Uint8Array(n.valueBeforeDecodeView);
  const info: Uint8Array[] = (tree.valueBlock.value[0] as asn1js.Sequence).valueBlock.value.map(raw);
  expect(info[1][1]).toBeLessThan(0x80);
  info[1] = concat(Uint8Array.of(0x30, 0x81), info[1].subarray(1));
  return tlv(0x30, concat(tlv(0x30, concat(...info)), raw(tree.valueBlock.value[1]), raw(tree.valueBlock.value[2])));
}

describe('RFC 5280 §4.1: issued DER is the encoding of the issued certificate', () => {
  let ca: CaFiles['ca'];
  const requests = new Map<string, Uint8Array>();
  beforeAll(async () => {
    ({ ca } = await loadOrCreateCa(join(dir, 'data'), registry));
    for (const [name, keyType, subject, sans] of [
      ['rsa-2048', 'rsa-2048', 'CN=dev1,O=Acme+OU=Ops', ['DNS:dev1.example', 'IP:10.0.0.1']],
      ['ecdh-p256, empty subject', 'ecdh-p256', '', ['DNS:kex.example']],
      ['ml-dsa-44', 'ml-dsa-44', 'CN=pq', []],
    ] as const) {
      const key = await registry.byName('key', keyType).generate();
      const csr = await buildCsr({ subject, key, sans: [...sans], ...(keyType === 'ecdh-p256' ? {} : { challenge: 'pw' }) }, registry).catch(() => undefined);
      if (csr) requests.set(name, csr);
    }
    requests.set('rsa-2048, BER subject', berSubject(requests.get('rsa-2048')!));
  });

  it('for each request and policy, issued twice: same DER, equal to serialising the certificate', async () => {
    expect(requests.size).toBeGreaterThanOrEqual(3);
    const now = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    for (const [name, der] of requests) {
      for (const policy of POLICIES) {
        // A fresh parse each time, as for a request received twice; RSA PKCS#1 v1.5 signatures are deterministic.
        const first = await issueCertificate(parseCsr(der.slice()), ca, policy, registry, Uint8Array.of(0x42), now);
        const again = await issueCertificate(parseCsr(der.slice()), ca, policy, registry, Uint8Array.of(0x42), now);
        expect(Buffer.from(again.der).equals(Buffer.from(first.der)), name).toBe(true);
        expect(Buffer.from(serialize(first.certificate)).equals(Buffer.from(first.der)), name).toBe(true);

        const parsed = AsnConvert.parse(first.der, Certificate);
        expect(verifyCertificateSignature(parsed, ca.key.spki, registry), name).toBe(true);
        expect(Buffer.from(serialize(parsed.tbsCertificate.subject)).equals(Buffer.from(serialize(parseCsr(der.slice()).subject))), name).toBe(true);
        const exts = parsed.tbsCertificate.extensions ?? [];
        const eku = exts.find((e) => e.extnID === id_ce_extKeyUsage);
        expect(eku ? [...AsnConvert.parse(eku.extnValue, ExtendedKeyUsage)] : [], name).toEqual([...policy.extendedKeyUsage]);
        expect(exts.some((e) => e.extnID === id_ce_cRLDistributionPoints), name).toBe(policy.crlDistributionPoint !== undefined);
      }
    }
  });

  it('a BER request subject is issued as the DER the plain request gets', async () => {
    const now = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const [plain, ber] = await Promise.all(['rsa-2048', 'rsa-2048, BER subject'].map((n) =>
      issueCertificate(parseCsr(requests.get(n)!.slice()), ca, POLICIES[0], registry, Uint8Array.of(0x42), now)));
    expect(Buffer.from(requests.get('rsa-2048, BER subject')!).equals(Buffer.from(requests.get('rsa-2048')!))).toBe(false);
    expect(Buffer.from(ber.der).equals(Buffer.from(plain.der))).toBe(true);
  });
});
