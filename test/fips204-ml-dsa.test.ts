/**
 * ML-DSA (FIPS 204) through algorithms/ml-dsa.ts: RFC 9881 private key forms (§6) and their
 * consistency checks (§8.2, Appendix C.4), certificate signatures (§3), RFC 9882 SignedData, the
 * hackathon bc / ossl35 / cryptonext artifacts, malformed input, and a cross-check in both
 * directions with OpenSSL 3.5 (REFERENCE_NODE), including our module running there on its native
 * backend. In this process the noble backend is pinned, so every in-process check is the noble path.
 * Vectors: test/vectors/pqc (origins in its README.md).
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as asn1js from 'asn1js';
import { ALGORITHMS } from '../algorithms/index.ts';
import { ML_DSA_44, ML_DSA_44_KEY, ML_DSA_65, ML_DSA_65_KEY, ML_DSA_87, ML_DSA_87_KEY } from '../algorithms/ml-dsa.ts';
import { findSignerCertificate, parseSignedData, spkiOf, verifySignerInfo } from '../src/cms/signed-data.ts';
import { pqBackend, setPqBackend } from '../src/crypto/backend.ts';
import { decodeOneAsymmetricKey, encodeSpki } from '../src/crypto/pq-keys.ts';
import { createRegistry } from '../src/crypto/registry.ts';
import { UnsupportedAlgorithmError, type Algorithm } from '../src/crypto/types.ts';
import { REFERENCE_NODE, hasReferenceNode, referenceMissingReason } from './helpers/openssl35.ts';

setPqBackend('noble'); // the native backend is exercised inside REFERENCE_NODE below

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VECTORS = new URL('./vectors/pqc/', import.meta.url);
const file = (path: string) => new Uint8Array(readFileSync(new URL(path, VECTORS)));
const pem = (path: string) => new Uint8Array(Buffer.from(readFileSync(new URL(path, VECTORS), 'utf8').replace(/-----[^-]+-----/g, ''), 'base64'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const flip = (b: Uint8Array, i: number) => Uint8Array.from(b, (x, j) => (j === i ? x ^ 1 : x));

const LEVELS = [
  { level: 44, oid: '2.16.840.1.101.3.4.3.17', key: ML_DSA_44_KEY, alg: ML_DSA_44 },
  { level: 65, oid: '2.16.840.1.101.3.4.3.18', key: ML_DSA_65_KEY, alg: ML_DSA_65 },
  { level: 87, oid: '2.16.840.1.101.3.4.3.19', key: ML_DSA_87_KEY, alg: ML_DSA_87 },
] as const;
const byLevel = (level: number) => LEVELS.find((l) => l.level === level)!;
const OURS: Algorithm[] = [ML_DSA_44_KEY, ML_DSA_65_KEY, ML_DSA_87_KEY, ML_DSA_44, ML_DSA_65, ML_DSA_87];
const registry = createRegistry([...ALGORITHMS.filter((a) => !OURS.includes(a)), ...OURS]);

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }, with the tbsCertificate bytes as received. */
function certificate(der: Uint8Array) {
  const { result, offset } = asn1js.fromBER(der);
  if (offset === -1) throw new Error('not BER');
  const [tbs, alg, sig] = (result as asn1js.Sequence).valueBlock.value as [asn1js.Sequence, asn1js.Sequence, asn1js.BitString];
  const fields = tbs.valueBlock.value;
  const spki = fields[(fields[0].idBlock.tagClass === 3 ? 1 : 0) + 5]; // after [0] version, serial, signature, issuer, validity, subject
  return {
    tbs: new Uint8Array(tbs.valueBeforeDecodeView), // the signed bytes exactly as received, not re-serialised
    algorithm: (alg.valueBlock.value[0] as asn1js.ObjectIdentifier).valueBlock.toString(),
    parametersAbsent: alg.valueBlock.value.length === 1,
    signature: new Uint8Array(sig.valueBlock.valueHexView),
    unusedBits: sig.valueBlock.unusedBits,
    spki: new Uint8Array(spki.valueBeforeDecodeView),
  };
}

