/**
 * ML-KEM (FIPS 203) key types and KEMs of algorithms/ml-kem.ts against known answers:
 * RFC 9935 keys in all three PKCS#8 forms (seed, expandedKey, both) and its inconsistent
 * "bad" keys (Appendix C.4), the IETF hackathon ciphertext / shared-secret pairs of five
 * providers, FIPS 203 §7.3 input checks (ciphertext length) and implicit rejection (§6.3).
 * Cross-checked against OpenSSL 3.5 through REFERENCE_NODE (Node 26, native ML-KEM): OpenSSL
 * encapsulates to our keys and decapsulates ours, and our module runs there on the native backend.
 * Vectors: test/vectors/pqc (origins in its README).
 * Leaves out: KEMRecipientInfo (rfc9629-kem-recipient-info.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Certificate } from '@peculiar/asn1-x509';
import { describe, expect, it } from 'vitest';
import {
  ML_KEM_1024, ML_KEM_1024_KEY, ML_KEM_512, ML_KEM_512_KEY, ML_KEM_768, ML_KEM_768_KEY,
  id_alg_ml_kem_1024, id_alg_ml_kem_512, id_alg_ml_kem_768,
} from '../algorithms/ml-kem.ts';
import { fromPem } from '../src/ca/pem.ts';
import { parse, serialize } from '../src/cms/der.ts';
import { pqBackend } from '../src/crypto/backend.ts';
import { encodeOneAsymmetricKey as encodePkcs8, encodeSpki } from '../src/crypto/pq-keys.ts';
import { CipherError, type Kem, type KeyType, type PrivateKeyHandle } from '../src/crypto/types.ts';
import { REFERENCE_NODE, hasReferenceNode, referenceMissingReason } from './helpers/openssl35.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const MODULE = fileURLToPath(new URL('../algorithms/ml-kem.ts', import.meta.url));
const vector = (p: string) => fileURLToPath(new URL(`./vectors/pqc/${p}`, import.meta.url));
const bytes = (p: string) => new Uint8Array(readFileSync(vector(p)));
const pem = (p: string) => fromPem(readFileSync(vector(p), 'utf8'))[0]!.der;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const spkiOfCert = (der: Uint8Array) => serialize(parse(der, Certificate, 'certificate').tbsCertificate.subjectPublicKeyInfo);

interface Level {
  readonly level: 512 | 768 | 1024;
  readonly key: KeyType;
  readonly kem: Kem;
  readonly oid: string;
  readonly wrap: string;
  readonly sizes: { ek: number; dk: number; ct: number };
}
const LEVELS: readonly Level[] = [
  { level: 512, key: ML_KEM_512_KEY, kem: ML_KEM_512, oid: id_alg_ml_kem_512, wrap: 'AES-128-WRAP', sizes: { ek: 800, dk: 1632, ct: 768 } },
  { level: 768, key: ML_KEM_768_KEY, kem: ML_KEM_768, oid: id_alg_ml_kem_768, wrap: 'AES-256-WRAP', sizes: { ek: 1184, dk: 2400, ct: 1088 } },
  { level: 1024, key: ML_KEM_1024_KEY, kem: ML_KEM_1024, oid: id_alg_ml_kem_1024, wrap: 'AES-256-WRAP', sizes: { ek: 1568, dk: 3168, ct: 1568 } },
];
const byOid = (oid: string) => LEVELS.find((l) => l.oid === oid)!;

describe('FIPS 203 / RFC 9935 / RFC 9936 §3: the registry entries', () => {
  it.each(LEVELS)('ML-KEM-$level: names, OIDs, RFC 9936 KDF and wrap, capability', ({ level, key, kem, oid, wrap }) => {
    expect(oid).toBe(`2.16.840.1.101.3.4.4.${LEVELS.findIndex((l) => l.level === level) + 1}`);
    expect(key).toMatchObject({ kind: 'key', name: `ml-kem-${level}`, oids: [], spkiOid: oid, usages: ['encrypt'], quantumSafe: true, legacy: false });
    expect(kem).toMatchObject({ kind: 'kem', name: `ML-KEM-${level}`, oids: [oid], keyOid: oid, quantumSafe: true, legacy: false });
    expect(kem).toMatchObject({ kdf: 'HKDF-SHA256', wrap, capability: `ML-KEM-${level}` });
    expect(Object.isFrozen(key) && Object.isFrozen(kem)).toBe(true);
  });

  it('reports the backend this process uses (node:crypto needs OpenSSL 3.5)', () => {
    const expected = pqBackend('ml-kem') === 'native' ? 'node:crypto' : '@noble/post-quantum';
    for (const { key } of LEVELS) expect(key.backend).toBe(expected);
  });
});

describe('RFC 9935 §6 private keys: seed, expandedKey, both', () => {
  for (const { level, key } of LEVELS) {
    const certSpki = spkiOfCert(pem(`rfc/rfc9935-ML-KEM-${level}.crt`));
    it(`ML-KEM-${level}: every form imports to the certificate's SPKI and the .pub file`, () => {
      expect(hex(pem(`rfc/rfc9935-ML-KEM-${level}.pub`))).toBe(hex(certSpki));
      for (const form of ['seed', 'expanded', 'both']) {
        const h = key.importPkcs8(pem(`rfc/rfc9935-ML-KEM-${level}-${form}.priv`));
        expect(hex(h.spki), form).toBe(hex(certSpki));
        expect(h.keyType).toBe(`ml-kem-${level}`);
        expect(key.matches(h.spki)).toBe(true);
      }
    });

    it(`ML-KEM-${level}: export writes the seed form when the seed is known, else the expandedKey (byte-exact)`, () => {
      const seedFile = pem(`rfc/rfc9935-ML-KEM-${level}-seed.priv`);
      expect(hex(key.exportPkcs8(key.importPkcs8(seedFile)))).toBe(hex(seedFile));
      expect(hex(key.exportPkcs8(key.importPkcs8(pem(`rfc/rfc9935-ML-KEM-${level}-both.priv`))))).toBe(hex(seedFile));
      const expanded = pem(`rfc/rfc9935-ML-KEM-${level}-expanded.priv`);
      const h = key.importPkcs8(expanded);
      if (!h.native) expect(hex(key.exportPkcs8(h))).toBe(hex(expanded));
    });
  }

  it.each([
    [1, 'both: seed and expandedKey differ'],
    [2, 'expandedKey: mutated s_0 with a valid H(ek) (pairwise consistency)'],
    [3, 'expandedKey: mutated H(ek) (FIPS 203 §7.3 hash check)'],
    [4, 'both: only z differs from the seed'],
  ])('Appendix C.4 bad key %i is rejected (%s)', (n) => {
    expect(() => ML_KEM_512_KEY.importPkcs8(pem(`rfc/rfc9935-bad-ML-KEM-512-${n}.priv`))).toThrow(RangeError);
  });

  it('rejects another level, a truncated key, a short seed, unknown CHOICE tags and a mismatching v2 publicKey', () => {
    const seedFile = pem('rfc/rfc9935-ML-KEM-512-seed.priv');
    expect(() => ML_KEM_768_KEY.importPkcs8(seedFile)).toThrow(RangeError);
    expect(() => ML_KEM_512_KEY.importPkcs8(seedFile.subarray(0, seedFile.length - 1))).toThrow(RangeError);
    const seed = seedFile.subarray(seedFile.length - 64);
    expect(() => ML_KEM_512_KEY.importPkcs8(encodePkcs8(id_alg_ml_kem_512, new Uint8Array([0x80, 63, ...seed.subarray(1)])))).toThrow(RangeError);
    expect(() => ML_KEM_512_KEY.importPkcs8(encodePkcs8(id_alg_ml_kem_512, new Uint8Array([0x81, 64, ...seed])))).toThrow(RangeError);
    expect(() => ML_KEM_512_KEY.importPkcs8(encodePkcs8(id_alg_ml_kem_512, new Uint8Array([0x04, 10, ...seed.subarray(0, 10)])))).toThrow(RangeError);
    const ek = ML_KEM_512_KEY.importPkcs8(seedFile).spki.subarray(-800);
    const v2 = (pk: Uint8Array) => {
      const body = [...seedFile.subarray(2)]; // version .. privateKey of the v1 encoding (short-form header)
      body[2] = 1; // version v2
      const field = [0x81, 0x82, ((pk.length + 1) >> 8) & 0xff, (pk.length + 1) & 0xff, 0, ...pk];
      const all = [...body, ...field];
      return new Uint8Array([0x30, 0x82, all.length >> 8, all.length & 0xff, ...all]);
    };
    expect(hex(ML_KEM_512_KEY.importPkcs8(v2(ek)).spki)).toBe(hex(ML_KEM_512_KEY.importPkcs8(seedFile).spki));
    const other = ek.slice();
    other[5]! ^= 1;
    expect(() => ML_KEM_512_KEY.importPkcs8(v2(other))).toThrow(RangeError);
  });
});

/** Hackathon artifacts_certs_r5 (and the full carl-redhound set): per level, the EE cert, keys and a ct/ss pair. */
const HACKATHON_DIRS = [
  'hackathon/bc/artifacts_certs_r5/artifacts',
  'hackathon/cht/artifacts_certs_r5',
  'hackathon/cryptonext/artifacts_certs_r5/artifacts_certs_r5',
  'hackathon/ossl35/artifacts_certs_r5',
  'hackathon/carl-redhound/artifacts_cms_v3_full',
];
const HACKATHON = HACKATHON_DIRS.flatMap((dir) =>
  readdirSync(vector(dir))
    .filter((f) => f.endsWith('_ciphertext.bin'))
    .map((f) => {
      const base = f.slice(0, -'_ciphertext.bin'.length);
      const keys = readdirSync(vector(dir)).filter((k) => k.startsWith(`${base}_`) && k.endsWith('priv.der'));
      return { name: `${dir.split('/')[1]} ${base}`, dir, base, level: byOid(base.slice(base.lastIndexOf('-') + 1)), keys };
    }),
);

