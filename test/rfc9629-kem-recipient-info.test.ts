/**
 * KEMRecipientInfo (RFC 9629) with the ML-KEM profile (RFC 9936) in src/cms/kem-recipient-info.ts:
 * - the RFC 9936 example (ML-KEM-512, AuthEnvelopedData, AES-128-GCM): every intermediate value
 *   (shared secret, CMSORIforKEMOtherInfo, KEK, CEK) and the plaintext are reproduced;
 * - third-party envelopes: IETF hackathon bc / cryptonext / carl-redhound / cht EnvelopedData and
 *   AuthEnvelopedData (HKDF-SHA256/512, with/without ukm, both rid forms, 512/768/1024) open;
 *   cht's `*_kemri_auth_*` (ML-KEM inside a KeyTransRecipientInfo) is not taken for a KEMRI;
 * - our output: encryptKemri → decryptKemri for all levels and options, and envelopes we assemble
 *   opened by an independent recipient (OpenSSL 3.5 primitives + asn1js in REFERENCE_NODE; Node
 *   has no CMS API), and by `openssl cms` when a 3.5 CLI exists;
 * - bad input: only the documented CmsError kinds, never another exception.
 * Vectors: test/vectors/pqc (origins in its README).
 * Leaves out: choosing a RecipientInfo among several and SCEP semantics (src/cms/enveloped-data.ts).
 */
import { execFileSync } from 'node:child_process';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Attribute, EncryptedContent, EncryptedContentInfo, EnvelopedData, KeyEncryptionAlgorithmIdentifier, KeyTransRecipientInfo,
  OtherRecipientInfo, RecipientInfo, RecipientInfos,
} from '@peculiar/asn1-cms';
import { OctetString } from '@peculiar/asn1-schema';
import * as asn1js from 'asn1js';
import { AlgorithmIdentifier, Certificate, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { describe, expect, it } from 'vitest';
import { AES_128_GCM, AES_256_CBC, AES_256_GCM, AES_128_CBC, GCMParameters } from '../algorithms/aes.ts';
import { AES_128_WRAP, AES_192_WRAP, AES_256_WRAP } from '../algorithms/aes-kw.ts';
import { HKDF_SHA256, HKDF_SHA384, HKDF_SHA512 } from '../algorithms/hkdf.ts';
import { ALGORITHMS } from '../algorithms/index.ts';
import { ML_KEM_1024, ML_KEM_1024_KEY, ML_KEM_512, ML_KEM_512_KEY, ML_KEM_768, ML_KEM_768_KEY } from '../algorithms/ml-kem.ts';
import { RSA_2048 } from '../algorithms/rsa.ts';
import { fromPem, toPem } from '../src/ca/pem.ts';
import { fromTree, octets, parse, parseTree, serialize } from '../src/cms/der.ts';
import { authAttributesAad, openEnvelope } from '../src/cms/enveloped-data.ts';
import { derOf } from '../src/cms/pre-encoded.ts';
import { CmsError, type CmsFailureName } from '../src/cms/errors.ts';
import {
  CMSORIforKEMOtherInfo, KEMRecipientInfo, decryptKemri, encryptKemri, id_ori_kem, kdfInfo, kemRecipientInfo,
} from '../src/cms/kem-recipient-info.ts';
import { id_ct_authEnvelopedData, id_data, id_envelopedData } from '../src/cms/oids.ts';
import { Attributes, AuthEnvelopedData } from '../src/cms/schema.ts';
import { identifies, parseContentInfo } from '../src/cms/signed-data.ts';
import { wrap } from '../src/cms/signed-data-build.ts';
import { createRegistry } from '../src/crypto/registry.ts';
import type { Algorithm, ContentCipher, KeyType, PrivateKeyHandle } from '../src/crypto/types.ts';
import { REFERENCE_NODE, hasReferenceNode, referenceMissingReason } from './helpers/openssl35.ts';

const EXTRA: Algorithm[] = [ML_KEM_512, ML_KEM_768, ML_KEM_1024, HKDF_SHA256, HKDF_SHA384, HKDF_SHA512, AES_128_WRAP, AES_192_WRAP, AES_256_WRAP];
const registry = createRegistry([...ALGORITHMS, ...EXTRA.filter((a) => !ALGORITHMS.includes(a))]);

const REPO = fileURLToPath(new URL('..', import.meta.url));
const vector = (p: string) => fileURLToPath(new URL(`./vectors/pqc/${p}`, import.meta.url));
const bytes = (p: string) => new Uint8Array(readFileSync(vector(p)));
const pem = (p: string) => fromPem(readFileSync(vector(p), 'utf8'))[0]!.der;
const text = (p: string) => readFileSync(vector(p), 'utf8');
const hexFile = (p: string) => text(p).replace(/\s/g, '').toLowerCase();
const hex = (b: Uint8Array | ArrayBuffer) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('hex');
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const certificate = (der: Uint8Array) => parse(der, Certificate, 'certificate');

const LEVELS = [
  { level: 512, key: ML_KEM_512_KEY, wrap: AES_128_WRAP },
  { level: 768, key: ML_KEM_768_KEY, wrap: AES_256_WRAP },
  { level: 1024, key: ML_KEM_1024_KEY, wrap: AES_256_WRAP },
] as const;
const keyTypeOf = (oid: string): KeyType => [ML_KEM_512_KEY, ML_KEM_768_KEY, ML_KEM_1024_KEY].find((k) => k.spkiOid === oid)!;
const rfcCert = (level: number) => certificate(pem(`rfc/rfc9935-ML-KEM-${level}.crt`));
const rfcKey = (level: number, form = 'seed') => keyTypeOf(`2.16.840.1.101.3.4.4.${[512, 768, 1024].indexOf(level) + 1}`).importPkcs8(pem(`rfc/rfc9935-ML-KEM-${level}-${form}.priv`));

/** The envelope's content bytes (primitive or constructed encryptedContent). */
function encryptedBytes(eci: EncryptedContentInfo): Uint8Array {
  const ec = eci.encryptedContent!;
  return ec.value ? octets(ec.value) : new Uint8Array(Buffer.concat(ec.constructedValue!.map((p) => octets(p))));
}

interface Opened {
  readonly plaintext: Uint8Array;
  readonly kemri: KEMRecipientInfo;
  readonly aead: boolean;
  readonly version: number;
}

/** Opens an EnvelopedData / AuthEnvelopedData with its first KEMRecipientInfo, the way enveloped-data.ts should. */
async function openKem(der: Uint8Array, key: PrivateKeyHandle, cert?: Certificate): Promise<Opened> {
  const { contentType, content } = parseContentInfo(der, [id_envelopedData, id_ct_authEnvelopedData]);
  const aead = contentType === id_ct_authEnvelopedData;
  const tree = parseTree(content, 'envelope');
  const env = aead ? fromTree(tree, AuthEnvelopedData, 'AuthEnvelopedData') : fromTree(tree, EnvelopedData, 'EnvelopedData');
  const kemri = env.recipientInfos.map(kemRecipientInfo).find((k) => k !== undefined);
  if (!kemri) throw new CmsError('undecryptable', 'no KEMRecipientInfo');
  if (cert && !identifies(kemri.rid, cert)) throw new Error('rid does not name the certificate');
  const eci = env instanceof AuthEnvelopedData ? env.authEncryptedContentInfo : env.encryptedContentInfo;
  const cipher = registry.byOid('cipher', eci.contentEncryptionAlgorithm.algorithm);
  const cek = await decryptKemri(kemri, key, registry);
  const params = eci.contentEncryptionAlgorithm.parameters ? new Uint8Array(eci.contentEncryptionAlgorithm.parameters) : null;
  const aad = aead ? authAttributesAad(tree) : undefined; // RFC 5083 §2.2
  const tag = env instanceof AuthEnvelopedData ? octets(env.mac) : undefined;
  return { plaintext: cipher.decrypt(cek, params, encryptedBytes(eci), tag, aad), kemri, aead, version: env.version };
}

/** Assembles an envelope around one RecipientInfo (EnvelopedData v3 for an ori, RFC 5652 §6.1; AuthEnvelopedData v0). */
function envelope(ri: RecipientInfo, cipher: ContentCipher, cek: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const { parameters, ciphertext, tag } = cipher.encrypt(cek, plaintext);
  const eci = new EncryptedContentInfo({
    contentType: id_data,
    contentEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: cipher.oids[0], parameters: parameters.slice().buffer }),
    encryptedContent: new EncryptedContent({ value: new OctetString(ciphertext) }),
  });
  const recipientInfos = new RecipientInfos([ri]);
  if (cipher.aead) return wrap(id_ct_authEnvelopedData, new AuthEnvelopedData({ version: 0, recipientInfos, authEncryptedContentInfo: eci, mac: new OctetString(tag!) }));
  return wrap(id_envelopedData, new EnvelopedData({ version: 3, recipientInfos, encryptedContentInfo: eci }));
}