const FORMS = ['seed', 'expanded', 'both'] as const;
const HACKATHON = [
  { provider: 'bc', certs: 'hackathon/bc/artifacts_certs_r5/artifacts/', cms: 'hackathon/bc/artifacts_cms_v3/artifacts_cms_v3/', prefix: 'ml-dsa' },
  { provider: 'ossl35', certs: 'hackathon/ossl35/artifacts_certs_r5/', cms: 'hackathon/ossl35/artifacts_cms_v3/', prefix: 'ml-dsa' },
  { provider: 'cryptonext', certs: 'hackathon/cryptonext/artifacts_certs_r5/artifacts_certs_r5/', cms: 'hackathon/cryptonext/artifacts_cms_v3/artifacts_cms_v3/', prefix: 'ML-DSA' },
] as const;
const hackathonName = (h: (typeof HACKATHON)[number], level: number) => `${h.prefix}-${level}-${byLevel(level).oid}`;
const hackathonCases = HACKATHON.flatMap((h) => LEVELS.map(({ level }) => [h.provider, level, h] as const));

describe('RFC 9881 §6 private key formats (OneAsymmetricKey)', () => {
  const cases = LEVELS.flatMap((l) => FORMS.map((form) => [l.level, form] as const));
  it.each(cases)('ML-DSA-%i %s form imports and yields the SPKI of the RFC 9881 certificate', (level, form) => {
    const { key } = byLevel(level);
    const handle = key.importPkcs8(pem(`rfc/rfc9881-ML-DSA-${level}-${form}.priv`));
    expect(hex(handle.spki)).toBe(hex(pem(`rfc/rfc9881-ML-DSA-${level}.pub`)));
    expect(hex(handle.spki)).toBe(hex(certificate(pem(`rfc/rfc9881-ML-DSA-${level}.crt`)).spki));
    expect(key.matches(handle.spki)).toBe(true);
    // Export writes the seed when it is known (RFC 9881 §6 RECOMMENDED), else the expandedKey.
    const expected = form === 'expanded' ? 'expanded' : 'seed';
    expect(hex(key.exportPkcs8(handle))).toBe(hex(pem(`rfc/rfc9881-ML-DSA-${level}-${expected}.priv`)));
  });

  it.each([
    [1, 'both: seed and expandedKey disagree'],
    [2, 'expandedKey: tr does not match the public key'],
    [3, 'expandedKey: t0 does not match A·s1 + s2'],
  ])('rejects rfc9881-bad-ML-DSA-44-%i.priv (%s)', (n) => {
    expect(() => ML_DSA_44_KEY.importPkcs8(pem(`rfc/rfc9881-bad-ML-DSA-44-${n}.priv`))).toThrow(RangeError);
  });

  it('rejects a key of another parameter set, and malformed encodings, with RangeError', () => {
    const seed44 = pem('rfc/rfc9881-ML-DSA-44-seed.priv');
    expect(() => ML_DSA_65_KEY.importPkcs8(seed44)).toThrow(RangeError);
    expect(() => ML_DSA_44_KEY.importPkcs8(seed44.subarray(0, seed44.length - 1))).toThrow(RangeError);
    expect(() => ML_DSA_44_KEY.importPkcs8(new Uint8Array([0x30, 0x00]))).toThrow(RangeError);
    // privateKey holding a CHOICE tag that is none of 0x80 / 0x04 / 0x30 (here [1]); and a 31-byte seed.
    const withPrivateKey = (inner: number[]) => oneAsymmetricKey(0, '2.16.840.1.101.3.4.3.17', new Uint8Array(inner));
    expect(() => ML_DSA_44_KEY.importPkcs8(withPrivateKey([0x81, 0x20, ...new Array(32).fill(1)]))).toThrow(RangeError);
    expect(() => ML_DSA_44_KEY.importPkcs8(withPrivateKey([0x80, 0x1f, ...new Array(31).fill(1)]))).toThrow(RangeError);
  });

  it('checks the optional publicKey [1] of a v2 OneAsymmetricKey against the private key', () => {
    const { oid, privateKey } = decodeOneAsymmetricKey(pem('rfc/rfc9881-ML-DSA-44-seed.priv'));
    const pub = certificate(pem('rfc/rfc9881-ML-DSA-44.crt')).spki.subarray(-1312);
    expect(hex(ML_DSA_44_KEY.importPkcs8(oneAsymmetricKey(1, oid, privateKey, pub)).spki)).toBe(hex(encodeSpki(oid, pub)));
    expect(() => ML_DSA_44_KEY.importPkcs8(oneAsymmetricKey(1, oid, privateKey, flip(pub, 40)))).toThrow(RangeError);
  });

  it.each(hackathonCases.flatMap(([p, level, h]) => FORMS.map((form) => [p, level, form, h] as const)))(
    'hackathon %s ML-DSA-%i %s key matches its TA',
    (_p, level, form, h) => {
      const name = hackathonName(h, level);
      const handle = byLevel(level).key.importPkcs8(file(`${h.certs}${name}_${form === 'expanded' ? 'expandedkey' : form}_priv.der`));
      expect(hex(handle.spki)).toBe(hex(certificate(file(`${h.certs}${name}_ta.der`)).spki));
    },
  );
});