describe('IETF hackathon: decapsulation known answers', () => {
  it('covers 5 providers x 3 levels', () => expect(HACKATHON.length).toBe(15));

  it.each(HACKATHON)('$name: each key form matches the EE certificate and decapsulates to the recorded secret', async ({ dir, base, level, keys }) => {
    const certSpki = spkiOfCert(bytes(`${dir}/${base}_ee.der`));
    const ct = bytes(`${dir}/${base}_ciphertext.bin`);
    const ss = bytes(`${dir}/${base}_ss.bin`);
    expect(keys.length).toBeGreaterThanOrEqual(3);
    for (const k of keys) {
      const h = level.key.importPkcs8(bytes(`${dir}/${k}`));
      expect(hex(h.spki), k).toBe(hex(certSpki));
      expect(hex(await level.kem.decapsulate(ct, h)), k).toBe(hex(ss));
    }
  });
});

describe('FIPS 203 §7.3 input checks and §6.3 implicit rejection', () => {
  const keyOf = (level: Level) => level.key.importPkcs8(pem(`rfc/rfc9935-ML-KEM-${level.level}-seed.priv`));

  it.each(LEVELS)('ML-KEM-$level: a ciphertext of the wrong length is a CipherError, nothing else', async (level) => {
    const h = keyOf(level);
    const { ciphertext } = await level.kem.encapsulate(h.spki);
    expect(ciphertext.length).toBe(level.sizes.ct);
    for (const bad of [ciphertext.subarray(1), new Uint8Array([...ciphertext, 0]), new Uint8Array(0), new Uint8Array(1568 + 768 - level.sizes.ct)])
      await expect(level.kem.decapsulate(bad, h)).rejects.toBeInstanceOf(CipherError);
  });

  it('a key of another level or without key material is a CipherError', async () => {
    const { ciphertext } = await ML_KEM_768.encapsulate(keyOf(LEVELS[1]!).spki);
    await expect(ML_KEM_768.decapsulate(ciphertext, keyOf(LEVELS[0]!))).rejects.toBeInstanceOf(CipherError);
    const empty: PrivateKeyHandle = { keyType: 'ml-kem-768', spki: keyOf(LEVELS[1]!).spki };
    await expect(ML_KEM_768.decapsulate(ciphertext, empty)).rejects.toBeInstanceOf(CipherError);
  });

  it.each(LEVELS)('ML-KEM-$level: a tampered ciphertext yields a different secret, without an error', async (level) => {
    const h = keyOf(level);
    const { ciphertext, sharedSecret } = await level.kem.encapsulate(h.spki);
    expect(hex(await level.kem.decapsulate(ciphertext, h))).toBe(hex(sharedSecret));
    const tampered = ciphertext.slice();
    tampered[7]! ^= 0x10;
    const rejected = await level.kem.decapsulate(tampered, h);
    expect(rejected.length).toBe(32);
    expect(hex(rejected)).not.toBe(hex(sharedSecret));
  });

  it.each(LEVELS)('ML-KEM-$level: generate → export → import → encapsulate/decapsulate', async (level) => {
    const h = await level.key.generate();
    expect(h.seed?.length).toBe(64);
    expect(h.spki.length).toBeGreaterThan(level.sizes.ek);
    const again = level.key.importPkcs8(level.key.exportPkcs8(h));
    expect(hex(again.spki)).toBe(hex(h.spki));
    const { ciphertext, sharedSecret } = await level.kem.encapsulate(h.spki);
    expect(hex(await level.kem.decapsulate(ciphertext, again))).toBe(hex(sharedSecret));
  });

  it('encapsulate refuses other SPKIs and an encapsulation key failing the §7.2 modulus check', async () => {
    const rsa = new Uint8Array(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' }));
    await expect(ML_KEM_512.encapsulate(rsa)).rejects.toBeInstanceOf(CipherError);
    const spki768 = keyOf(LEVELS[1]!).spki;
    await expect(ML_KEM_512.encapsulate(spki768)).rejects.toBeInstanceOf(CipherError);
    expect(ML_KEM_512_KEY.matches(spki768)).toBe(false);
    expect(ML_KEM_512_KEY.matches(rsa)).toBe(false);
    const ek = keyOf(LEVELS[0]!).spki.slice(-800);
    ek[0] = 0xff;
    ek[1]! |= 0x0f; // first 12-bit coefficient = 4095 >= q
    await expect(ML_KEM_512.encapsulate(encodeSpki(id_alg_ml_kem_512, ek))).rejects.toBeInstanceOf(CipherError);
  });

  it('the hash check uses SHA3-256 over ek (FIPS 203 §7.3), as stored in the RFC 9935 expanded key', () => {
    const h = ML_KEM_512_KEY.importPkcs8(pem('rfc/rfc9935-ML-KEM-512-expanded.priv'));
    const dk = pem('rfc/rfc9935-ML-KEM-512-expanded.priv').subarray(-1632);
    expect(hex(createHash('sha3-256').update(h.spki.subarray(-800)).digest())).toBe(hex(dk.subarray(1568, 1600)));
  });
});

/** In REFERENCE_NODE with plain node:crypto: OpenSSL 3.5 as the other party. */
const OPENSSL_PEER = `
import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, decapsulate, encapsulate } from 'node:crypto';
const b = (s) => Buffer.from(s, 'base64');
const out = JSON.parse(readFileSync(0, 'utf8')).map(({ spki, pkcs8, ct }) => {
  const priv = createPrivateKey({ key: b(pkcs8), format: 'der', type: 'pkcs8' });
  const { sharedKey, ciphertext } = encapsulate(createPublicKey({ key: b(spki), format: 'der', type: 'spki' }));
  return {
    ct: ciphertext.toString('base64'), ss: sharedKey.toString('base64'),
    decapsulated: decapsulate(priv, b(ct)).toString('base64'),
    spki: createPublicKey(priv).export({ type: 'spki', format: 'der' }).toString('base64'),
    pkcs8: priv.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
  };
});
process.stdout.write(JSON.stringify(out));
`;

/** In REFERENCE_NODE with tsx: our module on the native backend. */
const OURS_NATIVE = `
import { readFileSync } from 'node:fs';
const { module, keys, kats } = JSON.parse(readFileSync(0, 'utf8'));
const m = await import(module);
const T = { 512: [m.ML_KEM_512_KEY, m.ML_KEM_512], 768: [m.ML_KEM_768_KEY, m.ML_KEM_768], 1024: [m.ML_KEM_1024_KEY, m.ML_KEM_1024] };
const b = (s) => Buffer.from(s, 'base64');
const s = (u) => Buffer.from(u).toString('base64');
const attempt = async (f) => { try { return await f(); } catch (e) { return 'ERR:' + e.name; } };
const out = { backend: T[768][0].backend, imports: [], kats: [], generated: [] };
for (const { level, pkcs8 } of keys) out.imports.push(await attempt(() => { const h = T[level][0].importPkcs8(b(pkcs8)); return s(h.spki) + (h.native ? ':native' : ':raw'); }));
for (const { level, pkcs8, ct } of kats) {
  const h = T[level][0].importPkcs8(b(pkcs8));
  out.kats.push({ ss: s(await T[level][1].decapsulate(b(ct), h)), short: await attempt(() => T[level][1].decapsulate(b(ct).subarray(1), h)) });
}
for (const level of [512, 768, 1024]) {
  const [key, kem] = T[level];
  const h = await key.generate();
  const { ciphertext, sharedSecret } = await kem.encapsulate(h.spki);
  out.generated.push({ level, native: !!h.native, pkcs8: s(key.exportPkcs8(h)), spki: s(h.spki), ct: s(ciphertext), ss: s(sharedSecret) });
}
process.stdout.write(JSON.stringify(out));
`;

function reference(script: string, input: unknown, tsx = false): unknown {
  const args = ['--no-warnings', ...(tsx ? ['--import', 'tsx'] : []), '--input-type=module', '-e', script];
  const env = { ...process.env, PQSCEP_PQ_BACKEND: 'auto' };
  return JSON.parse(execFileSync(REFERENCE_NODE, args, { cwd: REPO, env, input: JSON.stringify(input), maxBuffer: 64 << 20, timeout: 60_000 }).toString());
}

const itRef = hasReferenceNode && existsSync(REFERENCE_NODE) ? it : (title: string, _fn?: unknown) => it.skip(`${title} (skipped: ${referenceMissingReason})`, () => {});

describe('cross-check with OpenSSL 3.5 (REFERENCE_NODE, native ML-KEM)', () => {
  itRef('OpenSSL encapsulates to our SPKI and decapsulates our ciphertext with our PKCS#8; it reads our keys as we do', async () => {
    const ours = await Promise.all(LEVELS.map(async (level) => {
      const h = await level.key.generate();
      return { level, h, ...(await level.kem.encapsulate(h.spki)) };
    }));
    const theirs = reference(OPENSSL_PEER, ours.map(({ level, h, ciphertext }) => ({ spki: b64(h.spki), pkcs8: b64(level.key.exportPkcs8(h)), ct: b64(ciphertext) }))) as Record<string, string>[];
    for (const [i, { level, h, sharedSecret }] of ours.entries()) {
      const t = theirs[i]!;
      expect(t.decapsulated, `OpenSSL decapsulates ML-KEM-${level.level}`).toBe(b64(sharedSecret));
      expect(b64(await level.kem.decapsulate(Buffer.from(t.ct!, 'base64'), h)), `we decapsulate ML-KEM-${level.level}`).toBe(t.ss);
      expect(t.spki).toBe(b64(h.spki));
      expect(t.pkcs8, 'OpenSSL writes the same seed-form PKCS#8').toBe(b64(level.key.exportPkcs8(h)));
    }
  });

  itRef('OpenSSL accepts our expandedKey-only PKCS#8 export', async () => {
    const level = LEVELS[2]!;
    const h = level.key.importPkcs8(pem('rfc/rfc9935-ML-KEM-1024-expanded.priv'));
    const { ciphertext, sharedSecret } = await level.kem.encapsulate(h.spki);
    const [t] = reference(OPENSSL_PEER, [{ spki: b64(h.spki), pkcs8: b64(level.key.exportPkcs8(h)), ct: b64(ciphertext) }]) as Record<string, string>[];
    expect(t!.decapsulated).toBe(b64(sharedSecret));
    expect(b64(await level.kem.decapsulate(Buffer.from(t!.ct!, 'base64'), h))).toBe(t!.ss);
  });

  itRef('our module inside REFERENCE_NODE runs on node:crypto and agrees with the vectors and with noble here', async () => {
    const keys = LEVELS.flatMap(({ level }) => ['seed', 'expanded', 'both'].map((form) => ({ level, pkcs8: b64(pem(`rfc/rfc9935-ML-KEM-${level}-${form}.priv`)) })))
      .concat([1, 2, 3, 4].map((n) => ({ level: 512, pkcs8: b64(pem(`rfc/rfc9935-bad-ML-KEM-512-${n}.priv`)) })));
    const kats = HACKATHON.map(({ dir, base, level, keys: ks }) => ({
      level: level.level, pkcs8: b64(bytes(`${dir}/${ks[0]}`)), ct: b64(bytes(`${dir}/${base}_ciphertext.bin`)), ss: b64(bytes(`${dir}/${base}_ss.bin`)),
    }));
    const r = reference(OURS_NATIVE, { module: MODULE, keys, kats }, true) as {
      backend: string; imports: string[]; kats: { ss: string; short: string }[];
      generated: { level: 512 | 768 | 1024; native: boolean; pkcs8: string; spki: string; ct: string; ss: string }[];
    };
    expect(r.backend).toBe('node:crypto');
    LEVELS.forEach(({ level }, i) => {
      const spki = b64(spkiOfCert(pem(`rfc/rfc9935-ML-KEM-${level}.crt`)));
      for (const j of [0, 1, 2]) expect(r.imports[i * 3 + j]).toBe(`${spki}:native`);
    });
    expect(r.imports.slice(9)).toEqual(['ERR:RangeError', 'ERR:RangeError', 'ERR:RangeError', 'ERR:RangeError']);
    r.kats.forEach((k, i) => {
      expect(k.ss, HACKATHON[i]!.name).toBe(kats[i]!.ss);
      expect(k.short).toBe('ERR:CipherError');
    });
    for (const g of r.generated) {
      const level = LEVELS.find((l) => l.level === g.level)!;
      expect(g.native).toBe(true);
      const h = level.key.importPkcs8(Buffer.from(g.pkcs8, 'base64'));
      expect(b64(h.spki)).toBe(g.spki);
      expect(b64(await level.kem.decapsulate(Buffer.from(g.ct, 'base64'), h))).toBe(g.ss);
    }
  });
});