async function expectCms(p: Promise<unknown>, failure: CmsFailureName): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, `expected CmsError('${failure}')`).toBeInstanceOf(CmsError);
  expect((err as CmsError).failure).toBe(failure);
}

describe('RFC 9936 example: ML-KEM-512 AuthEnvelopedData, every intermediate', () => {
  const cms = pem('rfc/rfc9936-ML-KEM-512.cms');
  const cert = certificate(pem('rfc/rfc9936-ML-KEM-512.pem'));
  const { content } = parseContentInfo(cms, [id_ct_authEnvelopedData]);
  const env = parse(content, AuthEnvelopedData, 'AuthEnvelopedData');
  const ri = env.recipientInfos[0]!;
  const kemri = kemRecipientInfo(ri)!;

  it('parses as ori / id-ori-kem with the RFC 9936 §3 algorithms; our schema re-encodes it byte for byte', () => {
    expect(ri.ori?.oriType).toBe(id_ori_kem);
    expect(kemri).toBeInstanceOf(KEMRecipientInfo);
    expect(kemri.version).toBe(0);
    expect(hex(octets(kemri.rid.subjectKeyIdentifier!))).toBe(hexFile('rfc/rfc9936-ML-KEM-512.keyid'));
    expect(identifies(kemri.rid, cert)).toBe(true);
    expect([kemri.kem.algorithm, kemri.kdf.algorithm, kemri.wrap.algorithm]).toEqual(['2.16.840.1.101.3.4.4.1', '1.2.840.113549.1.9.16.3.28', '2.16.840.1.101.3.4.1.5']);
    expect(kemri.kekLength).toBe(16);
    expect(kemri.ukm).toBeUndefined();
    expect(hex(octets(kemri.kemct))).toBe(hexFile('rfc/rfc9936-ciphertext.txt'));
    expect(hex(octets(kemri.encryptedKey))).toBe(hexFile('rfc/rfc9936-encrypted_cek.txt'));
    expect(hex(serialize(kemri))).toBe(hex(ri.ori!.oriValue));
  });

  it.each(['seed', 'expanded', 'both'])('shared secret, ori_info, KEK, CEK and plaintext reproduced (%s key)', async (form) => {
    const key = ML_KEM_512_KEY.importPkcs8(pem(`rfc/rfc9936-ML-KEM-512-${form}.priv`));
    const ss = await ML_KEM_512.decapsulate(octets(kemri.kemct), key);
    expect(hex(ss)).toBe(hexFile('rfc/rfc9936-shared_secret.txt'));
    const info = kdfInfo(kemri);
    expect(hex(info)).toBe(hexFile('rfc/rfc9936-ori_info.txt'));
    const built = serialize(new CMSORIforKEMOtherInfo({ wrap: new KeyEncryptionAlgorithmIdentifier({ algorithm: AES_128_WRAP.oids[0] }), kekLength: 16 }));
    expect(hex(built)).toBe(hexFile('rfc/rfc9936-ori_info.txt'));
    const kek = HKDF_SHA256.derive(ss, info, 16);
    expect(hex(kek)).toBe(hexFile('rfc/rfc9936-kek.txt'));
    expect(hex(AES_128_WRAP.unwrap(kek, octets(kemri.encryptedKey)))).toBe(hexFile('rfc/rfc9936-cek.txt'));
    expect(hex(await decryptKemri(kemri, key, registry))).toBe(hexFile('rfc/rfc9936-cek.txt'));
    const opened = await openKem(cms, key, cert);
    expect(opened.aead).toBe(true);
    expect(Buffer.from(opened.plaintext).toString()).toBe(text('rfc/rfc9936-plaintext.txt'));
    expect(text('rfc/rfc9936-plaintext.txt')).toBe('Hello, world!');
  });
});