describe('RFC 9881 §3 certificate signatures over the received tbsCertificate', () => {
  const certs = [
    ...LEVELS.map((l) => [`RFC 9881 ML-DSA-${l.level}`, l.level, pem(`rfc/rfc9881-ML-DSA-${l.level}.crt`)] as const),
    ...hackathonCases.map(([p, level, h]) => [`hackathon ${p} ML-DSA-${level} TA`, level, file(`${h.certs}${hackathonName(h, level)}_ta.der`)] as const),
  ];
  it.each(certs)('%s verifies', (_name, level, der) => {
    const { alg, oid, key } = byLevel(level);
    const cert = certificate(der);
    expect(cert.algorithm).toBe(oid);
    expect(cert.parametersAbsent).toBe(true); // RFC 9881 §2: parameters MUST be absent
    expect(cert.unusedBits).toBe(0);
    expect(registry.byOid('signature', cert.algorithm)).toBe(alg);
    expect(alg.verify(cert.signature, cert.tbs, cert.spki, 'SHA-512')).toBe(true);
    expect(alg.verify(cert.signature, flip(cert.tbs, 100), cert.spki, 'SHA-512')).toBe(false);
    for (const other of LEVELS) expect(other.key.matches(cert.spki), `${other.key.name} matches`).toBe(other.key === key);
  });
});

describe('RFC 9882 SignedData with signed attributes', () => {
  it.each(LEVELS.map((l) => l.level))('RFC 9882 ML-DSA-%i example verifies with the RFC 9881 certificate key', (level) => {
    const sd = parseSignedData(pem(`rfc/rfc9882-mldsa${level}-signed-attrs.pem`));
    expect(sd.certificates).toHaveLength(0); // the examples do not embed the signer
    const spki = certificate(pem(`rfc/rfc9881-ML-DSA-${level}.crt`)).spki;
    const verified = verifySignerInfo(sd, sd.signedData.signerInfos[0], spki, registry);
    expect(verified.signature).toBe(byLevel(level).alg);
    expect(verified.digest.name).toBe('SHA-512');
  });

  it.each(hackathonCases)('hackathon %s ML-DSA-%i SignedData verifies with its embedded signer', (_p, level, h) => {
    const sd = parseSignedData(file(`${h.cms}${hackathonName(h, level)}_signed_attrs.der`));
    const signer = sd.signedData.signerInfos[0];
    const cert = findSignerCertificate(sd, signer)!;
    expect(verifySignerInfo(sd, signer, spkiOf(cert), registry).signature).toBe(byLevel(level).alg);
  });
});

