/**
 * ECDSA (FIPS 186-5 §6) on P-256 / P-384 through algorithms/ecdsa.ts: algorithm identifiers
 * (RFC 5758 §3.2: parameters absent), key types (RFC 5480 §2.1.1: named curves only), one
 * known answer (RFC 6979 §A.2.5, verified: node's ECDSA signing is randomised), and
 * cross-checks against implementations we did not write: @noble/curves both ways, and the
 * OpenSSL CLI (`openssl dgst -sign/-verify`, `openssl req -new -newkey ec`) both ways.
 * Negative cases: any malformed signature, key or curve → verify returns false, never throws.
 * Leaves out: X.509 certificate signing (rfc5280-issuance.test.ts), CMS SignerInfo.
 * OpenSSL tests are skipped, with the reason in the title, when no `openssl` is on PATH.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, ECDH, generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256, p384 } from '@noble/curves/nist.js';
import { ECDSASigValue, ECParameters } from '@peculiar/asn1-ecc';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ALGORITHMS } from '../algorithms/index.ts';
import { ECDH_P256, ECDH_P384, ECDSA_P256, ECDSA_P384, ECDSA_WITH_SHA256, ECDSA_WITH_SHA384, ECDSA_WITH_SHA512 } from '../algorithms/ecdsa.ts';
import { CsrError, parseCsr, verifyCsr } from '../src/ca/csr.ts';
import { fromPem, toPem } from '../src/ca/pem.ts';
import { createRegistry } from '../src/crypto/registry.ts';
import type { Algorithm, DigestName, KeyType, PrivateKeyHandle, SignatureAlgorithm } from '../src/crypto/types.ts';

const OURS: readonly Algorithm[] = [ECDSA_P256, ECDSA_P384, ECDH_P256, ECDH_P384, ECDSA_WITH_SHA256, ECDSA_WITH_SHA384, ECDSA_WITH_SHA512];
/** ALGORITHMS plus ours (without duplicates, in case algorithms/index.ts already lists them). */
const registry = createRegistry([...ALGORITHMS.filter((a) => !OURS.includes(a)), ...OURS]);

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const spkiDer = (key: KeyObject | Parameters<typeof createPublicKey>[0]) =>
  new Uint8Array((key instanceof KeyObject && key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' }));
const nodeSpki = (curve: string) => spkiDer(generateKeyPairSync('ec', { namedCurve: curve }).publicKey);
const rsaSpki = () => spkiDer(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
const pkcs8Of = (curve: string) => new Uint8Array(generateKeyPairSync('ec', { namedCurve: curve }).privateKey.export({ type: 'pkcs8', format: 'der' }));
/** DER INTEGER contents: a leading zero when the high bit is set (asn1-schema does not add it). */
const derInt = (b: Uint8Array) => new Uint8Array(b[0] & 0x80 ? [0, ...b] : b).buffer;
/** An id-ecPublicKey SPKI on `curveOid` carrying `point` as is (any encoding, valid or not). */
const spkiWithPoint = (curveOid: string, point: Uint8Array) =>
  new Uint8Array(AsnConvert.serialize(new SubjectPublicKeyInfo({
    algorithm: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.2.1', parameters: AsnConvert.serialize(new ECParameters({ namedCurve: curveOid })) }),
    subjectPublicKey: point.slice().buffer,
  })));
const pointOf = (spki: Uint8Array) => new Uint8Array(AsnConvert.parse(spki, SubjectPublicKeyInfo).subjectPublicKey);
const P256_OID = '1.2.840.10045.3.1.7';
const randomScalar = () => new Uint8Array(Buffer.from(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'jwk' }).d!, 'base64url'));
const sigValue = (r: Uint8Array, s: Uint8Array) => new Uint8Array(AsnConvert.serialize(new ECDSASigValue({ r: derInt(r), s: derInt(s) })));

describe('RFC 5758 §3.2 / FIPS 186-5: ECDSA algorithm identifiers', () => {
  const rows: [string, SignatureAlgorithm, string, DigestName][] = [
    ['ecdsa-with-SHA256', ECDSA_WITH_SHA256, '1.2.840.10045.4.3.2', 'SHA-256'],
    ['ecdsa-with-SHA384', ECDSA_WITH_SHA384, '1.2.840.10045.4.3.3', 'SHA-384'],
    ['ecdsa-with-SHA512', ECDSA_WITH_SHA512, '1.2.840.10045.4.3.4', 'SHA-512'],
  ];
  it.each(rows)('%s: OID, fixed digest, parameters absent, key id-ecPublicKey', (name, alg, oid, digest) => {
    expect(alg).toMatchObject({ kind: 'signature', name, oids: [oid], digest, parameters: 'absent', keyOid: '1.2.840.10045.2.1', quantumSafe: false, legacy: false });
    expect(registry.byOid('signature', oid)).toBe(alg);
    expect(Object.isFrozen(alg)).toBe(true);
  });
});

describe('RFC 5480 §2.1.1: EC key types on named curves', () => {
  const p256Spki = nodeSpki('prime256v1');
  const p384Spki = nodeSpki('secp384r1');

  it('declares usages, OID and backend', () => {
    expect(ECDSA_P256).toMatchObject({ kind: 'key', name: 'ecdsa-p256', spkiOid: '1.2.840.10045.2.1', usages: ['sign', 'agree'], quantumSafe: false, backend: 'node:crypto', oids: [] });
    expect(ECDSA_P384).toMatchObject({ name: 'ecdsa-p384', usages: ['sign', 'agree'] });
    expect(ECDH_P256).toMatchObject({ name: 'ecdh-p256', usages: ['agree'], spkiOid: '1.2.840.10045.2.1' });
    expect(ECDH_P384).toMatchObject({ name: 'ecdh-p384', usages: ['agree'] });
  });

  const spkis: [string, () => Uint8Array, string[]][] = [
    ['P-256', () => p256Spki, ['ecdsa-p256']],
    ['P-384', () => p384Spki, ['ecdsa-p384']],
    ['P-521', () => nodeSpki('secp521r1'), []],
    ['secp256k1', () => nodeSpki('secp256k1'), []],
    ['RSA-2048', rsaSpki, []],
    ['garbage', () => randomBytes(91), []],
    ['empty', () => new Uint8Array(0), []],
  ];
  it.each(spkis)('which EC key types match an SPKI on %s (ecdh-* never do)', (_, spki, names) => {
    const s = spki();
    expect([ECDSA_P256, ECDSA_P384, ECDH_P256, ECDH_P384].filter((k) => k.matches(s)).map((k) => k.name)).toEqual(names);
  });

  it('an SPKI lookup finds ecdsa-* whatever the list order', () => {
    for (const order of [[ECDH_P256, ECDSA_P256], [ECDSA_P256, ECDH_P256]] as KeyType[][]) {
      const reg = createRegistry([...order, ECDH_P384, ECDSA_P384]);
      expect(reg.list('key').find((k) => k.matches(p256Spki))?.name).toBe('ecdsa-p256');
      expect(reg.list('key').find((k) => k.matches(p384Spki))?.name).toBe('ecdsa-p384');
    }
  });

  it('an SPKI whose point is not on the curve matches nothing', () => {
    const bad = p256Spki.slice();
    bad[bad.length - 1] ^= 0x01; // last byte of y
    expect(ECDSA_P256.matches(bad)).toBe(false);
  });

  // Regression: Node 20 / OpenSSL 3.0 load an SPKI holding the point at infinity, then abort the
  // process (C++ CHECK) on asymmetricKeyDetails. A CSR carrying one must be rejected, not crash us.
  it('SEC 1 §2.3.3 point encodings: compressed accepted; infinity, hybrid, wrong length rejected without crashing', () => {
    const point = pointOf(p256Spki);
    const compressed = new Uint8Array(ECDH.convertKey(point, 'prime256v1', undefined, undefined, 'compressed') as Buffer);
    expect(ECDSA_P256.matches(spkiWithPoint(P256_OID, compressed))).toBe(true);
    const hybrid = point.slice();
    hybrid[0] = 0x06 | (point[64] & 1);
    for (const bad of [new Uint8Array([0]), new Uint8Array(0), hybrid, point.slice(0, 64), new Uint8Array([...point, 0]), compressed.slice(0, 32)])
      expect(ECDSA_P256.matches(spkiWithPoint(P256_OID, bad))).toBe(false);
  });

  it.each([ECDSA_P256, ECDSA_P384, ECDH_P256, ECDH_P384])('$name: generate → exportPkcs8 → importPkcs8 keeps the key', async (type) => {
    const key = await type.generate();
    expect(key.keyType).toBe(type.name);
    const again = type.importPkcs8(type.exportPkcs8(key));
    expect(again.keyType).toBe(type.name);
    expect(Buffer.from(again.spki).equals(Buffer.from(key.spki))).toBe(true);
    if (type.usages.includes('sign')) expect(type.matches(key.spki)).toBe(true);
  });

  // Hand-built PKCS#8 (RFC 5958) around an ECPrivateKey (RFC 5915 §3) on P-256.
  const tlv = (tag: number, ...parts: Uint8Array[]) => {
    const body = Buffer.concat(parts);
    return new Uint8Array([tag, ...(body.length < 128 ? [body.length] : [0x81, body.length]), ...body]);
  };
  const p256Pkcs8 = (d: Uint8Array, publicKey?: Uint8Array) =>
    tlv(0x30, hex('020100'), hex('301306072a8648ce3d020106082a8648ce3d030107'),
      tlv(0x04, tlv(0x30, hex('020101'), tlv(0x04, d), ...(publicKey ? [tlv(0xa1, tlv(0x03, new Uint8Array([0]), publicKey))] : []))));
  const P256_N = hex('FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551'); // group order n (FIPS 186-5 / SP 800-186 §3.2.1.3)

  it('a hand-built PKCS#8 without the optional publicKey imports, with the public key derived from d', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const d = new Uint8Array(Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url'));
    expect(Buffer.from(ECDSA_P256.importPkcs8(p256Pkcs8(d)).spki).equals(Buffer.from(spkiDer(publicKey)))).toBe(true);
    expect(ECDSA_P256.importPkcs8(p256Pkcs8(d, pointOf(spkiDer(publicKey)))).keyType).toBe('ecdsa-p256');
  });

  // Regression: the point at infinity in the PKCS#8 would abort node:crypto on asymmetricKeyDetails.
  it.each([
    ['publicKey = point at infinity', () => p256Pkcs8(randomScalar(), new Uint8Array([0]))],
    ['d = 0', () => p256Pkcs8(new Uint8Array(32))],
    ['d = n', () => p256Pkcs8(P256_N)],
    ['publicKey of another key', () => p256Pkcs8(randomScalar(), pointOf(nodeSpki('prime256v1')))],
    ['publicKey off the curve', () => p256Pkcs8(randomScalar(), flip(pointOf(nodeSpki('prime256v1')), 64))],
  ] as const)('importPkcs8 rejects a PKCS#8 with %s (RangeError, no crash)', (_, der) => {
    expect(() => ECDSA_P256.importPkcs8(der())).toThrow(RangeError);
  });

  it.each([
    ['P-384 into ecdsa-p256', ECDSA_P256, () => pkcs8Of('secp384r1')],
    ['P-256 into ecdsa-p384', ECDSA_P384, () => pkcs8Of('prime256v1')],
    ['P-521 into ecdsa-p256', ECDSA_P256, () => pkcs8Of('secp521r1')],
    ['secp256k1 into ecdh-p256', ECDH_P256, () => pkcs8Of('secp256k1')],
    ['RSA into ecdsa-p384', ECDSA_P384, () => new Uint8Array(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'der' }))],
  ] as const)('importPkcs8 rejects %s with RangeError', (_, type, der) => {
    expect(() => type.importPkcs8(der())).toThrow(RangeError);
  });
});

