/**
 * RFC 2986 PKCS#10 parsing and proof of possession (src/ca/csr.ts), against requests made by the
 * OpenSSL CLI at test time (challengePassword RFC 2985 §5.4.1, extensionRequest §5.4.2), plus one
 * hand-built request with smimeCapabilities (RFC 8551 §2.5.2) and a BER-encoded
 * certificationRequestInfo, to show the signature is checked over the bytes as received.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attributes, CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { ChallengePassword, SMIMECapabilities, SMIMECapability } from '@peculiar/asn1-pkcs9';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Attribute, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { ALGORITHMS } from '../algorithms/index.ts';
import { createRegistry } from '../src/crypto/registry.ts';
import * as asn1js from 'asn1js';
import { CsrError, parseCsr, verifyCsr } from '../src/ca/csr.ts';
import { buildCsr } from '../src/client/csr.ts';
import { parseName } from '../src/ca/certificate.ts';
import { fromPem } from '../src/ca/pem.ts';
import { id_challengePassword, id_smimeCapabilities } from '../src/cms/oids.ts';

const registry = createRegistry(ALGORITHMS);
const dir = mkdtempSync(join(tmpdir(), 'pqscep-csr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

const CONFIG = `
[req]
distinguished_name = dn
attributes = attrs
prompt = no
[dn]
CN = dev1
O = Acme
[attrs]
challengePassword = s3cret-Pass
`;
const SAN = 'subjectAltName=DNS:a.example,IP:10.0.0.1,email:x@example.com,URI:https://u.example';

/** A CSR from the OpenSSL CLI; the subject is /CN=dev1/O=Acme (set in the config, since -subj drops config attributes). */
function opensslCsr(name: string, extra: string[] = []): Uint8Array {
  writeFileSync(join(dir, 'req.cnf'), CONFIG);
  openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-config', 'req.cnf',
    '-addext', SAN, '-addext', 'keyUsage=critical,digitalSignature', '-outform', 'DER', '-out', `${name}.der`, ...extra);
  return new Uint8Array(readFileSync(join(dir, `${name}.der`)));
}

const failureOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    if (err instanceof CsrError) return err.failure;
    throw err;
  }
  return undefined;
};

describe('RFC 2986 CSR from the OpenSSL CLI', () => {
  let der: Uint8Array;
  beforeAll(() => {
    der = opensslCsr('dev1');
  });

  it('reads subject (RFC 4514, as OpenSSL -nameopt RFC2253 prints it)', () => {
    const csr = parseCsr(der);
    const expected = openssl('req', '-inform', 'DER', '-in', 'dev1.der', '-noout', '-subject', '-nameopt', 'RFC2253').toString().trim();
    expect(expected).toBe('subject=O=Acme,CN=dev1');
    expect(csr.subjectString).toBe('O=Acme,CN=dev1');
    expect(csr.subject.length).toBe(2);
  });

  it('reads SANs, challengePassword and requested extensions', () => {
    const csr = parseCsr(der);
    expect(csr.sans).toEqual(['DNS:a.example', 'IP:10.0.0.1', 'email:x@example.com', 'URI:https://u.example']);
    expect(csr.challengePassword).toBe('s3cret-Pass');
    expect(csr.extensions.map((e) => e.extnID)).toEqual(['2.5.29.17', '2.5.29.15']);
    expect(csr.smimeCiphers).toEqual([]);
  });

  it('keeps the SubjectPublicKeyInfo verbatim (= openssl req -pubkey)', () => {
    const csr = parseCsr(der);
    const pem = openssl('req', '-inform', 'DER', '-in', 'dev1.der', '-noout', '-pubkey').toString();
    expect(Buffer.from(csr.spki).equals(Buffer.from(fromPem(pem)[0].der))).toBe(true);
    expect(Buffer.from(der).includes(Buffer.from(csr.certificationRequestInfo))).toBe(true);
  });

  it('verifies the self-signature (proof of possession)', () => {
    expect(() => verifyCsr(parseCsr(der), registry)).not.toThrow();
  });

  it('a flipped bit in the signature is badSignature', () => {
    const bad = der.slice();
    bad[bad.length - 1] ^= 0x01;
    expect(failureOf(() => verifyCsr(parseCsr(bad), registry))).toBe('badSignature');
  });

  it('a changed subject (signed bytes) is badSignature', () => {
    const bad = Buffer.from(der);
    const at = bad.indexOf('dev1');
    bad[at + 3] = '2'.charCodeAt(0);
    const csr = parseCsr(new Uint8Array(bad));
    expect(csr.subjectString).toBe('O=Acme,CN=dev2');
    expect(failureOf(() => verifyCsr(csr, registry))).toBe('badSignature');
  });

  it('garbage, truncation and trailing bytes are malformed', () => {
    expect(failureOf(() => parseCsr(new Uint8Array([1, 2, 3, 4])))).toBe('malformed');
    expect(failureOf(() => parseCsr(new Uint8Array(0)))).toBe('malformed');
    expect(failureOf(() => parseCsr(der.subarray(0, der.length - 10)))).toBe('malformed');
    expect(failureOf(() => parseCsr(new Uint8Array([...der, 0])))).toBe('malformed');
    const cert = fromPem(openssl('req', '-x509', '-key', 'dev1.key', '-subj', '/CN=x', '-days', '1').toString())[0].der;
    expect(failureOf(() => parseCsr(cert))).toBe('malformed');
  });

  it('a legacy signature algorithm (SHA-1) is badAlg unless legacy is allowed', () => {
    const sha1 = opensslCsr('sha1', ['-sha1']);
    const csr = parseCsr(sha1);
    expect(failureOf(() => verifyCsr(csr, registry))).toBe('badAlg');
    expect(() => verifyCsr(csr, createRegistry(ALGORITHMS, { allowLegacy: true }))).not.toThrow();
  });
});

