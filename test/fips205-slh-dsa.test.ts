/**
 * SLH-DSA (FIPS 205) through algorithms/slh-dsa.ts: the twelve registry entries against RFC 9909 §3
 * and FIPS 205 Table 2, the RFC 9909 Appendix C example (certificate, SPKI, PKCS#8), sign/verify
 * round trips on the noble backend, malformed input, and a cross-check in both directions with
 * OpenSSL 3.5 (REFERENCE_NODE), including our module running there on its native backend.
 * noble signs the small SHAKE sets and SHA2-192s/256s slowly (2–18 s each): their noble round trips
 * run with SLOW_TESTS=1; by default they are still covered by verifying OpenSSL's signatures here.
 * In this process the noble backend is pinned. Vectors: test/vectors/pqc (origins in its README.md).
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as asn1js from 'asn1js';
import { ALGORITHMS } from '../algorithms/index.ts';
import * as SLH from '../algorithms/slh-dsa.ts';
import { setPqBackend } from '../src/crypto/backend.ts';
import { decodeOneAsymmetricKey, encodeOneAsymmetricKey, encodeSpki } from '../src/crypto/pq-keys.ts';
import { createRegistry } from '../src/crypto/registry.ts';
import { UnsupportedAlgorithmError, type Algorithm, type KeyType, type PrivateKeyHandle, type SignatureAlgorithm } from '../src/crypto/types.ts';
import { REFERENCE_NODE, hasReferenceNode, referenceMissingReason } from './helpers/openssl35.ts';

setPqBackend('noble'); // the native backend is exercised inside REFERENCE_NODE below

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VECTORS = new URL('./vectors/pqc/', import.meta.url);
const pem = (path: string) => new Uint8Array(Buffer.from(readFileSync(new URL(path, VECTORS), 'utf8').replace(/-----[^-]+-----/g, ''), 'base64'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const flip = (b: Uint8Array, i: number) => Uint8Array.from(b, (x, j) => (j === i ? x ^ 1 : x));
const SLOW = process.env.SLOW_TESTS === '1';

/** RFC 9909 §3 OID arcs under sigAlgs, FIPS 205 Table 2 (n, signature size), RFC 9814 §4 digest. */
const VARIANTS = [
  ['SHA2_128S', 20, 16, 7856, 'SHA-256', true],
  ['SHA2_128F', 21, 16, 17088, 'SHA-256', true],
  ['SHA2_192S', 22, 24, 16224, 'SHA-512', false],
  ['SHA2_192F', 23, 24, 35664, 'SHA-512', true],
  ['SHA2_256S', 24, 32, 29792, 'SHA-512', false],
  ['SHA2_256F', 25, 32, 49856, 'SHA-512', true],
  ['SHAKE_128S', 26, 16, 7856, 'SHAKE128', false],
  ['SHAKE_128F', 27, 16, 17088, 'SHAKE128', true],
  ['SHAKE_192S', 28, 24, 16224, 'SHAKE256', false],
  ['SHAKE_192F', 29, 24, 35664, 'SHAKE256', true],
  ['SHAKE_256S', 30, 32, 29792, 'SHAKE256', false],
  ['SHAKE_256F', 31, 32, 49856, 'SHAKE256', true],
].map(([id, arc, n, sig, cms, fast]) => {
  const exports = SLH as unknown as Record<string, Algorithm>;
  return {
    name: `SLH-DSA-${String(id).replace('_', '-')}`,
    oid: `2.16.840.1.101.3.4.3.${arc}`,
    n: n as number,
    sigLength: sig as number,
    cms: cms as string,
    fast: fast as boolean, // noble signs it in well under a second or two
    key: exports[`SLH_DSA_${id}_KEY`] as KeyType,
    alg: exports[`SLH_DSA_${id}`] as SignatureAlgorithm,
  };
});
type Variant = (typeof VARIANTS)[number];
const variant = (name: string) => VARIANTS.find((v) => v.name === name)!;
const OURS: Algorithm[] = VARIANTS.flatMap((v) => [v.key, v.alg]);
const registry = createRegistry([...ALGORITHMS.filter((a) => !OURS.includes(a)), ...OURS]);

