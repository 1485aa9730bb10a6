/**
 * KeyAgreeRecipientInfo with ephemeral-static ECDH (RFC 5652 §6.2.2, RFC 5753 §3.1):
 * src/cms/key-agree-recipient-info.ts over algorithms/ecdh.ts, algorithms/x963-kdf.ts and
 * algorithms/aes-kw.ts.
 * - ANSI X9.63 KDF (SEC 1 §3.6.1): NIST CAVP known answers (CAVS 12.0 ansx963_2001.txt, the
 *   file pyca/cryptography ships as vectors/cryptography_vectors/KDF/ansx963_2001.txt), and
 *   `openssl kdf X963KDF` for SHA-256/384/512.
 * - ECC-CMS-SharedInfo (RFC 5753 §7.2): exact DER.
 * - Both directions against an implementation we did not write, the OpenSSL CLI:
 *   `openssl cms -encrypt` (P-256/P-384, -aes128/192/256, -keyopt ecdh_kdf_md:sha256/384/512,
 *   -keyid) → decryptKari → AES-CBC (algorithms/aes.ts) = plaintext; and encryptKari inside an
 *   EnvelopedData v2 we assemble here → `openssl cms -decrypt` = plaintext.
 * - Negative cases: after the algorithms are known every failure is CmsError('undecryptable');
 *   unknown algorithms are CmsError('badAlg'); no single-bit flip raises anything but CmsError.
 * OpenSSL tests are skipped, with the reason in the title, when no `openssl` is on PATH.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EncryptedContent, EncryptedContentInfo, EnvelopedData, IssuerAndSerialNumber, KeyAgreeRecipientIdentifier, KeyAgreeRecipientInfo,
  OriginatorIdentifierOrKey, RecipientInfos, RecipientKeyIdentifier,
} from '@peculiar/asn1-cms';
import { id_secp384r1, ECParameters } from '@peculiar/asn1-ecc';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, SubjectKeyIdentifier } from '@peculiar/asn1-x509';
import { ALGORITHMS } from '../algorithms/index.ts';
import { AES_128_WRAP, AES_192_WRAP, AES_256_WRAP } from '../algorithms/aes-kw.ts';
import { AES_128_CBC, AES_192_CBC, AES_256_CBC } from '../algorithms/aes.ts';
import { STD_DH_SHA1KDF, STD_DH_SHA256KDF, STD_DH_SHA384KDF, STD_DH_SHA512KDF } from '../algorithms/ecdh.ts';
import { ECDH_P256, ECDH_P384, ECDSA_P256, ECDSA_P384, ECDSA_WITH_SHA256, ECDSA_WITH_SHA384, ECDSA_WITH_SHA512 } from '../algorithms/ecdsa.ts';
import { X963_KDF_SHA1, X963_KDF_SHA256, X963_KDF_SHA384, X963_KDF_SHA512, x963Kdf } from '../algorithms/x963-kdf.ts';
import { fromPem } from '../src/ca/pem.ts';
import { octets, parse, serialize } from '../src/cms/der.ts';
import { CmsError } from '../src/cms/errors.ts';
import { decryptKari, eccCmsSharedInfo, encryptKari, kariNames } from '../src/cms/key-agree-recipient-info.ts';
import { id_data, id_envelopedData } from '../src/cms/oids.ts';
import { parseContentInfo } from '../src/cms/signed-data.ts';
import { wrap } from '../src/cms/signed-data-build.ts';
import { createRegistry } from '../src/crypto/registry.ts';
import type { Algorithm, ContentCipher, ShaName, PrivateKeyHandle } from '../src/crypto/types.ts';
import { CipherError } from '../src/crypto/types.ts';

const OURS: readonly Algorithm[] = [
  ECDSA_P256, ECDSA_P384, ECDH_P256, ECDH_P384, ECDSA_WITH_SHA256, ECDSA_WITH_SHA384, ECDSA_WITH_SHA512,
  X963_KDF_SHA256, X963_KDF_SHA384, X963_KDF_SHA512, X963_KDF_SHA1,
  STD_DH_SHA256KDF, STD_DH_SHA384KDF, STD_DH_SHA512KDF, STD_DH_SHA1KDF,
  AES_128_WRAP, AES_192_WRAP, AES_256_WRAP,
];
/** ALGORITHMS plus ours (without duplicates, in case algorithms/index.ts already lists some). */
const all = [...ALGORITHMS.filter((a) => !OURS.includes(a)), ...OURS];
const registry = createRegistry(all);
const legacyRegistry = createRegistry(all, { allowLegacy: true });

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const plaintext = new Uint8Array(randomBytes(1001)); // not a multiple of the block size