describe('malformed input never verifies and never throws', () => {
  const cert = certificate(pem('rfc/rfc9881-ML-DSA-44.crt'));
  const { signature: sig, tbs, spki } = cert;
  const rawKey = spki.subarray(-1312);
  // [case, signature, message, SPKI, whether the SPKI is still a well-formed ML-DSA-44 key]
  const cases: [string, Uint8Array, Uint8Array, Uint8Array, boolean][] = [
    ['signature one byte short', sig.subarray(1), tbs, spki, true],
    ['signature one byte long', new Uint8Array([...sig, 0]), tbs, spki, true],
    ['empty signature', new Uint8Array(0), tbs, spki, true],
    ['flipped bit in the signature', flip(sig, 1000), tbs, spki, true],
    ['flipped bit in the message', sig, flip(tbs, 0), spki, true],
    ['flipped bit in the public key', sig, tbs, encodeSpki('2.16.840.1.101.3.4.3.17', flip(rawKey, 7)), true],
    ['public key one byte short', sig, tbs, encodeSpki('2.16.840.1.101.3.4.3.17', rawKey.subarray(1)), false],
    ['SPKI naming ML-DSA-65', sig, tbs, encodeSpki('2.16.840.1.101.3.4.3.18', rawKey), false],
    ['SPKI naming HashML-DSA-44', sig, tbs, encodeSpki('2.16.840.1.101.3.4.3.32', rawKey), false],
    ['SPKI with NULL parameters', sig, tbs, spkiWithNullParameters(spki), false],
    ['SPKI with trailing bytes', sig, tbs, new Uint8Array([...spki, 0]), false],
    ['SPKI that is not DER', sig, tbs, new Uint8Array([0x30, 0x80, 1, 2, 3]), false],
    ['empty SPKI', sig, tbs, new Uint8Array(0), false],
  ];
  it.each(cases)('%s → false', (_name, s, data, key, wellFormed) => {
    expect(ML_DSA_44.verify(s, data, key, 'SHA-512')).toBe(false);
    expect(ML_DSA_44_KEY.matches(key)).toBe(wellFormed);
  });

  it('an RSA SPKI is neither matched nor verified', async () => {
    const rsa = registry.byName('key', 'rsa-2048');
    const handle = await rsa.generate();
    expect(ML_DSA_44_KEY.matches(handle.spki)).toBe(false);
    expect(ML_DSA_44.verify(sig, tbs, handle.spki, 'SHA-512')).toBe(false);
  });

  it('an ML-DSA-44 signature checked as ML-DSA-65 (and -87) is false', () => {
    expect(ML_DSA_65.verify(sig, tbs, spki, 'SHA-512')).toBe(false);
    expect(ML_DSA_87.verify(sig, tbs, spki, 'SHA-512')).toBe(false);
  });

  it('HashML-DSA OIDs are unknown to the registry (RFC 9881 §8.3)', () => {
    for (const oid of ['2.16.840.1.101.3.4.3.32', '2.16.840.1.101.3.4.3.33', '2.16.840.1.101.3.4.3.34'])
      expect(() => registry.byOid('signature', oid)).toThrow(UnsupportedAlgorithmError);
  });

  it('signing with a key of another parameter set is a TypeError', async () => {
    const handle = ML_DSA_44_KEY.importPkcs8(pem('rfc/rfc9881-ML-DSA-44-seed.priv'));
    await expect(ML_DSA_65.sign(tbs, handle, 'SHA-512')).rejects.toThrow(TypeError);
    expect(() => ML_DSA_65_KEY.exportPkcs8(handle)).toThrow(TypeError);
  });
});

describe('registry entries', () => {
  it.each(LEVELS)('ML-DSA-$level: names, OIDs, capability, CMS digest, backend', ({ level, oid, key, alg }) => {
    expect(registry.byName('key', `ml-dsa-${level}`)).toBe(key);
    expect(registry.byName('signature', `ML-DSA-${level}`)).toBe(alg);
    expect(key).toMatchObject({ kind: 'key', oids: [], spkiOid: oid, usages: ['sign'], quantumSafe: true, legacy: false });
    expect(alg).toMatchObject({ kind: 'signature', oids: [oid], keyOid: oid, digest: null, parameters: 'absent', cmsDigest: 'SHA-512', quantumSafe: true, capability: `ML-DSA-${level}` });
    expect(pqBackend('ml-dsa')).toBe('noble');
    expect(key.backend).toBe('@noble/post-quantum');
    expect(Object.isFrozen(key) && Object.isFrozen(alg)).toBe(true);
  });

  it.each(LEVELS)('ML-DSA-$level: generate → sign → verify → PKCS#8 round trip (noble)', async ({ key, alg }) => {
    const handle = await key.generate();
    expect(handle.seed).toHaveLength(32);
    const data = new TextEncoder().encode('pqscep');
    const sig = await alg.sign(data, handle, 'SHA-512');
    expect(alg.verify(sig, data, handle.spki, 'SHA-512')).toBe(true);
    const der = key.exportPkcs8(handle);
    expect(der).toHaveLength(54); // seed form: 30 34 02 01 00 30 0b <oid> 04 22 80 20 <seed>
    const again = key.importPkcs8(der);
    expect(hex(again.spki)).toBe(hex(handle.spki));
    expect(alg.verify(await alg.sign(data, again, 'SHA-512'), data, handle.spki, 'SHA-512')).toBe(true);
  });
});

const skipReason = hasReferenceNode ? '' : ` (skipped: ${referenceMissingReason})`;