/** One noble key and signature per variant, made once and shared by the round-trip and cross-check tests. */
const MSG = new TextEncoder().encode('SCEP PKIOperation over SLH-DSA');
const made = new Map<string, Promise<{ handle: PrivateKeyHandle; sig: Uint8Array }>>();
function signedByUs(v: Variant) {
  let p = made.get(v.name);
  if (!p) {
    p = (async () => {
      const handle = await v.key.generate();
      return { handle, sig: await v.alg.sign(MSG, handle, 'SHA-512') };
    })();
    made.set(v.name, p);
  }
  return p;
}

/** tbsCertificate as received, signature and SPKI of a DER certificate. */
function certificate(der: Uint8Array) {
  const [tbs, alg, sig] = (asn1js.fromBER(der).result as asn1js.Sequence).valueBlock.value as [asn1js.Sequence, asn1js.Sequence, asn1js.BitString];
  const fields = tbs.valueBlock.value;
  return {
    tbs: new Uint8Array(tbs.valueBeforeDecodeView),
    algorithm: (alg.valueBlock.value[0] as asn1js.ObjectIdentifier).valueBlock.toString(),
    parametersAbsent: alg.valueBlock.value.length === 1,
    signature: new Uint8Array(sig.valueBlock.valueHexView),
    spki: new Uint8Array(fields[(fields[0].idBlock.tagClass === 3 ? 1 : 0) + 5].valueBeforeDecodeView),
  };
}

describe('registry entries (RFC 9909 §3, FIPS 205 Table 2, RFC 9814)', () => {
  it.each(VARIANTS)('$name', (v) => {
    const keyName = v.name.toLowerCase();
    expect(registry.byName('key', keyName)).toBe(v.key);
    expect(registry.byOid('signature', v.oid)).toBe(v.alg);
    expect(v.key).toMatchObject({ kind: 'key', name: keyName, oids: [], spkiOid: v.oid, usages: ['sign'], quantumSafe: true, legacy: false, backend: '@noble/post-quantum' });
    expect(v.alg).toMatchObject({ kind: 'signature', name: v.name, oids: [v.oid], keyOid: v.oid, digest: null, parameters: 'absent', cmsDigest: v.cms, quantumSafe: true, capability: v.name });
    expect(Object.isFrozen(v.key) && Object.isFrozen(v.alg)).toBe(true);
  });

  it('HashSLH-DSA OIDs (sigAlgs 35–46) are unknown to the registry', () => {
    for (let arc = 35; arc <= 46; arc++)
      expect(() => registry.byOid('signature', `2.16.840.1.101.3.4.3.${arc}`)).toThrow(UnsupportedAlgorithmError);
  });
});

describe('RFC 9909 Appendix C example (SLH-DSA-SHA2-128s)', () => {
  const v = variant('SLH-DSA-SHA2-128S');
  const cert = certificate(pem('rfc/rfc9909-SLH-DSA-SHA2-128s.crt'));

  it('the self-signed certificate verifies over the received tbsCertificate', () => {
    expect(cert.algorithm).toBe(v.oid);
    expect(cert.parametersAbsent).toBe(true);
    expect(hex(cert.spki)).toBe(hex(pem('rfc/rfc9909-SLH-DSA-SHA2-128s.pub')));
    expect(v.key.matches(cert.spki)).toBe(true);
    expect(v.alg.verify(cert.signature, cert.tbs, cert.spki, 'SHA-256')).toBe(true);
    expect(v.alg.verify(cert.signature, flip(cert.tbs, 50), cert.spki, 'SHA-256')).toBe(false);
  });

  it('the private key (raw 4n bytes in privateKey, RFC 9909 §7) imports, matches, re-exports byte for byte and signs', async () => {
    const der = pem('rfc/rfc9909-SLH-DSA-SHA2-128s.priv');
    expect(decodeOneAsymmetricKey(der).privateKey).toHaveLength(64);
    const handle = v.key.importPkcs8(der);
    expect(hex(handle.spki)).toBe(hex(cert.spki));
    expect(hex(v.key.exportPkcs8(handle))).toBe(hex(der));
    const sig = await v.alg.sign(MSG, handle, 'SHA-256');
    expect(sig).toHaveLength(7856);
    expect(v.alg.verify(sig, MSG, cert.spki, 'SHA-256')).toBe(true);
  });
});