describe('RFC 6979 §A.2.5 known answer (P-256, SHA-256, "sample")', () => {
  // Public key U and signature (r, s) from RFC 6979 §A.2.5; verification only (our signing is randomised).
  const spki = spkiDer({
    format: 'jwk',
    key: { kty: 'EC', crv: 'P-256', x: Buffer.from(hex('60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6')).toString('base64url'), y: Buffer.from(hex('7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299')).toString('base64url') },
  });
  const sig = sigValue(hex('EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716'), hex('F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8'));
  const sample = new TextEncoder().encode('sample');

  it('verifies', () => expect(ECDSA_WITH_SHA256.verify(sig, sample, spki, 'SHA-256')).toBe(true));
  it('fails for another message, another digest, or the same (r, s) as raw r‖s', () => {
    expect(ECDSA_WITH_SHA256.verify(sig, new TextEncoder().encode('test'), spki, 'SHA-256')).toBe(false);
    expect(ECDSA_WITH_SHA384.verify(sig, sample, spki, 'SHA-384')).toBe(false);
    const raw = hex('EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8');
    expect(ECDSA_WITH_SHA256.verify(raw, sample, spki, 'SHA-256')).toBe(false); // IEEE P1363 form is not ECDSA-Sig-Value
  });
});

describe('verify never throws on bad input (→ false)', () => {
  let key: PrivateKeyHandle;
  let sig: Uint8Array;
  const data = randomBytes(100);
  beforeAll(async () => {
    key = await ECDSA_P256.generate();
    sig = await ECDSA_WITH_SHA256.sign(data, key, 'SHA-256');
  });

  it('accepts the untouched signature', () => expect(ECDSA_WITH_SHA256.verify(sig, data, key.spki, 'SHA-256')).toBe(true));
  const mutations: [string, (s: Uint8Array, spki: Uint8Array) => [Uint8Array, Uint8Array]][] = [
    ['empty signature', (_, k) => [new Uint8Array(0), k]],
    ['random signature', (_, k) => [randomBytes(70), k]],
    ['truncated signature', (s, k) => [s.slice(0, s.length - 1), k]],
    ['trailing byte after the signature', (s, k) => [new Uint8Array([...s, 0]), k]],
    ['bit flip in r', (s, k) => [flip(s, 6), k]],
    ['r = 0, s = 0', (_, k) => [sigValue(new Uint8Array([0]), new Uint8Array([0])), k]],
    ['empty SPKI', (s) => [s, new Uint8Array(0)]],
    ['garbage SPKI', (s) => [s, randomBytes(91)]],
    ['RSA SPKI', (s) => [s, rsaSpki()]],
    ['P-521 SPKI', (s) => [s, nodeSpki('secp521r1')]],
    ['SPKI point off the curve', (s, k) => [s, flip(k, k.length - 1)]],
    ['SPKI point at infinity (would abort node:crypto)', (s) => [s, spkiWithPoint(P256_OID, new Uint8Array([0]))]],
  ];
  it.each(mutations)('%s', (_, mutate) => {
    const [s, spki] = mutate(sig, key.spki);
    for (const alg of [ECDSA_WITH_SHA256, ECDSA_WITH_SHA384, ECDSA_WITH_SHA512]) expect(alg.verify(s, data, spki, alg.digest!)).toBe(false);
  });
  it('signing with a non-EC key is a TypeError (programmer misuse)', async () => {
    const rsa = { keyType: 'rsa-2048', spki: rsaSpki(), native: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey };
    await expect(ECDSA_WITH_SHA256.sign(data, rsa, 'SHA-256')).rejects.toThrow(TypeError);
  });
});