describe.skipIf(!hasReferenceNode)(`cross-check with OpenSSL 3.5 in REFERENCE_NODE${skipReason}`, () => {
  /** OpenSSL's side: verify and re-sign with our keys; make its own keys and signatures. */
  const OPENSSL = `
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
const input = JSON.parse(readFileSync(0, 'utf8'));
const b = (h) => Buffer.from(h, 'hex');
const der = (k, type) => k.export({ type, format: 'der' }).toString('hex');
const ours = input.ours.map(({ spki, pkcs8, sig, msg }) => {
  const pub = crypto.createPublicKey({ key: b(spki), format: 'der', type: 'spki' });
  const priv = crypto.createPrivateKey({ key: b(pkcs8), format: 'der', type: 'pkcs8' });
  return { type: pub.asymmetricKeyType, verified: crypto.verify(null, b(msg), pub, b(sig)),
    spkiOfPrivate: der(crypto.createPublicKey(priv), 'spki'), sig: crypto.sign(null, b(msg), priv).toString('hex') };
});
const theirs = input.types.map((type) => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync(type);
  const msg = crypto.randomBytes(333);
  return { type, spki: der(publicKey, 'spki'), pkcs8: der(privateKey, 'pkcs8'), msg: msg.toString('hex'), sig: crypto.sign(null, msg, privateKey).toString('hex') };
});
process.stdout.write(JSON.stringify({ openssl: process.versions.openssl, ours, theirs }));
`;

  it('our noble keys and signatures work in OpenSSL, and OpenSSL keys (seed PKCS#8) and signatures work here', async () => {
    const msg = new TextEncoder().encode('SCEP PKIOperation over ML-DSA');
    const ours = await Promise.all(LEVELS.map(async ({ key, alg }) => {
      const handle = await key.generate();
      return { spki: hex(handle.spki), pkcs8: hex(key.exportPkcs8(handle)), sig: hex(await alg.sign(msg, handle, 'SHA-512')), msg: hex(msg) };
    }));
    const out = JSON.parse(execFileSync(REFERENCE_NODE, ['--no-warnings', '--input-type=module', '-e', OPENSSL], {
      input: JSON.stringify({ ours, types: LEVELS.map((l) => l.key.name) }), maxBuffer: 64 << 20, timeout: 60_000,
    }).toString());
    expect(out.openssl).toMatch(/^3\.[5-9]/);
    LEVELS.forEach(({ key, alg }, i) => {
      const o = out.ours[i];
      expect(o.type).toBe(key.name);
      expect(o.verified, `OpenSSL verifies our ${alg.name} signature`).toBe(true);
      expect(o.spkiOfPrivate, `OpenSSL derives our SPKI from our PKCS#8`).toBe(ours[i].spki);
      expect(alg.verify(unhex(o.sig), msg, unhex(ours[i].spki), 'SHA-512'), `OpenSSL's signature with our key`).toBe(true);

      const t = out.theirs[i];
      const handle = key.importPkcs8(unhex(t.pkcs8));
      expect(hex(handle.spki)).toBe(t.spki);
      expect(key.matches(unhex(t.spki))).toBe(true);
      expect(alg.verify(unhex(t.sig), unhex(t.msg), unhex(t.spki), 'SHA-512'), `${alg.name} signature by OpenSSL`).toBe(true);
      expect(hex(key.exportPkcs8(handle)), 'we write the same seed-form PKCS#8 as OpenSSL').toBe(t.pkcs8);
    });
  });

  /** Our module on the native backend inside REFERENCE_NODE. */
  const NATIVE = `
import { readFileSync } from 'node:fs';
const input = JSON.parse(readFileSync(0, 'utf8'));
const { pqBackend } = await import(input.backendUrl);
const M = await import(input.moduleUrl);
const b = (h) => new Uint8Array(Buffer.from(h, 'hex'));
const h = (u) => Buffer.from(u).toString('hex');
const levels = [[M.ML_DSA_44_KEY, M.ML_DSA_44], [M.ML_DSA_65_KEY, M.ML_DSA_65], [M.ML_DSA_87_KEY, M.ML_DSA_87]];
const msg = b(input.msg);
const made = [];
for (const [key, alg] of levels) {
  const k = await key.generate();
  const sig = await alg.sign(msg, k, 'SHA-512');
  made.push({ native: !!k.native, spki: h(k.spki), pkcs8: h(key.exportPkcs8(k)), sig: h(sig), selfVerify: alg.verify(sig, msg, k.spki, 'SHA-512'),
    shortSig: alg.verify(sig.subarray(1), msg, k.spki, 'SHA-512'), garbageSpki: alg.verify(sig, msg, new Uint8Array([48, 3, 1, 2, 3]), 'SHA-512') });
}
const verifiedOurs = input.ours.map(({ spki, sig }) => levels.map(([, alg]) => alg.verify(b(sig), msg, b(spki), 'SHA-512')));
const imported = input.vectors.map(({ level, der }) => {
  try { const k = levels[level][0].importPkcs8(b(der)); return { native: !!k.native, spki: h(k.spki) }; } catch (e) { return { error: e.name }; }
});
process.stdout.write(JSON.stringify({ backend: pqBackend('ml-dsa'), keyBackend: M.ML_DSA_44_KEY.backend, made, verifiedOurs, imported }));
`;

  it('our module on the native backend (REFERENCE_NODE): its keys and signatures check out on our noble path, and it reads the RFC 9881 vectors', async () => {
    const msg = new TextEncoder().encode('native ML-DSA from pqscep');
    const ours = await Promise.all(LEVELS.map(async ({ key, alg }, level) => {
      const handle = await key.generate();
      return { level, spki: hex(handle.spki), sig: hex(await alg.sign(msg, handle, 'SHA-512')) };
    }));
    const vectors = [
      ...LEVELS.flatMap(({ level }, i) => FORMS.map((form) => ({ level: i, name: `ML-DSA-${level}-${form}`, der: hex(pem(`rfc/rfc9881-ML-DSA-${level}-${form}.priv`)) }))),
      ...[1, 2, 3].map((n) => ({ level: 0, name: `bad-${n}`, der: hex(pem(`rfc/rfc9881-bad-ML-DSA-44-${n}.priv`)) })),
    ];
    const input = {
      backendUrl: new URL('../src/crypto/backend.ts', import.meta.url).href,
      moduleUrl: new URL('../algorithms/ml-dsa.ts', import.meta.url).href,
      msg: hex(msg), ours, vectors: vectors.map(({ level, der }) => ({ level, der })),
    };
    const out = JSON.parse(execFileSync(REFERENCE_NODE, ['--no-warnings', '--import', 'tsx', '--input-type=module', '-e', NATIVE], {
      cwd: ROOT, input: JSON.stringify(input), maxBuffer: 64 << 20, timeout: 120_000, env: { ...process.env, PQSCEP_PQ_BACKEND: 'auto' },
    }).toString());
    expect(out.backend).toBe('native');
    expect(out.keyBackend).toBe('node:crypto');
    LEVELS.forEach(({ key, alg }, i) => {
      const m = out.made[i];
      expect(m.native, 'native handle').toBe(true);
      expect(m.selfVerify && !m.shortSig && !m.garbageSpki).toBe(true);
      expect(alg.verify(unhex(m.sig), msg, unhex(m.spki), 'SHA-512'), `native ${alg.name} signature, noble verify`).toBe(true);
      expect(hex(key.importPkcs8(unhex(m.pkcs8)).spki), 'native PKCS#8 export loads here').toBe(m.spki);
      expect(unhex(m.pkcs8)).toHaveLength(54); // seed form
      // our noble signature verifies natively under its own level only
      expect(out.verifiedOurs[i]).toEqual(LEVELS.map((_, j) => j === i));
    });
    vectors.forEach((v, i) => {
      const r = out.imported[i];
      if (v.name.startsWith('bad-')) expect(r, v.name).toEqual({ error: 'RangeError' });
      else expect(r, v.name).toEqual({ native: true, spki: hex(pem(`rfc/rfc9881-ML-DSA-${LEVELS[v.level].level}.pub`)) });
    });
  });
});