function probe(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}
const OPENSSL = probe();
/** A describe that is skipped, with the reason in its title, when no `openssl` is on PATH. */
const describeOpenssl = (title: string, fn: () => void) => describe.skipIf(!OPENSSL)(OPENSSL ? title : `${title} (skipped: no \`openssl\` on PATH)`, fn);

async function failureOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CmsError) return err.failure;
    throw err;
  }
  throw new Error('expected a CmsError, got success');
}

describe('ANSI X9.63 KDF (SEC 1 §3.6.1)', () => {
  // NIST CAVP, CAVS 12.0 "ANS X9.63-2001 KDF" response file: [hash][shared secret length][SharedInfo length][key data length].
  const CAVP: [ShaName, string, string, string][] = [
    ['SHA-1', '1c7d7b5f0597b03d06a018466ed1a93e30ed4b04dc64ccdd', '', 'bf71dffd8f4d99223936beb46fee8ccc'],
    ['SHA-256', '96c05619d56c328ab95fe84b18264b08725b85e33fd34f08', '', '443024c3dae66b95e6f5670601558f71'],
    ['SHA-256', '96f600b73ad6ac5629577eced51743dd2c24c21b1ac83ee4', '', 'b6295162a7804f5667ba9070f82fa522'],
    ['SHA-256', '22518b10e70f2a3f243810ae3254139efbee04aa57c7af7d', '75eef81aa3041e33b80971203d2c0c52',
      'c498af77161cc59f2962b9a713e2b215152d139766ce34a776df11866a69bf2e52a13d9c7c6fc878c50c5ea0bc7b00e0da2447cfd874f6cf92f30d0097111485500c90c3af8b487872d04685d14c8d1dc8d7fa08beb0ce0ababc11f0bd496269142d43525a78e5bc79a17f59676a5706dc54d54d4d1f0bd7e386128ec26afc21'],
    ['SHA-256', '7e335afa4b31d772c0635c7b0e06f26fcd781df947d2990a', 'd65a4812733f8cdbcdfb4b2f4c191d87',
      'c0bd9e38a8f9de14c2acd35b2f3410c6988cf02400543631e0d6a4c1d030365acbf398115e51aaddebdc9590664210f9aa9fed770d4c57edeafa0b8c14f93300865251218c262d63dadc47dfa0e0284826793985137e0a544ec80abf2fdf5ab90bdaea66204012efe34971dc431d625cd9a329b8217cc8fd0d9f02b13f2f6b0b'],
  ];
  it.each(CAVP)('CAVP %s Z=%s SharedInfo=%s', (hash, z, info, expected) => {
    expect(toHex(x963Kdf(hash, hex(z), hex(info), expected.length / 2))).toBe(expected);
  });

  it('registry entries: kind kdf, no OID, SHA-1 legacy', () => {
    expect([X963_KDF_SHA256, X963_KDF_SHA384, X963_KDF_SHA512, X963_KDF_SHA1].map((k) => [k.kind, k.name, k.oids.length, k.legacy])).toEqual([
      ['kdf', 'X9.63-SHA256', 0, false], ['kdf', 'X9.63-SHA384', 0, false], ['kdf', 'X9.63-SHA512', 0, false], ['kdf', 'X9.63-SHA1', 0, true],
    ]);
    expect(registry.byName('kdf', 'X9.63-SHA384')).toBe(X963_KDF_SHA384);
    expect(() => registry.byName('kdf', 'X9.63-SHA1')).toThrow(); // legacy: off by default
  });

  it('length 0 gives no bytes; a negative or fractional length is a RangeError', () => {
    expect(X963_KDF_SHA256.derive(hex('00'), new Uint8Array(0), 0)).toEqual(new Uint8Array(0));
    expect(() => X963_KDF_SHA256.derive(hex('00'), new Uint8Array(0), -1)).toThrow(RangeError);
    expect(() => X963_KDF_SHA256.derive(hex('00'), new Uint8Array(0), 1.5)).toThrow(RangeError);
  });

  const kdfRows = (['SHA256', 'SHA384', 'SHA512'] as const).flatMap((h) => [1, 16, 32, 33, 100].map((len) => [h, len] as const));
  describeOpenssl('against `openssl kdf X963KDF`', () => {
    it.each(kdfRows)('X9.63-%s, %i bytes', (h, len) => {
      const z = randomBytes(48);
      const info = randomBytes(len % 2 ? 0 : 23);
      const theirs = execFileSync('openssl', ['kdf', '-keylen', String(len), '-kdfopt', `digest:${h}`, '-kdfopt', `hexsecret:${toHex(z)}`,
        ...(info.length ? ['-kdfopt', `hexinfo:${toHex(info)}`] : []), '-binary', 'X963KDF']);
      expect(toHex(registry.byName('kdf', `X9.63-${h}`).derive(z, info, len))).toBe(theirs.toString('hex'));
    });
  });
});