/**
 * RFC 5083 §2.1-2.2: authAttrs are authenticated: AES-GCM's AAD is their DER with the SET OF tag
 * (0x31) in place of [1] IMPLICIT. The RFC 9936 example's RecipientInfo and CEK, around content
 * sealed here with node:crypto's AES-128-GCM and that AAD.
 */
describe('RFC 5083 §2.2 AuthEnvelopedData authAttrs are the AAD (RFC 9936 example recipient)', () => {
  const cms = pem('rfc/rfc9936-ML-KEM-512.cms');
  const env = parse(parseContentInfo(cms, [id_ct_authEnvelopedData]).content, AuthEnvelopedData, 'AuthEnvelopedData');
  const cek = Buffer.from(hexFile('rfc/rfc9936-cek.txt'), 'hex');
  const key = ML_KEM_512_KEY.importPkcs8(pem('rfc/rfc9936-ML-KEM-512-seed.priv'));
  const recipient = { certificate: certificate(pem('rfc/rfc9936-ML-KEM-512.pem')), key };
  const attrs = [new Attribute({ attrType: '1.2.840.113549.1.9.3', attrValues: [new asn1js.ObjectIdentifier({ value: id_data }).toBER()] })];
  const attrsDer = serialize(new Attributes(attrs)); // SET OF Attribute: the AAD as §2.2 defines it

  /** An AuthEnvelopedData carrying `attrs`, its GCM tag computed over `aad`. */
  function sealed(aad: Uint8Array | undefined): Uint8Array {
    const nonce = randomBytes(12);
    const gcm = createCipheriv('aes-128-gcm', cek, nonce);
    if (aad) gcm.setAAD(aad);
    const ciphertext = Buffer.concat([gcm.update('authenticated, attributes too'), gcm.final()]);
    const eci = new EncryptedContentInfo({
      contentType: id_data,
      contentEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: '2.16.840.1.101.3.4.1.6', parameters: serialize(new GCMParameters({ nonce: new Uint8Array(nonce).buffer, icvLen: 16 })).buffer as ArrayBuffer }),
      encryptedContent: new EncryptedContent({ value: new OctetString(ciphertext) }),
    });
    return wrap(id_ct_authEnvelopedData, new AuthEnvelopedData({ version: 0, recipientInfos: env.recipientInfos, authEncryptedContentInfo: eci, authAttrs: attrs, mac: new OctetString(gcm.getAuthTag()) }));
  }

  it('opens when the tag covers the authAttrs; the AAD read from the message is their SET OF DER', async () => {
    const der = sealed(attrsDer);
    const content = parseContentInfo(der, [id_ct_authEnvelopedData]).content;
    expect(hex(authAttributesAad(parseTree(content, 'AuthEnvelopedData'))!)).toBe(hex(attrsDer));
    const opened = await openEnvelope(der, [recipient], registry);
    expect(Buffer.from(opened.content).toString()).toBe('authenticated, attributes too');
  });

  it('is undecryptable when the tag was computed without the authAttrs', async () => {
    await expectCms(openEnvelope(sealed(undefined), [recipient], registry), 'undecryptable');
  });
});

/** Every `*_kemri_*.der` of the hackathon CMS sets, with the keys its provider published. */
const CMS_DIRS = [
  'hackathon/bc/artifacts_cms_v3/artifacts_cms_v3',
  'hackathon/cryptonext/artifacts_cms_v3/artifacts_cms_v3',
  'hackathon/carl-redhound/artifacts_cms_v3_full',
  'hackathon/cht/artifacts_cms_v3/artifacts_cms_v3',
];
const ARTIFACTS = CMS_DIRS.flatMap((dir) => {
  const files = readdirSync(vector(dir));
  return files.filter((f) => f.includes('_kemri')).map((f) => {
    const base = f.slice(0, f.indexOf('_kemri'));
    const keys = files.filter((k) => k.startsWith(`${base}_`) && k.endsWith('priv.der'));
    const negative = dir.includes('/cht/') && f.includes('_kemri_auth_'); // ML-KEM in a KTRI: malformed
    return { name: `${dir.split('/')[1]} ${f}`, dir, file: f, base, keys, negative };
  });
});
const POSITIVE = ARTIFACTS.filter((a) => !a.negative);
const NEGATIVE = ARTIFACTS.filter((a) => a.negative);
const artifactKey = (dir: string, keyFile: string, base: string) => {
  const oid = base.slice(base.lastIndexOf('-') + 1);
  return keyTypeOf(oid).importPkcs8(bytes(`${dir}/${keyFile}`));
};