/** OneAsymmetricKey built with asn1js, independent of the code under test (RFC 5958 §2). */
function oneAsymmetricKey(version: number, oid: string, privateKey: Uint8Array, publicKey?: Uint8Array): Uint8Array {
  const value: asn1js.AsnType[] = [
    new asn1js.Integer({ value: version }),
    new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid })] }),
    new asn1js.OctetString({ valueHex: privateKey }),
  ];
  if (publicKey) value.push(new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 1 }, valueHex: new Uint8Array([0, ...publicKey]) }));
  return new Uint8Array(new asn1js.Sequence({ value }).toBER());
}

/** The same SPKI with AlgorithmIdentifier parameters NULL, which RFC 9881 §2 forbids. */
function spkiWithNullParameters(spki: Uint8Array): Uint8Array {
  const { result } = asn1js.fromBER(spki);
  const [alg, key] = (result as asn1js.Sequence).valueBlock.value as [asn1js.Sequence, asn1js.BitString];
  const oid = (alg.valueBlock.value[0] as asn1js.ObjectIdentifier).valueBlock.toString();
  const withNull = new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), new asn1js.Null()] });
  return new Uint8Array(new asn1js.Sequence({ value: [withNull, new asn1js.BitString({ valueHex: key.valueBlock.valueHexView })] }).toBER());
}