describe('RFC 5753 §7.2 ECC-CMS-SharedInfo', () => {
  it('AES-128-WRAP, no ukm: keyInfo with parameters absent, suppPubInfo = 128 as 4 bytes', () => {
    expect(toHex(eccCmsSharedInfo('2.16.840.1.101.3.4.1.5', 16))).toBe('3015' + '300b0609608648016503040105' + 'a2060404' + '00000080');
  });
  it('AES-256-WRAP with ukm: entityUInfo [0] EXPLICIT OCTET STRING', () => {
    expect(toHex(eccCmsSharedInfo('2.16.840.1.101.3.4.1.45', 32, hex('0102')))).toBe('301b' + '300b060960864801650304012d' + 'a0040402' + '0102' + 'a2060404' + '00000100');
  });
});

describe('RFC 5753 §7.1.4 dhSinglePass-stdDH schemes', () => {
  const rows = [
    [STD_DH_SHA256KDF, 'dhSinglePass-stdDH-sha256kdf-scheme', '1.3.132.1.11.1', 'X9.63-SHA256', false],
    [STD_DH_SHA384KDF, 'dhSinglePass-stdDH-sha384kdf-scheme', '1.3.132.1.11.2', 'X9.63-SHA384', false],
    [STD_DH_SHA512KDF, 'dhSinglePass-stdDH-sha512kdf-scheme', '1.3.132.1.11.3', 'X9.63-SHA512', false],
    [STD_DH_SHA1KDF, 'dhSinglePass-stdDH-sha1kdf-scheme', '1.3.133.16.840.63.0.2', 'X9.63-SHA1', true],
  ] as const;
  it.each(rows)('$name', (alg, name, oid, kdf, legacy) => {
    expect(alg).toMatchObject({ kind: 'key-agreement', name, oids: [oid], kdf, legacy, keyOid: '1.2.840.10045.2.1' });
    expect(legacyRegistry.byOid('key-agreement', oid)).toBe(alg);
  });

  it.each([['P-256', ECDSA_P256], ['P-384', ECDSA_P384], ['P-256 (ecdh-p256)', ECDH_P256]] as const)('%s: ephemeral Z = agree Z', async (_, type) => {
    const key = await type.generate();
    const { originatorSpki, sharedSecret } = await STD_DH_SHA256KDF.ephemeral(key.spki);
    expect(toHex(await STD_DH_SHA256KDF.agree(originatorSpki, key))).toBe(toHex(sharedSecret));
    expect(sharedSecret.length).toBe(type === ECDSA_P384 ? 48 : 32);
  });

  it('CipherError: originator on another curve, off-curve point, non-EC key, unsupported recipient', async () => {
    const p256 = await ECDSA_P256.generate();
    const p384 = await ECDSA_P384.generate();
    await expect(STD_DH_SHA256KDF.agree(p384.spki, p256)).rejects.toThrow(CipherError);
    const offCurve = p384.spki.slice();
    offCurve[offCurve.length - 1] ^= 1;
    await expect(STD_DH_SHA256KDF.agree(offCurve, p384)).rejects.toThrow(CipherError);
    await expect(STD_DH_SHA256KDF.agree(randomBytes(91), p256)).rejects.toThrow(CipherError);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaHandle: PrivateKeyHandle = { keyType: 'rsa-2048', spki: new Uint8Array(rsa.publicKey.export({ type: 'spki', format: 'der' })), native: rsa.privateKey };
    await expect(STD_DH_SHA256KDF.agree(p256.spki, rsaHandle)).rejects.toThrow(CipherError);
    await expect(STD_DH_SHA256KDF.ephemeral(rsaHandle.spki)).rejects.toThrow(CipherError);
    const p521 = generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).publicKey.export({ type: 'spki', format: 'der' });
    await expect(STD_DH_SHA256KDF.ephemeral(new Uint8Array(p521))).rejects.toThrow(CipherError);
  });
});