function flip(b: Uint8Array, at: number): Uint8Array {
  const out = b.slice();
  out[at] ^= 0x01;
  return out;
}

describe('cross-check with @noble/curves (both directions)', () => {
  const NOBLE = { 'ecdsa-p256': p256, 'ecdsa-p384': p384 } as const;
  const cases = [ECDSA_P256, ECDSA_P384].flatMap((type) => [ECDSA_WITH_SHA256, ECDSA_WITH_SHA384, ECDSA_WITH_SHA512].map((alg) => [type.name, alg.name, type, alg] as const));
  it.each(cases)('%s with %s', async (_, __, type, alg) => {
    const curve = NOBLE[type.name as keyof typeof NOBLE];
    const key = await type.generate();
    const jwk = key.native!.export({ format: 'jwk' });
    const d = new Uint8Array(Buffer.from(jwk.d!, 'base64url'));
    const point = new Uint8Array([4, ...Buffer.from(jwk.x!, 'base64url'), ...Buffer.from(jwk.y!, 'base64url')]);
    const data = randomBytes(200);
    const digest = new Uint8Array(createHash(alg.digest!.replace('-', '').toLowerCase()).update(data).digest());
    // ours → noble
    const ours = await alg.sign(data, key, alg.digest!);
    expect(curve.verify(ours, digest, point, { prehash: false, format: 'der', lowS: false })).toBe(true);
    // noble → ours
    const theirs = curve.sign(digest, d, { prehash: false, format: 'der' });
    expect(alg.verify(theirs, data, key.spki, alg.digest!)).toBe(true);
    expect(alg.verify(theirs, randomBytes(200), key.spki, alg.digest!)).toBe(false);
  });
});

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}
const OPENSSL = hasOpenssl();
const NO_OPENSSL = ' (skipped: no `openssl` on PATH)';