/** DER TLV with a definite length (minimal unless `longForm` forces 3 length octets). */
function tlv(tag: number, content: Uint8Array, longForm = false): Uint8Array {
  const n = content.length;
  const len = longForm ? [0x83, 0, n >> 8, n & 0xff] : n < 128 ? [n] : n < 256 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return new Uint8Array([tag, ...len, ...content]);
}

describe('RFC 2986 CSR built by hand', () => {
  it('a subjectPKInfo whose NULL parameters are retagged UTCTime (read, but not writable as DER) is malformed, not a crash', async () => {
    const key = await registry.byName('key', 'rsa-2048').generate();
    const csr = await buildCsr({ subject: 'CN=retagged', key }, registry);
    const tree = asn1js.fromBER(csr).result as asn1js.Sequence;
    const info = tree.valueBlock.value[0] as asn1js.Sequence;
    const spki = info.valueBlock.value[2] as asn1js.Sequence; // version, subject, subjectPKInfo
    const alg = spki.valueBlock.value[0] as asn1js.Sequence;
    expect(alg.valueBlock.value[1]).toBeInstanceOf(asn1js.Null); // rsaEncryption: parameters NULL
    alg.valueBlock.value[1] = new asn1js.Primitive({ idBlock: { tagClass: 1, tagNumber: 23 } }); // UTCTime, no content
    expect(failureOf(() => parseCsr(new Uint8Array(tree.toBER())))).toBe('malformed');
  });


  it('reads smimeCapabilities and a UTF8String challenge, and verifies over BER bytes as received', async () => {
    const keyType = registry.byName('key', 'rsa-2048');
    const key = await keyType.generate();
    const sigAlg = registry.byName('signature', 'sha256WithRSAEncryption');
    const attr = (type: string, value: unknown) => new Attribute({ type, values: [AsnConvert.serialize(value)] });
    const info = new CertificationRequestInfo({
      version: 0,
      subject: parseName('CN=gerät,O=Acme\\, Inc.'),
      subjectPKInfo: AsnConvert.parse(key.spki, SubjectPublicKeyInfo),
      attributes: new Attributes([
        attr(id_challengePassword, new ChallengePassword({ utf8String: 'pässwörd' })),
        attr(id_smimeCapabilities, new SMIMECapabilities([
          new SMIMECapability({ algorithm: '2.16.840.1.101.3.4.1.42' }), new SMIMECapability({ algorithm: '2.16.840.1.101.3.4.1.2' }),
        ])),
      ]),
    });
    const dirDer = new Uint8Array(AsnConvert.serialize(info));
    // Same content, non-minimal length octets: valid BER, not DER. Re-encoding would change it.
    const berInfo = tlv(0x30, dirDer.subarray(dirDer[1] === 0x82 ? 4 : dirDer[1] === 0x81 ? 3 : 2), true);
    expect(Buffer.from(berInfo).equals(Buffer.from(dirDer))).toBe(false);
    const signature = await sigAlg.sign(berInfo, key, 'SHA-256');
    const algId = new Uint8Array(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: sigAlg.oids[0], parameters: null })));
    const der = tlv(0x30, new Uint8Array([...berInfo, ...algId, ...tlv(0x03, new Uint8Array([0, ...signature]))]));

    const csr = parseCsr(der);
    expect(csr.request).toBeInstanceOf(CertificationRequest);
    expect(Buffer.from(csr.certificationRequestInfo).equals(Buffer.from(berInfo))).toBe(true);
    expect(csr.subjectString).toBe('CN=gerät,O=Acme\\, Inc.'); // parseName → nameToString round trip
    expect(csr.challengePassword).toBe('pässwörd');
    expect(csr.smimeCiphers).toEqual(['2.16.840.1.101.3.4.1.42', '2.16.840.1.101.3.4.1.2']);
    expect(csr.sans).toEqual([]);
    expect(() => verifyCsr(csr, registry)).not.toThrow();
    // And OpenSSL agrees the signature is good over those bytes.
    writeFileSync(join(dir, 'ber.der'), der);
    const check = spawnSync('openssl', ['req', '-inform', 'DER', '-in', 'ber.der', '-noout', '-verify'], { cwd: dir, encoding: 'utf8' });
    expect(check.stderr).toMatch(/verify OK/);
  });
});