// ---------------------------------------------------------------------------------------------
// OpenSSL CLI cross-checks

let dir = '';
const path = (name: string) => join(dir, name);
function openssl(args: string[]): Buffer {
  try {
    return execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

interface Party {
  readonly certificate: Certificate;
  readonly key: PrivateKeyHandle;
  readonly pem: string;
  readonly keyPem: string;
}
const parties: Record<string, Party> = {};

function makeParty(name: string, curve: 'P-256' | 'P-384') {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-nodes', '-subj', `/CN=${name}`, '-days', '2', '-keyout', `${name}.key`, '-out', `${name}.pem`]);
  const certificate = AsnConvert.parse(fromPem(readFileSync(path(`${name}.pem`), 'utf8'))[0].der, Certificate);
  const type = curve === 'P-256' ? ECDSA_P256 : ECDSA_P384;
  parties[name] = { certificate, key: type.importPkcs8(fromPem(readFileSync(path(`${name}.key`), 'utf8'))[0].der), pem: `${name}.pem`, keyPem: `${name}.key` };
}

beforeAll(() => {
  if (!OPENSSL) return;
  dir = mkdtempSync(join(tmpdir(), 'pqscep-rfc5753-'));
  writeFileSync(path('plain.bin'), plaintext);
  makeParty('p256', 'P-256');
  makeParty('p384', 'P-384');
  makeParty('other256', 'P-256');
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=rsa', '-days', '2', '-keyout', 'rsa.key', '-out', 'rsa.pem']);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `openssl cms -encrypt` of plain.bin, DER. */
const opensslEncrypt = (args: string[]) => new Uint8Array(openssl(['cms', '-encrypt', '-binary', '-in', 'plain.bin', '-outform', 'DER', ...args]));
const envelopeOf = (der: Uint8Array) => parse(parseContentInfo(der, [id_envelopedData]).content, EnvelopedData, 'EnvelopedData');
const karisOf = (env: EnvelopedData) => env.recipientInfos.flatMap((ri) => (ri.kari ? [ri.kari] : []));
/** A fresh, independently mutable copy of a KARI. */
const copyKari = (kari: KeyAgreeRecipientInfo) => AsnConvert.parse(AsnConvert.serialize(kari), KeyAgreeRecipientInfo);

function decryptContent(env: EnvelopedData, cek: Uint8Array): Uint8Array {
  const eci = env.encryptedContentInfo;
  const cipher = registry.byOid('cipher', eci.contentEncryptionAlgorithm.algorithm);
  const ec = eci.encryptedContent!;
  const ciphertext = ec.value ? octets(ec.value) : new Uint8Array(Buffer.concat(ec.constructedValue!.map((p) => octets(p))));
  return cipher.decrypt(cek, new Uint8Array(eci.contentEncryptionAlgorithm.parameters!), ciphertext);
}

/** EnvelopedData version 2 (RFC 5652 §6.1: a RecipientInfo that is not version 0) around encryptKari's RecipientInfo. */
async function sealWithKari(recipient: Certificate, cipher: ContentCipher, opts?: Parameters<typeof encryptKari>[3]): Promise<Uint8Array> {
  const cek = new Uint8Array(randomBytes(cipher.keySize));
  const { parameters, ciphertext } = cipher.encrypt(cek, plaintext);
  const ri = await encryptKari(cek, recipient, registry, opts);
  return wrap(id_envelopedData, new EnvelopedData({
    version: 2,
    recipientInfos: new RecipientInfos([ri]),
    encryptedContentInfo: new EncryptedContentInfo({
      contentType: id_data,
      contentEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: cipher.oids[0], parameters: parameters.slice().buffer }),
      encryptedContent: new EncryptedContent({ value: new OctetString(ciphertext) }),
    }),
  }));
}

describeOpenssl('OpenSSL `cms -encrypt` → decryptKari', () => {
  const WRAP: Record<string, string> = { aes128: '2.16.840.1.101.3.4.1.5', aes192: '2.16.840.1.101.3.4.1.25', aes256: '2.16.840.1.101.3.4.1.45' };
  const matrix = [
    ['p256', 'aes128', 'sha256', STD_DH_SHA256KDF],
    ['p256', 'aes192', 'sha384', STD_DH_SHA384KDF],
    ['p256', 'aes256', 'sha512', STD_DH_SHA512KDF],
    ['p384', 'aes256', 'sha384', STD_DH_SHA384KDF],
    ['p384', 'aes128', 'sha256', STD_DH_SHA256KDF],
    ['p384', 'aes256', 'sha512', STD_DH_SHA512KDF],
  ] as const;
  it.each(matrix)('%s, -%s, ecdh_kdf_md:%s', async (who, cipher, md, scheme) => {
    const env = envelopeOf(opensslEncrypt([`-${cipher}`, '-recip', parties[who].pem, '-keyopt', `ecdh_kdf_md:${md}`]));
    expect(env.version).toBe(2);
    const [kari] = karisOf(env);
    expect(kari.version).toBe(3);
    expect(kari.keyEncryptionAlgorithm.algorithm).toBe(scheme.oids[0]);
    expect(AsnConvert.parse(kari.keyEncryptionAlgorithm.parameters!, AlgorithmIdentifier).algorithm).toBe(WRAP[cipher]);
    // What OpenSSL emits for the originator (RFC 5753 §3.1.1): id-ecPublicKey, parameters absent.
    expect(kari.originator.originatorKey!.algorithm).toMatchObject({ algorithm: '1.2.840.10045.2.1', parameters: undefined });
    expect(kariNames(kari, parties[who].certificate)).toBeDefined();
    const cek = await decryptKari(kari, parties[who], registry);
    expect(toHex(decryptContent(env, cek))).toBe(toHex(plaintext));
  });

  it('-keyid: the recipient is named by rKeyId (subjectKeyIdentifier)', async () => {
    const env = envelopeOf(opensslEncrypt(['-aes128', '-keyid', '-recip', parties.p256.pem, '-keyopt', 'ecdh_kdf_md:sha256']));
    const [kari] = karisOf(env);
    expect(kari.recipientEncryptedKeys[0].rid.rKeyId).toBeDefined();
    expect(kariNames(kari, parties.p256.certificate)).toBe(kari.recipientEncryptedKeys[0]);
    expect(kariNames(kari, parties.other256.certificate)).toBeUndefined();
    expect(toHex(decryptContent(env, await decryptKari(kari, parties.p256, registry)))).toBe(toHex(plaintext));
  });

  it('several recipients (EC P-256, EC P-384, RSA): each EC recipient finds and opens its own KARI', async () => {
    const env = envelopeOf(opensslEncrypt(['-aes256', '-recip', parties.p256.pem, '-keyopt', 'ecdh_kdf_md:sha256', '-recip', parties.p384.pem, '-keyopt', 'ecdh_kdf_md:sha384', '-recip', 'rsa.pem']));
    expect(env.recipientInfos.filter((ri) => ri.ktri)).toHaveLength(1);
    for (const who of ['p256', 'p384']) {
      const kari = karisOf(env).find((k) => kariNames(k, parties[who].certificate))!;
      expect(karisOf(env).filter((k) => kariNames(k, parties[who].certificate))).toHaveLength(1);
      expect(toHex(decryptContent(env, await decryptKari(kari, parties[who], registry)))).toBe(toHex(plaintext));
    }
    expect(karisOf(env).some((k) => kariNames(k, parties.other256.certificate))).toBe(false);
    // A KARI addressed to someone else: undecryptable, whoever asks.
    const p384Kari = karisOf(env).find((k) => kariNames(k, parties.p384.certificate))!;
    expect(await failureOf(decryptKari(p384Kari, parties.p256, registry))).toBe('undecryptable');
  });

  it("OpenSSL's default scheme (sha1kdf) is badAlg unless legacy algorithms are allowed", async () => {
    const env = envelopeOf(opensslEncrypt(['-aes128', '-recip', parties.p256.pem]));
    const [kari] = karisOf(env);
    expect(kari.keyEncryptionAlgorithm.algorithm).toBe(STD_DH_SHA1KDF.oids[0]);
    expect(await failureOf(decryptKari(kari, parties.p256, registry))).toBe('badAlg');
    expect(toHex(decryptContent(env, await decryptKari(kari, parties.p256, legacyRegistry)))).toBe(toHex(plaintext));
  });

  it('cofactor ECDH (dhSinglePass-cofactorDH-sha256kdf-scheme) is badAlg', async () => {
    const [kari] = karisOf(envelopeOf(opensslEncrypt(['-aes128', '-recip', parties.p256.pem, '-keyopt', 'ecdh_kdf_md:sha256', '-keyopt', 'ecdh_cofactor_mode:1'])));
    expect(kari.keyEncryptionAlgorithm.algorithm).toBe('1.3.132.1.14.1');
    expect(await failureOf(decryptKari(kari, parties.p256, registry))).toBe('badAlg');
  });
});

describeOpenssl('encryptKari → OpenSSL `cms -decrypt`', () => {
  const opensslDecrypt = (der: Uint8Array, who: string) => {
    writeFileSync(path('ours.der'), der);
    return new Uint8Array(openssl(['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', 'ours.der', '-recip', parties[who].pem, '-inkey', parties[who].keyPem]));
  };
  const cases = [
    ['p256, default scheme (sha256kdf + AES-128-WRAP)', 'p256', AES_128_CBC, {}, STD_DH_SHA256KDF, AES_128_WRAP],
    ['p384, default scheme (sha384kdf + AES-256-WRAP)', 'p384', AES_256_CBC, {}, STD_DH_SHA384KDF, AES_256_WRAP],
    ['p256, sha512kdf + AES-256-WRAP', 'p256', AES_256_CBC, { agreement: 'dhSinglePass-stdDH-sha512kdf-scheme', wrap: 'AES-256-WRAP' }, STD_DH_SHA512KDF, AES_256_WRAP],
    ['p384, sha256kdf + AES-192-WRAP', 'p384', AES_192_CBC, { agreement: 'dhSinglePass-stdDH-sha256kdf-scheme', wrap: 'AES-192-WRAP' }, STD_DH_SHA256KDF, AES_192_WRAP],
    ['p384, default scheme, with ukm', 'p384', AES_128_CBC, { ukm: new Uint8Array(randomBytes(64)) }, STD_DH_SHA384KDF, AES_256_WRAP],
    ['p256, sha384kdf, with ukm', 'p256', AES_256_CBC, { agreement: 'dhSinglePass-stdDH-sha384kdf-scheme', ukm: new Uint8Array([1, 2, 3]) }, STD_DH_SHA384KDF, AES_128_WRAP],
  ] as const;
  it.each(cases)('%s', async (_, who, cipher, opts, scheme, keyWrap) => {
    const der = await sealWithKari(parties[who].certificate, cipher, opts);
    const env = envelopeOf(der);
    const [kari] = karisOf(env);
    expect(kari.version).toBe(3);
    expect(kari.keyEncryptionAlgorithm.algorithm).toBe(scheme.oids[0]);
    expect(serialize(AsnConvert.parse(kari.keyEncryptionAlgorithm.parameters!, AlgorithmIdentifier))).toEqual(serialize(new AlgorithmIdentifier({ algorithm: keyWrap.oids[0] })));
    expect(kari.originator.originatorKey!.algorithm).toMatchObject({ algorithm: '1.2.840.10045.2.1', parameters: undefined });
    expect(kari.recipientEncryptedKeys[0].rid.issuerAndSerialNumber).toBeDefined();
    expect(kari.ukm ? octets(kari.ukm) : undefined).toEqual('ukm' in opts ? opts.ukm : undefined);
    expect(toHex(opensslDecrypt(der, who))).toBe(toHex(plaintext));
    // and back through our own decryptKari
    expect(toHex(decryptContent(env, await decryptKari(kari, parties[who], registry)))).toBe(toHex(plaintext));
  });

  it('OpenSSL cannot open it with another P-256 key', async () => {
    const der = await sealWithKari(parties.p256.certificate, AES_128_CBC);
    writeFileSync(path('ours.der'), der);
    expect(() => openssl(['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', 'ours.der', '-recip', parties.other256.pem, '-inkey', parties.other256.keyPem])).toThrow();
  });

  it('badAlg: RSA recipient, unknown or legacy scheme name, unknown wrap, a CEK AES key wrap cannot take', async () => {
    const rsa = AsnConvert.parse(fromPem(readFileSync(path('rsa.pem'), 'utf8'))[0].der, Certificate);
    const cek = new Uint8Array(16);
    expect(await failureOf(encryptKari(cek, rsa, registry))).toBe('badAlg');
    expect(await failureOf(encryptKari(cek, rsa, registry, { agreement: 'dhSinglePass-stdDH-sha256kdf-scheme', wrap: 'AES-128-WRAP' }))).toBe('badAlg');
    expect(await failureOf(encryptKari(cek, parties.p256.certificate, registry, { agreement: 'no-such-scheme' }))).toBe('badAlg');
    expect(await failureOf(encryptKari(cek, parties.p256.certificate, registry, { agreement: 'dhSinglePass-stdDH-sha1kdf-scheme' }))).toBe('badAlg');
    expect(await failureOf(encryptKari(cek, parties.p256.certificate, registry, { wrap: 'AES-512-WRAP' }))).toBe('badAlg');
    expect(await failureOf(encryptKari(new Uint8Array(8), parties.p256.certificate, registry))).toBe('badAlg'); // single-DES CEK: RFC 3394 needs ≥ 16 bytes
  });
});

describeOpenssl('kariNames and rKeyId', () => {
  it('a KARI we address by rKeyId (subjectKeyIdentifier) is named and opens', async () => {
    const cek = new Uint8Array(randomBytes(16));
    const ri = await encryptKari(cek, parties.p256.certificate, registry);
    const ski = hex(openssl(['x509', '-in', parties.p256.pem, '-noout', '-ext', 'subjectKeyIdentifier']).toString().split('\n')[1].trim().replaceAll(':', ''));
    ri.kari!.recipientEncryptedKeys[0].rid = new KeyAgreeRecipientIdentifier({ rKeyId: new RecipientKeyIdentifier({ subjectKeyIdentifier: new SubjectKeyIdentifier(ski) }) });
    const kari = copyKari(ri.kari!);
    expect(kariNames(kari, parties.p256.certificate)).toBeDefined();
    expect(kariNames(kari, parties.other256.certificate)).toBeUndefined();
    expect(toHex(await decryptKari(kari, parties.p256, registry))).toBe(toHex(cek));
  });
});

describeOpenssl('negative cases: CmsError only, undecryptable once the algorithms are known', () => {
  let base: KeyAgreeRecipientInfo;
  let p384Point: ArrayBuffer;
  beforeAll(async () => {
    [base] = karisOf(envelopeOf(opensslEncrypt(['-aes128', '-recip', parties.p256.pem, '-keyopt', 'ecdh_kdf_md:sha256'])));
    const [p384Kari] = karisOf(envelopeOf(opensslEncrypt(['-aes128', '-recip', parties.p384.pem, '-keyopt', 'ecdh_kdf_md:sha256'])));
    p384Point = p384Kari.originator.originatorKey!.publicKey;
  });
  const mutate = (fn: (k: KeyAgreeRecipientInfo) => void) => {
    const k = copyKari(base);
    fn(k);
    return copyKari(k); // through DER again, as a receiver would see it
  };
  const flipIn = (buf: ArrayBuffer, at: number) => {
    const b = new Uint8Array(buf.slice(0));
    b[at < 0 ? b.length + at : at] ^= 0x01;
    return b.buffer;
  };
  const originatorWith = (publicKey: ArrayBuffer, parameters?: ArrayBuffer | null) => (k: KeyAgreeRecipientInfo) => {
    k.originator.originatorKey!.publicKey = publicKey;
    k.originator.originatorKey!.algorithm = new AlgorithmIdentifier({ algorithm: '1.2.840.10045.2.1', parameters });
  };
  const curveParams = (oid: string) => AsnConvert.serialize(new ECParameters({ namedCurve: oid }));

  it('the unmodified KARI opens (baseline)', async () => {
    expect((await decryptKari(copyKari(base), parties.p256, registry)).length).toBe(16);
  });
  it('originator parameters NULL or the recipient curve: accepted (RFC 5753 §3.1.1)', async () => {
    const cek = await decryptKari(copyKari(base), parties.p256, registry);
    const point = base.originator.originatorKey!.publicKey;
    expect(await decryptKari(mutate(originatorWith(point, null)), parties.p256, registry)).toEqual(cek);
    expect(await decryptKari(mutate(originatorWith(point, curveParams('1.2.840.10045.3.1.7'))), parties.p256, registry)).toEqual(cek);
  });

  const undecryptable: [string, () => [KeyAgreeRecipientInfo, PrivateKeyHandle?]][] = [
    ['tampered wrapped key', () => [mutate((k) => (k.recipientEncryptedKeys[0].encryptedKey = new OctetString(flipIn(k.recipientEncryptedKeys[0].encryptedKey.buffer, 3))))]],
    ['wrapped key of a bad length', () => [mutate((k) => (k.recipientEncryptedKeys[0].encryptedKey = new OctetString(k.recipientEncryptedKeys[0].encryptedKey.buffer.slice(1))))]],
    ['originator point off the curve', () => [mutate((k) => originatorWith(flipIn(k.originator.originatorKey!.publicKey, 10))(k))]],
    ['originator point = point at infinity', () => [mutate(originatorWith(new Uint8Array([0]).buffer))]],
    ['originator point empty', () => [mutate(originatorWith(new ArrayBuffer(0)))]],
    ['originator point on P-384 (wrong curve, parameters absent)', () => [mutate(originatorWith(p384Point))]],
    ['originator point on P-384, parameters naming secp384r1', () => [mutate(originatorWith(p384Point, curveParams(id_secp384r1)))]],
    ['originator parameters naming secp384r1 for a P-256 point', () => [mutate(originatorWith(base.originator.originatorKey!.publicKey, curveParams(id_secp384r1)))]],
    ['originator algorithm rsaEncryption', () => [mutate((k) => (k.originator.originatorKey!.algorithm = new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.1', parameters: null })))]],
    ['a ukm the sender did not use', () => [mutate((k) => (k.ukm = new OctetString(new Uint8Array([1, 2, 3]))))]],
    ['KARI names someone else', () => [mutate((k) => (k.recipientEncryptedKeys[0].rid = new KeyAgreeRecipientIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: parties.other256.certificate.tbsCertificate.issuer, serialNumber: parties.other256.certificate.tbsCertificate.serialNumber }) })))]],
    ['the right certificate with another P-256 private key', () => [copyKari(base), parties.other256.key]],
    ['the right certificate with a P-384 private key', () => [copyKari(base), parties.p384.key]],
    ['the right certificate with an RSA private key', () => {
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      return [copyKari(base), { keyType: 'rsa-2048', spki: new Uint8Array(rsa.publicKey.export({ type: 'spki', format: 'der' })), native: rsa.privateKey }];
    }],
  ];
  it.each(undecryptable)('%s → undecryptable', async (_, make) => {
    const [kari, key] = make();
    expect(await failureOf(decryptKari(kari, { certificate: parties.p256.certificate, key: key ?? parties.p256.key }, registry))).toBe('undecryptable');
  });

  it('unknown key wrap → badAlg; no KeyWrapAlgorithm or a static originator → malformed', async () => {
    const withWrap = (oid: string) => mutate((k) => (k.keyEncryptionAlgorithm.parameters = serialize(new AlgorithmIdentifier({ algorithm: oid })).slice().buffer));
    expect(await failureOf(decryptKari(withWrap('1.2.840.113549.1.9.16.3.6'), parties.p256, registry))).toBe('badAlg'); // id-alg-CMS3DESwrap
    expect(await failureOf(decryptKari(mutate((k) => (k.keyEncryptionAlgorithm.parameters = undefined)), parties.p256, registry))).toBe('malformed');
    const tbs = parties.p256.certificate.tbsCertificate;
    const staticOriginator = mutate((k) => (k.originator = new OriginatorIdentifierOrKey({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: tbs.issuer, serialNumber: tbs.serialNumber }) })));
    expect(await failureOf(decryptKari(staticOriginator, parties.p256, registry))).toBe('malformed');
  });

  it('every single-bit flip of the KARI DER: success with the right CEK, or a CmsError, never anything else', async () => {
    const der = new Uint8Array(AsnConvert.serialize(base));
    const cek = toHex(await decryptKari(copyKari(base), parties.p256, registry));
    const outcomes = new Map<string, number>();
    for (let bit = 0; bit < der.length * 8; bit++) {
      const bad = der.slice();
      bad[bit >> 3] ^= 0x80 >> (bit & 7);
      let outcome: string;
      try {
        const got = await decryptKari(parse(bad, KeyAgreeRecipientInfo, 'KeyAgreeRecipientInfo'), parties.p256, legacyRegistry);
        outcome = toHex(got) === cek ? 'same CEK' : 'other CEK';
      } catch (err) {
        if (!(err instanceof CmsError)) throw new Error(`bit ${bit}: ${(err as Error).name}: ${(err as Error).message}`);
        outcome = err.failure;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    expect(outcomes.get('other CEK')).toBeUndefined(); // AES key wrap's integrity check catches every change to Z, KEK or wrapped key
    expect(outcomes.get('undecryptable')).toBeGreaterThan(0);
  });
});