describe('IETF hackathon artifacts_cms_v3: third-party envelopes open', () => {
  it('has 39 well-formed artifacts (bc 12, cryptonext 12, carl-redhound 12, cht 3) and 3 malformed cht ones', () => {
    expect(POSITIVE.length).toBe(39);
    expect(NEGATIVE.length).toBe(3);
  });

  it.each(POSITIVE)('$name decrypts to expected_plaintext.txt with every published key form', async ({ dir, file, base, keys }) => {
    const der = bytes(`${dir}/${file}`);
    const cert = certificate(bytes(`${dir}/${base}_ee.der`));
    const expected = text(`${dir}/expected_plaintext.txt`);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      const opened = await openKem(der, artifactKey(dir, k, base), cert);
      expect(Buffer.from(opened.plaintext).toString(), k).toBe(expected);
      if (!opened.aead) expect(opened.version).toBe(3);
    }
  });

  it('covers HKDF-SHA256 and -SHA512, ukm and none, both rid forms, both envelope types, all levels, both wraps', async () => {
    const seen = new Set<string>();
    for (const { dir, file } of POSITIVE) {
      const { contentType, content } = parseContentInfo(bytes(`${dir}/${file}`), [id_envelopedData, id_ct_authEnvelopedData]);
      const env = contentType === id_ct_authEnvelopedData ? parse(content, AuthEnvelopedData, 'x') : parse(content, EnvelopedData, 'x');
      const k = kemRecipientInfo(env.recipientInfos[0]!)!;
      seen.add(`kdf:${k.kdf.algorithm}`).add(`ukm:${!!k.ukm}`).add(`rid:${k.rid.subjectKeyIdentifier ? 'ski' : 'ias'}`);
      seen.add(`type:${contentType}`).add(`kem:${k.kem.algorithm}`).add(`wrap:${k.wrap.algorithm}`);
    }
    expect([...seen].sort()).toEqual([
      'kdf:1.2.840.113549.1.9.16.3.28', 'kdf:1.2.840.113549.1.9.16.3.30',
      'kem:2.16.840.1.101.3.4.4.1', 'kem:2.16.840.1.101.3.4.4.2', 'kem:2.16.840.1.101.3.4.4.3',
      'rid:ias', 'rid:ski',
      `type:${id_ct_authEnvelopedData}`, `type:${id_envelopedData}`,
      'ukm:false', 'ukm:true',
      'wrap:2.16.840.1.101.3.4.1.45', 'wrap:2.16.840.1.101.3.4.1.5',
    ].sort());
  });

  it.each(NEGATIVE)('$name (ML-KEM in a KeyTransRecipientInfo) is not a KEMRecipientInfo, and opening it fails cleanly', async ({ dir, file, base, keys }) => {
    const der = bytes(`${dir}/${file}`);
    const { content } = parseContentInfo(der, [id_ct_authEnvelopedData]);
    const env = parse(content, AuthEnvelopedData, 'AuthEnvelopedData');
    expect(env.recipientInfos.length).toBeGreaterThan(0);
    for (const ri of env.recipientInfos) {
      expect(ri.ktri).toBeInstanceOf(KeyTransRecipientInfo);
      expect(kemRecipientInfo(ri)).toBeUndefined();
    }
    const key = artifactKey(dir, keys[0]!, base);
    await expect(openKem(der, key)).rejects.toBeInstanceOf(CmsError);
    const eeCert = certificate(bytes(`${dir}/${base}_ee.der`));
    await expect(openEnvelope(der, [{ certificate: eeCert, key }], registry)).rejects.toBeInstanceOf(CmsError);
  });

  it('our schema re-encodes every third-party KEMRecipientInfo byte for byte', () => {
    for (const { dir, file } of POSITIVE) {
      const { contentType, content } = parseContentInfo(bytes(`${dir}/${file}`), [id_envelopedData, id_ct_authEnvelopedData]);
      const env = contentType === id_ct_authEnvelopedData ? parse(content, AuthEnvelopedData, 'x') : parse(content, EnvelopedData, 'x');
      const ri = env.recipientInfos[0]!;
      expect(hex(serialize(kemRecipientInfo(ri)!)), file).toBe(hex(ri.ori!.oriValue));
    }
  });
});

/** A copy of an RFC 9935 certificate carrying `spki` instead (the signature no longer matters here). */
function certFor(spki: Uint8Array, template = rfcCert(512)): Certificate {
  const cert = certificate(serialize(template));
  cert.tbsCertificate.subjectPublicKeyInfo = parse(spki, SubjectPublicKeyInfo, 'spki');
  return cert;
}

const OPTIONS = [
  { label: 'defaults', opts: {} },
  { label: 'ukm', opts: { ukm: new Uint8Array(randomBytes(40)) } },
  { label: 'subjectKeyIdentifier rid', opts: { useSki: true } },
  { label: 'HKDF-SHA512 + AES-192-WRAP + ukm + SKI', opts: { kdf: 'HKDF-SHA512', wrap: 'AES-192-WRAP', ukm: new Uint8Array([1, 2, 3]), useSki: true } },
  { label: 'HKDF-SHA384', opts: { kdf: 'HKDF-SHA384' } },
] as const;
const CASES = LEVELS.flatMap((l) => OPTIONS.map((o) => ({ ...l, ...o })));