describe('sign / verify round trips on the noble backend', () => {
  it.each(VARIANTS.filter((v) => v.fast || SLOW))('$name', async (v) => {
    const { handle, sig } = await signedByUs(v);
    expect(handle.raw).toHaveLength(4 * v.n);
    expect(sig).toHaveLength(v.sigLength);
    expect(v.alg.verify(sig, MSG, handle.spki, 'SHA-512')).toBe(true);
    expect(v.alg.verify(flip(sig, v.sigLength - 1), MSG, handle.spki, 'SHA-512')).toBe(false);
    const again = v.key.importPkcs8(v.key.exportPkcs8(handle));
    expect(hex(again.spki)).toBe(hex(handle.spki));
  });
  if (!SLOW) it.skip('noble round trips of SHA2-192s/256s and SHAKE-128s/192s/256s (set SLOW_TESTS=1; 2–18 s each)', () => {});
});

describe('malformed input', () => {
  const v = variant('SLH-DSA-SHA2-128S');
  const cert = certificate(pem('rfc/rfc9909-SLH-DSA-SHA2-128s.crt'));
  const raw = cert.spki.subarray(-32);
  // [case, signature, SPKI, whether the SPKI is still a well-formed SLH-DSA-SHA2-128s key]
  const cases: [string, Uint8Array, Uint8Array, boolean][] = [
    ['signature one byte short', cert.signature.subarray(1), cert.spki, true],
    ['signature one byte long', new Uint8Array([...cert.signature, 0]), cert.spki, true],
    ['flipped bit in the signature', flip(cert.signature, 3000), cert.spki, true],
    ['flipped bit in PK.root', cert.signature, encodeSpki(v.oid, flip(raw, 31)), true],
    ['public key one byte short', cert.signature, encodeSpki(v.oid, raw.subarray(1)), false],
    ['SPKI naming SLH-DSA-SHA2-128f (same key size)', cert.signature, encodeSpki(variant('SLH-DSA-SHA2-128F').oid, raw), false],
    ['SPKI naming HashSLH-DSA-SHA2-128s', cert.signature, encodeSpki('2.16.840.1.101.3.4.3.35', raw), false],
    ['SPKI with trailing bytes', cert.signature, new Uint8Array([...cert.spki, 0]), false],
    ['garbage SPKI', cert.signature, new Uint8Array([0x30, 0x03, 1, 2, 3]), false],
  ];
  it.each(cases)('%s → false, no throw', (_name, sig, spki, wellFormed) => {
    expect(v.alg.verify(sig, cert.tbs, spki, 'SHA-256')).toBe(false);
    expect(v.key.matches(spki)).toBe(wellFormed);
  });

  it('a signature checked under another parameter set of the same sizes is false', () => {
    const shake = variant('SLH-DSA-SHAKE-128S');
    expect(shake.alg.verify(cert.signature, cert.tbs, encodeSpki(shake.oid, raw), 'SHA-256')).toBe(false);
  });

  it('an RSA SPKI is neither matched nor verified', async () => {
    const rsa = await registry.byName('key', 'rsa-2048').generate();
    expect(v.key.matches(rsa.spki)).toBe(false);
    expect(v.alg.verify(cert.signature, cert.tbs, rsa.spki, 'SHA-256')).toBe(false);
  });

  it('PKCS#8: inconsistent PK.root, wrong length, other OID, mismatched publicKey are RangeErrors', () => {
    const der = pem('rfc/rfc9909-SLH-DSA-SHA2-128s.priv');
    const { privateKey } = decodeOneAsymmetricKey(der);
    expect(() => v.key.importPkcs8(encodeOneAsymmetricKey(v.oid, flip(privateKey, 63)))).toThrow(RangeError); // PK.root
    expect(() => v.key.importPkcs8(encodeOneAsymmetricKey(v.oid, flip(privateKey, 0)))).toThrow(RangeError); // SK.seed
    expect(() => v.key.importPkcs8(encodeOneAsymmetricKey(v.oid, privateKey.subarray(1)))).toThrow(RangeError);
    expect(() => variant('SLH-DSA-SHA2-128F').key.importPkcs8(der)).toThrow(RangeError);
    const v2 = (pub: Uint8Array) => new Uint8Array(new asn1js.Sequence({ value: [
      new asn1js.Integer({ value: 1 }),
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: v.oid })] }),
      new asn1js.OctetString({ valueHex: privateKey }),
      new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 1 }, valueHex: new Uint8Array([0, ...pub]) }),
    ] }).toBER());
    expect(hex(v.key.importPkcs8(v2(raw)).spki)).toBe(hex(cert.spki));
    expect(() => v.key.importPkcs8(v2(flip(raw, 0)))).toThrow(RangeError);
  });

  it('signing with a key of another parameter set is a TypeError', async () => {
    const handle = v.key.importPkcs8(pem('rfc/rfc9909-SLH-DSA-SHA2-128s.priv'));
    await expect(variant('SLH-DSA-SHAKE-128S').alg.sign(MSG, handle, 'SHA-512')).rejects.toThrow(TypeError);
    expect(() => variant('SLH-DSA-SHA2-128F').key.exportPkcs8(handle)).toThrow(TypeError);
  });
});