describe.skipIf(!OPENSSL)(`cross-check with the OpenSSL CLI${OPENSSL ? '' : NO_OPENSSL}`, () => {
  let dir = '';
  const path = (name: string) => join(dir, name);
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const CURVES = [['P-256', ECDSA_P256], ['P-384', ECDSA_P384]] as const;
  const DIGESTS = [['sha256', ECDSA_WITH_SHA256], ['sha384', ECDSA_WITH_SHA384], ['sha512', ECDSA_WITH_SHA512]] as const;
  const matrix = CURVES.flatMap(([curve, type]) => DIGESTS.map(([md, alg]) => [curve, md, type, alg] as const));
  const data = randomBytes(333);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pqscep-fips186-'));
    writeFileSync(path('data.bin'), data);
    for (const [curve] of CURVES) {
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', `${curve}.key`]);
      openssl(['pkey', '-in', `${curve}.key`, '-pubout', '-out', `${curve}.pub`]);
    }
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const keyOf = (curve: string, type: KeyType) => type.importPkcs8(fromPem(readFileSync(path(`${curve}.key`), 'utf8'))[0].der);

  it.each(matrix)('%s %s: our signature verifies with `openssl dgst -verify`', async (curve, md, type, alg) => {
    const sig = await alg.sign(data, keyOf(curve, type), alg.digest!);
    writeFileSync(path(`ours-${curve}-${md}.sig`), sig);
    expect(openssl([`dgst`, `-${md}`, '-verify', `${curve}.pub`, '-signature', `ours-${curve}-${md}.sig`, 'data.bin']).toString()).toMatch(/Verified OK/);
  });

  it.each(matrix)('%s %s: `openssl dgst -sign` verifies with ours', (curve, md, type, alg) => {
    const sig = new Uint8Array(openssl(['dgst', `-${md}`, '-sign', `${curve}.key`, 'data.bin']));
    const spki = keyOf(curve, type).spki;
    expect(alg.verify(sig, data, spki, alg.digest!)).toBe(true);
    expect(alg.verify(sig, randomBytes(333), spki, alg.digest!)).toBe(false);
  });

  it.each(matrix)('%s %s: a CSR from `openssl req -new -newkey ec` passes verifyCsr', (curve, md) => {
    const der = new Uint8Array(openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-nodes', '-keyout', `csr-${curve}-${md}.key`, `-${md}`, '-subj', '/CN=ecdsa device', '-outform', 'DER']));
    const csr = parseCsr(der);
    expect(() => verifyCsr(csr, registry)).not.toThrow();
    expect(registry.list('key').find((k) => k.matches(csr.spki))?.name).toBe(curve === 'P-256' ? 'ecdsa-p256' : 'ecdsa-p384');
    // Tampered certificationRequestInfo (a byte of the subject) → badSignature.
    const at = Buffer.from(der).indexOf(Buffer.from('ecdsa device'));
    const tampered = der.slice();
    tampered[at] ^= 0x20;
    expect(() => verifyCsr(parseCsr(tampered), registry)).toThrow(expect.objectContaining({ failure: 'badSignature' }));
  });

  it('a CSR on P-521 does not verify (unsupported curve), and throws only CsrError', () => {
    const der = new Uint8Array(openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521', '-nodes', '-keyout', 'p521.key', '-sha512', '-subj', '/CN=p521', '-outform', 'DER']));
    expect(() => verifyCsr(parseCsr(der), registry)).toThrow(CsrError);
  });

  it('a key we generate is read by OpenSSL as the same key', async () => {
    const key = await ECDSA_P384.generate();
    writeFileSync(path('ours.key'), toPem('PRIVATE KEY', ECDSA_P384.exportPkcs8(key)));
    const spki = new Uint8Array(openssl(['pkey', '-in', 'ours.key', '-pubout', '-outform', 'DER']));
    expect(Buffer.from(spki).equals(Buffer.from(key.spki))).toBe(true);
    expect(openssl(['pkey', '-in', 'ours.key', '-text', '-noout']).toString()).toMatch(/NIST CURVE: P-384/);
  });
});