describe('encryptKemri → decryptKemri round trip', () => {
  it.each(CASES)('ML-KEM-$level, $label', async ({ level, wrap: defaultWrap, opts }) => {
    const cert = rfcCert(level);
    const cek = new Uint8Array(randomBytes(32));
    const ri = await encryptKemri(cek, cert, registry, opts);
    expect(ri.ori?.oriType).toBe(id_ori_kem);
    // RFC 5652 §6.2.5: the DER written for it (around the KEMRecipientInfo's bytes) is what asn1-schema writes.
    expect(hex(derOf(ri))).toBe(hex(serialize(new RecipientInfo({ ori: new OtherRecipientInfo({ oriType: ri.ori!.oriType, oriValue: ri.ori!.oriValue }) }))));
    const kemri = kemRecipientInfo(ri)!;
    const wrapAlg = 'wrap' in opts ? registry.byName('key-wrap', opts.wrap) : defaultWrap;
    const kdfAlg = registry.byName('kdf', 'kdf' in opts ? opts.kdf : 'HKDF-SHA256');
    expect(kemri.version).toBe(0);
    expect(identifies(kemri.rid, cert)).toBe(true);
    expect(!!kemri.rid.subjectKeyIdentifier).toBe('useSki' in opts);
    expect(kemri.kekLength).toBe(wrapAlg.keySize);
    // RFC 9936 §3 / RFC 8619 §3 / RFC 3565: all three AlgorithmIdentifiers have parameters absent.
    const oidOnly = (a: AlgorithmIdentifier) => hex(serialize(new AlgorithmIdentifier({ algorithm: a.algorithm })));
    expect([hex(serialize(kemri.kem)), hex(serialize(kemri.kdf)), hex(serialize(kemri.wrap))]).toEqual([oidOnly(kemri.kem), oidOnly(kemri.kdf), oidOnly(kemri.wrap)]);
    expect([kemri.kem.algorithm, kemri.kdf.algorithm, kemri.wrap.algorithm]).toEqual([`2.16.840.1.101.3.4.4.${[512, 768, 1024].indexOf(level) + 1}`, kdfAlg.oids[0], wrapAlg.oids[0]]);
    if ('ukm' in opts) {
      expect(hex(octets(kemri.ukm!))).toBe(hex(opts.ukm));
      // ukm [0] EXPLICIT: A0 len 04 len ukm
      const ukmTlv = hex(new Uint8Array([0xa0, opts.ukm.length + 2, 0x04, opts.ukm.length, ...opts.ukm]));
      expect(hex(serialize(kemri))).toContain(ukmTlv);
    } else expect(kemri.ukm).toBeUndefined();
    expect(hex(await decryptKemri(kemri, rfcKey(level), registry))).toBe(hex(cek));
    expect(hex(await decryptKemri(kemri, rfcKey(level, 'expanded'), registry))).toBe(hex(cek));
  });

  it('a ukm of 1,100 bytes (the KDF info past node:crypto\'s 1,024-byte HKDF limit) round-trips; HKDF there is the same function', async () => {
    const ukm = new Uint8Array(randomBytes(1100));
    const cek = new Uint8Array(randomBytes(32));
    const kemri = kemRecipientInfo(await encryptKemri(cek, rfcCert(768), registry, { ukm }))!;
    expect(kdfInfo(kemri).length).toBeGreaterThan(1024);
    expect(hex(await decryptKemri(kemri, rfcKey(768), registry))).toBe(hex(cek));
    // RFC 5869: at 1,024 bytes of info node:crypto still answers; the long-info path must agree with it there.
    const secret = new Uint8Array(randomBytes(32));
    const info = new Uint8Array(randomBytes(1025));
    for (const kdf of [HKDF_SHA256, HKDF_SHA384, HKDF_SHA512]) {
      const bits = Number(kdf.name.slice(-3)) as 256 | 384 | 512;
      const hash = { 256: sha256, 384: sha384, 512: sha512 }[bits];
      const at1024 = info.subarray(0, 1024);
      // Two implementations (OpenSSL through node:crypto, @noble/hashes) agree where both apply...
      expect(hex(hkdf(hash, secret, new Uint8Array(0), at1024, 48))).toBe(hex(hkdfSync(`sha${bits}`, secret, new Uint8Array(0), at1024, 48)));
      expect(hex(kdf.derive(secret, at1024, 48))).toBe(hex(hkdfSync(`sha${bits}`, secret, new Uint8Array(0), at1024, 48)));
      // ...and past the limit the same hash is used.
      expect(hex(kdf.derive(secret, info, 48))).toBe(hex(hkdf(hash, secret, new Uint8Array(0), info, 48)));
    }
  });

  it.each(LEVELS)('ML-KEM-$level: a freshly generated key, inside EnvelopedData and AuthEnvelopedData', async ({ level, key }) => {
    const h = await key.generate();
    const cert = certFor(h.spki, rfcCert(level));
    const plaintext = new Uint8Array(randomBytes(333));
    for (const cipher of [AES_256_CBC, AES_128_GCM]) {
      const cek = new Uint8Array(randomBytes(cipher.keySize));
      const der = envelope(await encryptKemri(cek, cert, registry), cipher, cek, plaintext);
      const opened = await openKem(der, h, cert);
      expect(hex(opened.plaintext)).toBe(hex(plaintext));
      expect(opened.version).toBe(cipher.aead ? 0 : 3);
    }
  });

  it('refuses certificates without a KEM key and unknown KDF / wrap names (badAlg); SKI rid needs the extension', async () => {
    const cek = new Uint8Array(16);
    const rsa = certFor((await RSA_2048.generate()).spki);
    await expectCms(encryptKemri(cek, rsa, registry), 'badAlg');
    await expectCms(encryptKemri(cek, rfcCert(512), registry, { kdf: 'HKDF-MD5' }), 'badAlg');
    await expectCms(encryptKemri(cek, rfcCert(512), registry, { wrap: 'AES-128-CBC' }), 'badAlg');
    const noSki = certificate(serialize(rfcCert(512)));
    noSki.tbsCertificate.extensions = undefined;
    await expect(encryptKemri(cek, noSki, registry, { useSki: true })).rejects.toBeInstanceOf(RangeError);
    const lean = createRegistry(ALGORITHMS.filter((a) => a.kind !== 'kem')); // no KEM registered
    await expectCms(encryptKemri(cek, rfcCert(512), lean), 'badAlg');
  });
});