const skipReason = hasReferenceNode ? '' : ` (skipped: ${referenceMissingReason})`;
const run = (args: string[], input: unknown) =>
  JSON.parse(execFileSync(REFERENCE_NODE, ['--no-warnings', ...args], {
    cwd: ROOT, input: JSON.stringify(input), maxBuffer: 64 << 20, timeout: 120_000, env: { ...process.env, PQSCEP_PQ_BACKEND: 'auto' },
  }).toString());

describe.skipIf(!hasReferenceNode)(`cross-check with OpenSSL 3.5 in REFERENCE_NODE${skipReason}`, () => {
  const OPENSSL = `
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
const input = JSON.parse(readFileSync(0, 'utf8'));
const b = (h) => Buffer.from(h, 'hex');
const der = (k, type) => k.export({ type, format: 'der' }).toString('hex');
const msg = b(input.msg);
const ours = input.ours.map(({ spki, pkcs8, sig }) => {
  const pub = crypto.createPublicKey({ key: b(spki), format: 'der', type: 'spki' });
  const priv = crypto.createPrivateKey({ key: b(pkcs8), format: 'der', type: 'pkcs8' });
  return { type: pub.asymmetricKeyType, verified: crypto.verify(null, msg, pub, b(sig)), spkiOfPrivate: der(crypto.createPublicKey(priv), 'spki') };
});
const theirs = input.types.map((type) => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync(type);
  return { spki: der(publicKey, 'spki'), pkcs8: der(privateKey, 'pkcs8'), sig: crypto.sign(null, msg, privateKey).toString('hex') };
});
process.stdout.write(JSON.stringify({ ours, theirs }));
`;

  it('OpenSSL verifies and loads our noble keys and signatures; we verify and load OpenSSL keys (same PKCS#8 bytes) and signatures for all twelve sets', async () => {
    const fast = VARIANTS.filter((v) => v.fast);
    const ours = await Promise.all(fast.map(async (v) => {
      const { handle, sig } = await signedByUs(v);
      return { spki: hex(handle.spki), pkcs8: hex(v.key.exportPkcs8(handle)), sig: hex(sig) };
    }));
    const out = run(['--input-type=module', '-e', OPENSSL], { msg: hex(MSG), ours, types: VARIANTS.map((v) => v.key.name) });
    fast.forEach((v, i) => {
      expect(out.ours[i].type).toBe(v.key.name);
      expect(out.ours[i].verified, `OpenSSL verifies our ${v.name} signature`).toBe(true);
      expect(out.ours[i].spkiOfPrivate, `OpenSSL loads our ${v.name} PKCS#8`).toBe(ours[i].spki);
    });
    VARIANTS.forEach((v, i) => {
      const t = out.theirs[i];
      const decoded = decodeOneAsymmetricKey(unhex(t.pkcs8)); // OpenSSL's shape: v1, raw 4n-byte key, no publicKey
      expect([decoded.oid, decoded.privateKey.length, decoded.publicKey], v.name).toEqual([v.oid, 4 * v.n, undefined]);
      expect(hex(encodeOneAsymmetricKey(v.oid, decoded.privateKey)), `${v.name}: privateKey holds the raw key, no inner OCTET STRING`).toBe(t.pkcs8);
      expect(v.alg.verify(unhex(t.sig), MSG, unhex(t.spki), 'SHA-512'), `${v.name} signature by OpenSSL`).toBe(true);
      expect(v.key.matches(unhex(t.spki))).toBe(true);
      const handle = v.key.importPkcs8(unhex(t.pkcs8));
      expect(hex(handle.spki)).toBe(t.spki);
      expect(hex(v.key.exportPkcs8(handle)), `${v.name}: we write the same PKCS#8 as OpenSSL`).toBe(t.pkcs8);
    });
  });

  const NATIVE = `
import { readFileSync } from 'node:fs';
const input = JSON.parse(readFileSync(0, 'utf8'));
const { pqBackend } = await import(input.backendUrl);
const M = await import(input.moduleUrl);
const b = (h) => new Uint8Array(Buffer.from(h, 'hex'));
const h = (u) => Buffer.from(u).toString('hex');
const msg = b(input.msg);
const made = [];
for (const id of input.ids) {
  const key = M['SLH_DSA_' + id + '_KEY'], alg = M['SLH_DSA_' + id];
  const k = await key.generate();
  const sig = await alg.sign(msg, k, alg.cmsDigest);
  made.push({ native: !!k.native, spki: h(k.spki), pkcs8: h(key.exportPkcs8(k)), sig: h(sig), selfVerify: alg.verify(sig, msg, k.spki, 'SHA-512'),
    shortSig: alg.verify(sig.subarray(1), msg, k.spki, 'SHA-512'), garbageSpki: alg.verify(sig, msg, new Uint8Array([48, 3, 1, 2, 3]), 'SHA-512') });
}
const rfc = M.SLH_DSA_SHA2_128S_KEY.importPkcs8(b(input.rfcKey));
const rfcSig = await M.SLH_DSA_SHA2_128S.sign(msg, rfc, 'SHA-256');
let badRoot;
try { M.SLH_DSA_SHA2_128S_KEY.importPkcs8(b(input.badRoot)); badRoot = 'accepted'; } catch (e) { badRoot = e.name; }
process.stdout.write(JSON.stringify({ backend: pqBackend('slh-dsa'), keyBackend: M.SLH_DSA_SHA2_128S_KEY.backend, made,
  rfc: { native: !!rfc.native, spki: h(rfc.spki), pkcs8: h(M.SLH_DSA_SHA2_128S_KEY.exportPkcs8(rfc)), sig: h(rfcSig) }, badRoot,
  verifiesOurs: M.SLH_DSA_SHA2_128S.verify(b(input.certSig), b(input.certTbs), b(input.certSpki), 'SHA-256') }));
`;

  it('our module on the native backend (REFERENCE_NODE): its keys and signatures check out on our noble path', () => {
    const ids = VARIANTS.filter((v) => v.fast).map((v) => v.name.slice('SLH-DSA-'.length).replace('-', '_'));
    const der = pem('rfc/rfc9909-SLH-DSA-SHA2-128s.priv');
    const cert = certificate(pem('rfc/rfc9909-SLH-DSA-SHA2-128s.crt'));
    const { oid, privateKey } = decodeOneAsymmetricKey(der);
    const out = run(['--import', 'tsx', '--input-type=module', '-e', NATIVE], {
      backendUrl: new URL('../src/crypto/backend.ts', import.meta.url).href,
      moduleUrl: new URL('../algorithms/slh-dsa.ts', import.meta.url).href,
      msg: hex(MSG), ids, rfcKey: hex(der), badRoot: hex(encodeOneAsymmetricKey(oid, flip(privateKey, 63))),
      certSig: hex(cert.signature), certTbs: hex(cert.tbs), certSpki: hex(cert.spki),
    });
    expect(out.backend).toBe('native');
    expect(out.keyBackend).toBe('node:crypto');
    ids.forEach((id, i) => {
      const v = variant(`SLH-DSA-${id.replace('_', '-')}`);
      const m = out.made[i];
      expect(m.native && m.selfVerify && !m.shortSig && !m.garbageSpki, v.name).toBe(true);
      expect(v.alg.verify(unhex(m.sig), MSG, unhex(m.spki), 'SHA-512'), `native ${v.name} signature, noble verify`).toBe(true);
      expect(hex(v.key.importPkcs8(unhex(m.pkcs8)).spki), `native ${v.name} PKCS#8 loads here`).toBe(m.spki);
    });
    expect(out.rfc.native).toBe(true);
    expect(out.rfc.spki).toBe(hex(cert.spki));
    expect(out.rfc.pkcs8).toBe(hex(der));
    expect(variant('SLH-DSA-SHA2-128S').alg.verify(unhex(out.rfc.sig), MSG, cert.spki, 'SHA-256')).toBe(true);
    expect(out.badRoot).toBe('RangeError');
    expect(out.verifiesOurs, 'native verify of the RFC 9909 certificate').toBe(true);
  });
});