/**
 * An independent KEMRI recipient in REFERENCE_NODE: asn1js walks the CMS, OpenSSL 3.5 decapsulates,
 * runs HKDF, AES key unwrap and the content cipher. Nothing of ours runs there.
 */
const INDEPENDENT_RECIPIENT = `
import { readFileSync } from 'node:fs';
import { createDecipheriv, createPrivateKey, decapsulate, hkdfSync } from 'node:crypto';
import * as asn1js from 'asn1js';
const HASH = { '1.2.840.113549.1.9.16.3.28': 'sha256', '1.2.840.113549.1.9.16.3.29': 'sha384', '1.2.840.113549.1.9.16.3.30': 'sha512' };
const WRAP = { '2.16.840.1.101.3.4.1.5': 'id-aes128-wrap', '2.16.840.1.101.3.4.1.25': 'id-aes192-wrap', '2.16.840.1.101.3.4.1.45': 'id-aes256-wrap' };
const CIPHER = { '2.16.840.1.101.3.4.1.2': 'aes-128-cbc', '2.16.840.1.101.3.4.1.42': 'aes-256-cbc', '2.16.840.1.101.3.4.1.6': 'aes-128-gcm', '2.16.840.1.101.3.4.1.46': 'aes-256-gcm' };
const raw = (e) => Buffer.from(e.valueBeforeDecodeView);
const val = (e) => Buffer.from(e.valueBlock.valueHexView);
const octets = (e) => (e.idBlock.isConstructed ? Buffer.concat(e.valueBlock.value.map(octets)) : val(e)); // BER constructed strings
const seq = (parts) => { const body = Buffer.concat(parts); const len = body.length < 128 ? [body.length] : [0x81, body.length]; return Buffer.concat([Buffer.from([0x30, ...len]), body]); };
const open = ({ cms, pkcs8 }) => {
  const ci = asn1js.fromBER(Buffer.from(cms, 'base64')).result;
  const f = ci.valueBlock.value[1].valueBlock.value[0].valueBlock.value; // version, recipientInfos, eci[, mac]
  const [oriType, kemri] = f[1].valueBlock.value[0].valueBlock.value;   // [4] { oriType, oriValue }
  const k = [...kemri.valueBlock.value];
  const [, , , kemct, kdf, kekLength] = k.splice(0, 6);
  const ukm = k[0].idBlock.tagClass === 3 ? k.shift() : undefined;
  const [wrapAlg, encryptedKey] = k;
  const ss = decapsulate(createPrivateKey({ key: Buffer.from(pkcs8, 'base64'), format: 'der', type: 'pkcs8' }), val(kemct));
  const info = seq([raw(wrapAlg), raw(kekLength), ...(ukm ? [raw(ukm)] : [])]);
  const kek = Buffer.from(hkdfSync(HASH[kdf.valueBlock.value[0].getValue()], ss, Buffer.alloc(0), info, kekLength.valueBlock.valueDec));
  const unwrap = createDecipheriv(WRAP[wrapAlg.valueBlock.value[0].getValue()], kek, Buffer.alloc(8, 0xa6));
  const cek = Buffer.concat([unwrap.update(val(encryptedKey)), unwrap.final()]);
  const [, alg, content] = f[2].valueBlock.value;
  const [algOid, params] = alg.valueBlock.value;
  const name = CIPHER[algOid.getValue()];
  const gcm = name.endsWith('gcm');
  const d = createDecipheriv(name, cek, gcm ? val(params.valueBlock.value[0]) : val(params));
  if (gcm) d.setAuthTag(val(f[3]));
  const plaintext = Buffer.concat([d.update(octets(content)), d.final()]);
  return { oriType: oriType.getValue(), cek: cek.toString('base64'), plaintext: plaintext.toString('base64') };
};
const out = JSON.parse(readFileSync(0, 'utf8')).map((item, i) => { try { return open(item); } catch (e) { return { error: i + ": " + String(e.stack) }; } });
process.stdout.write(JSON.stringify(out));
`;

const itRef = hasReferenceNode && existsSync(REFERENCE_NODE) ? it : (title: string, _fn?: unknown) => it.skip(`${title} (skipped: ${referenceMissingReason})`, () => {});

const cliVersion = (() => {
  try {
    return execFileSync('openssl', ['version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return '';
  }
})();
const cli35 = (() => {
  const m = /OpenSSL (\d+)\.(\d+)/.exec(cliVersion);
  return !!m && (Number(m[1]) > 3 || (Number(m[1]) === 3 && Number(m[2]) >= 5));
})();
const itCli = cli35 ? it : (title: string, _fn?: unknown) => it.skip(`${title} (skipped: the openssl CLI here is ${cliVersion || 'absent'}; KEMRecipientInfo needs OpenSSL 3.5)`, () => {});

/** Envelopes we produce for the RFC 9935 keys, across levels, ciphers and options. */
async function ourEnvelopes() {
  const plaintext = new Uint8Array(randomBytes(100));
  const rows: { level: number; label: string; der: Uint8Array; cek: Uint8Array; key: PrivateKeyHandle; cert: Certificate }[] = [];
  const variants: { cipher: ContentCipher; opts: Parameters<typeof encryptKemri>[3] }[] = [
    { cipher: AES_256_CBC, opts: {} },
    { cipher: AES_128_GCM, opts: { ukm: new Uint8Array([9, 8, 7]), useSki: true } },
    { cipher: AES_256_GCM, opts: { kdf: 'HKDF-SHA512' } },
    { cipher: AES_128_CBC, opts: { kdf: 'HKDF-SHA384', wrap: 'AES-192-WRAP', ukm: new Uint8Array(200) } },
  ];
  for (const { level } of LEVELS)
    for (const { cipher, opts } of variants) {
      const cek = new Uint8Array(randomBytes(cipher.keySize));
      const cert = rfcCert(level);
      const der = envelope(await encryptKemri(cek, cert, registry, opts), cipher, cek, plaintext);
      rows.push({ level, label: `${cipher.name} ${JSON.stringify(Object.keys(opts ?? {}))}`, der, cek, key: rfcKey(level), cert });
    }
  return { plaintext, rows };
}

describe('our envelopes opened by an implementation that is not ours', () => {
  itRef('OpenSSL 3.5 primitives + asn1js (REFERENCE_NODE) recover our CEK and plaintext; the same script opens the RFC 9936 and bc artifacts', async () => {
    const { plaintext, rows } = await ourEnvelopes();
    const bcDir = 'hackathon/bc/artifacts_cms_v3/artifacts_cms_v3';
    const bcBase = 'ml-kem-768-2.16.840.1.101.3.4.4.2';
    const controls = [
      { cms: b64(pem('rfc/rfc9936-ML-KEM-512.cms')), pkcs8: b64(pem('rfc/rfc9936-ML-KEM-512-seed.priv')), expected: text('rfc/rfc9936-plaintext.txt') },
      { cms: b64(bytes(`${bcDir}/${bcBase}_kemri_id-alg-hkdf-with-sha256_ukm.der`)), pkcs8: b64(bytes(`${bcDir}/${bcBase}_priv.der`)), expected: text(`${bcDir}/expected_plaintext.txt`) },
    ];
    const input = [...controls.map(({ cms, pkcs8 }) => ({ cms, pkcs8 })), ...rows.map((r) => ({ cms: b64(r.der), pkcs8: b64(keyTypeOf(r.cert.tbsCertificate.subjectPublicKeyInfo.algorithm.algorithm).exportPkcs8(r.key)) }))];
    const out = JSON.parse(execFileSync(REFERENCE_NODE, ['--no-warnings', '--input-type=module', '-e', INDEPENDENT_RECIPIENT], {
      cwd: REPO, input: JSON.stringify(input), maxBuffer: 64 << 20, timeout: 60_000,
    }).toString()) as { oriType: string; cek: string; plaintext: string; error?: string }[];
    expect(out.filter((o) => o.error)).toEqual([]);
    controls.forEach((c, i) => expect(Buffer.from(out[i]!.plaintext, 'base64').toString(), `control ${i}`).toBe(c.expected));
    rows.forEach((r, i) => {
      const o = out[controls.length + i]!;
      expect(o.oriType).toBe(id_ori_kem);
      expect(o.cek, `ML-KEM-${r.level} ${r.label}`).toBe(b64(r.cek));
      expect(o.plaintext, `ML-KEM-${r.level} ${r.label}`).toBe(b64(plaintext));
    });
  });

  itCli('openssl cms -decrypt opens our EnvelopedData and AuthEnvelopedData', async () => {
    const { plaintext, rows } = await ourEnvelopes();
    const dir = mkdtempSync(join(tmpdir(), 'pqscep-kemri-'));
    try {
      for (const r of rows) {
        const type = keyTypeOf(r.cert.tbsCertificate.subjectPublicKeyInfo.algorithm.algorithm);
        writeFileSync(join(dir, 'in.der'), r.der);
        writeFileSync(join(dir, 'key.pem'), toPem('PRIVATE KEY', type.exportPkcs8(r.key)));
        writeFileSync(join(dir, 'cert.pem'), toPem('CERTIFICATE', serialize(r.cert)));
        const out = execFileSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', 'in.der', '-inkey', 'key.pem', '-recip', 'cert.pem'], { cwd: dir });
        expect(hex(new Uint8Array(out)), `ML-KEM-${r.level} ${r.label}`).toBe(hex(plaintext));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bad input: only the documented CmsError kinds', () => {
  const cek = new Uint8Array(randomBytes(16));
  /** A fresh, valid ML-KEM-512 KEMRecipientInfo (DER) for the RFC 9935 key, to mutate. */
  const fresh = async (opts: Parameters<typeof encryptKemri>[3] = {}) => {
    const ri = await encryptKemri(cek, rfcCert(512), registry, opts);
    return () => kemRecipientInfo(ri)!; // a new parse each call
  };
  const key = rfcKey(512);

  it('the unmodified input decrypts (control)', async () => {
    expect(hex(await decryptKemri((await fresh())(), key, registry))).toBe(hex(cek));
  });

  it('an id-ori-kem RecipientInfo whose oriValue is NULL (RFC 5652 §6.2.5: ANY) → undecryptable, no other error', async () => {
    const nullOri = new RecipientInfo({ ori: new OtherRecipientInfo({ oriType: id_ori_kem, oriValue: null as unknown as ArrayBuffer }) });
    const der = envelope(nullOri, AES_128_CBC, cek, new Uint8Array(32));
    expect(hex(der)).toContain(hex(new asn1js.ObjectIdentifier({ value: id_ori_kem }).toBER()) + '0500'); // the NULL really is sent
    await expectCms(openEnvelope(der, [{ certificate: rfcCert(512), key }], registry), 'undecryptable');
  });

  it('truncated, empty or bit-flipped kemct → undecryptable', async () => {
    const k = await fresh();
    for (const mutate of [(b: Uint8Array) => b.subarray(0, -1), () => new Uint8Array(0), (b: Uint8Array) => new Uint8Array([...b, 0]), (b: Uint8Array) => b.map((x, i) => (i === 100 ? x ^ 1 : x))]) {
      const kemri = k();
      kemri.kemct = new OctetString(mutate(octets(kemri.kemct)));
      await expectCms(decryptKemri(kemri, key, registry), 'undecryptable');
    }
  });

  it('kekLength that does not match the wrap key size → undecryptable', async () => {
    const k = await fresh();
    for (const kekLength of [32, 24, 15, 0, 1, 65535, -16]) {
      const kemri = k();
      kemri.kekLength = kekLength;
      await expectCms(decryptKemri(kemri, key, registry), 'undecryptable');
    }
    const kemri = k();
    kemri.wrap = new KeyEncryptionAlgorithmIdentifier({ algorithm: AES_256_WRAP.oids[0] }); // kekLength 16 now wrong
    await expectCms(decryptKemri(kemri, key, registry), 'undecryptable');
  });

  it('unknown KDF, wrap or KEM OIDs, or OIDs of another role → badAlg', async () => {
    const k = await fresh();
    const cases: ((x: KEMRecipientInfo) => void)[] = [
      (x) => (x.kdf = new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.9.16.3.99' })),
      (x) => (x.kdf = new AlgorithmIdentifier({ algorithm: AES_128_WRAP.oids[0] })),
      (x) => (x.wrap = new KeyEncryptionAlgorithmIdentifier({ algorithm: '2.16.840.1.101.3.4.1.8' })),
      (x) => (x.wrap = new KeyEncryptionAlgorithmIdentifier({ algorithm: AES_128_GCM.oids[0] })),
      (x) => (x.kem = new AlgorithmIdentifier({ algorithm: '2.16.840.1.101.3.4.4.9' })),
      (x) => (x.kem = new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.1' })),
    ];
    for (const mutate of cases) {
      const kemri = k();
      mutate(kemri);
      await expectCms(decryptKemri(kemri, key, registry), 'badAlg');
    }
  });

  it('tampered or truncated encryptedKey, a changed ukm or KDF, the wrong key → undecryptable', async () => {
    const k = await fresh({ ukm: new Uint8Array([1, 2, 3]) });
    const cases: ((x: KEMRecipientInfo) => void)[] = [
      (x) => (x.encryptedKey = new OctetString(octets(x.encryptedKey).map((b, i) => (i === 3 ? b ^ 0x80 : b)))),
      (x) => (x.encryptedKey = new OctetString(octets(x.encryptedKey).subarray(0, 16))),
      (x) => (x.encryptedKey = new OctetString(new Uint8Array(0))),
      (x) => (x.ukm = new OctetString(new Uint8Array([1, 2, 4]))),
      (x) => (x.ukm = undefined),
      (x) => (x.kdf = new AlgorithmIdentifier({ algorithm: HKDF_SHA512.oids[0] })),
      (x) => (x.kem = new AlgorithmIdentifier({ algorithm: ML_KEM_768.oids[0] })), // 512 ciphertext for 768
    ];
    for (const mutate of cases) {
      const kemri = k();
      mutate(kemri);
      await expectCms(decryptKemri(kemri, key, registry), 'undecryptable');
    }
    for (const wrong of [await ML_KEM_512_KEY.generate(), rfcKey(768), await RSA_2048.generate(), { keyType: 'ml-kem-512', spki: key.spki }])
      await expectCms(decryptKemri(k(), wrong, registry), 'undecryptable');
  });

  it('version other than 0 → malformed; an id-ori-kem oriValue that does not parse → malformed; other RecipientInfos → undefined', async () => {
    const kemri = (await fresh())();
    kemri.version = 2;
    await expectCms(decryptKemri(kemri, key, registry), 'malformed');
    for (const junk of [new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), new Uint8Array([0x04, 0x01, 0x00]), new Uint8Array(0)]) {
      const ri = new RecipientInfo({ ori: new OtherRecipientInfo({ oriType: id_ori_kem, oriValue: junk.slice().buffer }) });
      expect(() => kemRecipientInfo(ri)).toThrow(CmsError);
      try {
        kemRecipientInfo(ri);
      } catch (err) {
        expect((err as CmsError).failure).toBe('malformed');
      }
    }
    const other = new RecipientInfo({ ori: new OtherRecipientInfo({ oriType: '1.2.840.113549.1.9.16.13.1', oriValue: serialize(kemri).slice().buffer }) });
    expect(kemRecipientInfo(other)).toBeUndefined();
    expect(kemRecipientInfo(new RecipientInfo({ ktri: new KeyTransRecipientInfo() }))).toBeUndefined();
  });

  it('random mutations of the DER (500, seeded) raise nothing but CmsError', async () => {
    const der = serialize((await fresh({ ukm: new Uint8Array([5, 5]) }))());
    let seed = 0x9629;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const kinds = new Map<string, number>();
    for (let i = 0; i < 500; i++) {
      let m = der.slice();
      if (rand(4) === 0) m = m.subarray(0, rand(m.length));
      else for (let j = 1 + rand(3); j > 0; j--) m[rand(m.length)] = rand(256);
      const ri = new RecipientInfo({ ori: new OtherRecipientInfo({ oriType: id_ori_kem, oriValue: m.slice().buffer }) });
      let outcome = 'ok';
      try {
        const kemri = kemRecipientInfo(ri)!;
        await decryptKemri(kemri, key, registry);
      } catch (err) {
        expect(err, `mutation ${i}`).toBeInstanceOf(CmsError);
        outcome = (err as CmsError).failure;
      }
      kinds.set(outcome, (kinds.get(outcome) ?? 0) + 1);
    }
    expect(kinds.get('malformed')).toBeGreaterThan(0);
    expect(kinds.get('undecryptable')).toBeGreaterThan(0);
  });
});
