/**
 * RSA through node:crypto: key pairs (RFC 8017), RSASSA-PKCS1-v1_5 signatures (RFC 8017 §8.2,
 * OIDs RFC 4055 §5 / RFC 3370 §3.2), and key transport for CMS KeyTransRecipientInfo with
 * RSAES-PKCS1-v1_5 (RFC 8017 §7.2, decryption with implicit rejection) and RSAES-OAEP
 * (RFC 8017 §7.1, RFC 3560).
 * Leaves out: RSASSA-PSS (added with the post-quantum registry work), multi-prime keys.
 * @module
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { RsaEsOaepParams, RsaSaPssParams, id_sha1, id_sha256, id_sha384, id_sha512, id_mgf1, id_pSpecified, pSpecifiedEmpty } from '@peculiar/asn1-rsa';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { constants, generateKeyPair, privateDecrypt, publicEncrypt, sign, verify } from 'node:crypto';
import { promisify } from 'node:util';
import { nativeFromPkcs8, nativeHandle, nativeToPkcs8, publicKeyFromSpki } from '../src/crypto/keys.ts';
import { rsaesPkcs1v15Decrypt } from '../src/crypto/rsa-pkcs1-decrypt.ts';
import type { DigestName, KeyTransport, KeyType, PrivateKeyHandle, SignatureAlgorithm } from '../src/crypto/types.ts';
import { CipherError } from '../src/crypto/types.ts';
import { nodeSha } from './sha.ts';

/** rsaEncryption { iso(1) member-body(2) us(840) rsadsi(113549) pkcs(1) pkcs-1(1) 1 } */
export const rsaEncryption = '1.2.840.113549.1.1.1';
const pkcs1 = (n: number) => `1.2.840.113549.1.1.${n}`;
const signAsync = promisify(sign);
const generateAsync = promisify(generateKeyPair);

function rsaBits(spki: Uint8Array): number | undefined {
  try {
    const key = publicKeyFromSpki(spki);
    return key.asymmetricKeyType === 'rsa' ? key.asymmetricKeyDetails?.modulusLength : undefined;
  } catch {
    return undefined;
  }
}

const rsaKey = (bits: 2048 | 3072 | 4096): KeyType => {
  const name = `rsa-${bits}`;
  return Object.freeze({
    kind: 'key',
    name,
    oids: [], // every RSA size shares rsaEncryption; `matches` tells them apart
    spkiOid: rsaEncryption,
    legacy: false,
    implementation: 'node:crypto',
    usages: ['sign', 'encrypt'] as const,
    quantumSafe: false,
    backend: 'node:crypto',
    generate: async () => nativeHandle(name, (await generateAsync('rsa', { modulusLength: bits })).privateKey),
    importPkcs8(der: Uint8Array): PrivateKeyHandle {
      const native = nativeFromPkcs8(der);
      if (native.asymmetricKeyType !== 'rsa' || native.asymmetricKeyDetails?.modulusLength !== bits)
        throw new RangeError(`not an ${name} private key`);
      return nativeHandle(name, native);
    },
    exportPkcs8: nativeToPkcs8,
    matches: (spki: Uint8Array) => rsaBits(spki) === bits,
  });
};

export const RSA_2048 = rsaKey(2048);
export const RSA_3072 = rsaKey(3072);
export const RSA_4096 = rsaKey(4096);

/** Minimum modulus we verify signatures or encrypt with (NIST SP 800-131A). */
const MIN_BITS = 2048;

const pkcs1Signature = (name: string, oid: string, digest: DigestName | null, legacy = false): SignatureAlgorithm =>
  Object.freeze({
    kind: 'signature',
    name,
    oids: [oid],
    legacy,
    implementation: 'node:crypto',
    keyOid: rsaEncryption,
    digest,
    parameters: 'null',
    quantumSafe: false,
    async sign(data: Uint8Array, key: PrivateKeyHandle, d: DigestName) {
      const hash = nodeSha(digest ?? d);
      if (!key.native || !hash) throw new TypeError(`${name} needs a node:crypto RSA key and a SHA digest`);
      return new Uint8Array(await signAsync(hash, data, key.native));
    },
    verify(signature: Uint8Array, data: Uint8Array, spki: Uint8Array, d: DigestName) {
      const hash = nodeSha(digest ?? d);
      if (!hash || (rsaBits(spki) ?? 0) < MIN_BITS) return false;
      return verify(hash, data, publicKeyFromSpki(spki), signature);
    },
  });

/** RFC 4055 §3.1 hash OIDs → node:crypto names (SHA-1 is the ASN.1 default, so it must be known to verify). */
const PSS_HASHES: Readonly<Record<string, string>> = Object.freeze({
  [id_sha1]: 'sha1', [id_sha256]: 'sha256', [id_sha384]: 'sha384', [id_sha512]: 'sha512',
});

/** Reads RSASSA-PSS-params (RFC 4055 §3.1); undefined for anything node cannot verify (MGF1 hash != hash). */
function pssParams(parameters: Uint8Array | null | undefined): { hash: string; saltLength: number } | undefined {
  try {
    const p = parameters?.length ? AsnConvert.parse(parameters, RsaSaPssParams) : new RsaSaPssParams();
    const hash = PSS_HASHES[p.hashAlgorithm.algorithm];
    if (!hash || p.maskGenAlgorithm.algorithm !== id_mgf1 || p.trailerField !== 1) return undefined;
    const mgfHash = p.maskGenAlgorithm.parameters ? AsnConvert.parse(p.maskGenAlgorithm.parameters, AlgorithmIdentifier).algorithm : id_sha1;
    return PSS_HASHES[mgfHash] === hash ? { hash, saltLength: p.saltLength } : undefined;
  } catch {
    return undefined;
  }
}

const sha256Id = () => new AlgorithmIdentifier({ algorithm: id_sha256, parameters: null });
/** What we emit: SHA-256, MGF1-SHA-256, 32-byte salt (RFC 4055 §3.1 recommends salt = hash length). */
const PSS_SHA256_PARAMS = new Uint8Array(AsnConvert.serialize(new RsaSaPssParams({
  hashAlgorithm: sha256Id(),
  maskGenAlgorithm: new AlgorithmIdentifier({ algorithm: id_mgf1, parameters: AsnConvert.serialize(sha256Id()) }),
  saltLength: 32,
})));

/**
 * RSASSA-PSS (RFC 8017 §8.1, RFC 4055 §3): verifies any SHA-1/2 parameter set whose MGF1 hash
 * equals the message hash; signs with SHA-256 / salt 32. Keys are rsaEncryption keys (RFC 4055
 * §1.2 id-RSASSA-PSS keys are not supported).
 */
export const RSASSA_PSS: SignatureAlgorithm = Object.freeze({
  kind: 'signature',
  name: 'RSASSA-PSS',
  oids: [pkcs1(10)],
  legacy: false,
  implementation: 'node:crypto',
  keyOid: rsaEncryption,
  digest: 'SHA-256',
  parameters: PSS_SHA256_PARAMS,
  quantumSafe: false,
  async sign(data: Uint8Array, key: PrivateKeyHandle) {
    if (!key.native) throw new TypeError('RSASSA-PSS needs a node:crypto RSA key');
    return new Uint8Array(await signAsync('sha256', data, { key: key.native, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }));
  },
  verify(signature: Uint8Array, data: Uint8Array, spki: Uint8Array, _d: DigestName, parameters?: Uint8Array | null) {
    const p = pssParams(parameters);
    if (!p || (rsaBits(spki) ?? 0) < MIN_BITS) return false;
    try {
      return verify(p.hash, data, { key: publicKeyFromSpki(spki), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength }, signature);
    } catch {
      return false;
    }
  },
});

/**
 * `rsaEncryption` as a signature algorithm: what RFC 5652 §12.2 / RFC 3370 §3.2 allow in
 * SignerInfo.signatureAlgorithm, the digest coming from SignerInfo.digestAlgorithm. strongSwan
 * accepts only this form in a CertRep, so replies are signed with it.
 */
export const RSA_PKCS1 = pkcs1Signature('rsaEncryption', rsaEncryption, null);
export const SHA1_WITH_RSA = pkcs1Signature('sha1WithRSAEncryption', pkcs1(5), 'SHA-1', true);
export const SHA256_WITH_RSA = pkcs1Signature('sha256WithRSAEncryption', pkcs1(11), 'SHA-256');
export const SHA384_WITH_RSA = pkcs1Signature('sha384WithRSAEncryption', pkcs1(12), 'SHA-384');
export const SHA512_WITH_RSA = pkcs1Signature('sha512WithRSAEncryption', pkcs1(13), 'SHA-512');

function encryptTo(spki: Uint8Array, padding: number, cek: Uint8Array, oaepHash?: string): Uint8Array {
  if ((rsaBits(spki) ?? 0) < MIN_BITS) throw new CipherError('RSA key missing or too small');
  return new Uint8Array(publicEncrypt({ key: publicKeyFromSpki(spki), padding, oaepHash }, cek));
}

/** RSAES-PKCS1-v1_5 (RFC 8017 §7.2); what every classical SCEP client uses. */
export const RSAES_PKCS1_V1_5: KeyTransport = Object.freeze({
  kind: 'key-transport',
  name: 'RSAES-PKCS1-v1_5',
  oids: [rsaEncryption],
  legacy: false,
  implementation: 'node:crypto',
  keyOid: rsaEncryption,
  parameters: new Uint8Array([0x05, 0x00]),
  encrypt: (cek: Uint8Array, spki: Uint8Array) => encryptTo(spki, constants.RSA_PKCS1_PADDING, cek),
  async decrypt(encryptedKey: Uint8Array, key: PrivateKeyHandle) {
    if (!key.native) throw new CipherError('not an RSA key');
    // Implicit rejection: a bad ciphertext yields a synthetic key, so the content decryption
    // fails exactly like any other bad content (no padding oracle).
    try {
      return rsaesPkcs1v15Decrypt(key.native, encryptedKey);
    } catch {
      throw new CipherError('key transport failed');
    }
  },
});

const OAEP_HASHES: Readonly<Record<string, string>> = Object.freeze({
  [id_sha1]: 'sha1',
  [id_sha256]: 'sha256',
  [id_sha384]: 'sha384',
  [id_sha512]: 'sha512',
});

/** RFC 4055 §4.1 RSAES-OAEP-params: SHA-1 / MGF1-SHA-1 when absent; node needs MGF1 hash = hash. */
function oaepHashOf(parameters: Uint8Array | null): string {
  if (!parameters || parameters.length === 0 || (parameters[0] === 0x05 && parameters.length === 2)) return 'sha1';
  const p = AsnConvert.parse(parameters, RsaEsOaepParams);
  const hash = OAEP_HASHES[p.hashAlgorithm.algorithm];
  if (!hash || p.maskGenAlgorithm.algorithm !== id_mgf1 || !emptyLabel(p.pSourceAlgorithm)) throw new CipherError('unsupported OAEP parameters');
  const mgfHash = AsnConvert.parse(p.maskGenAlgorithm.parameters!, AlgorithmIdentifier).algorithm;
  if (OAEP_HASHES[mgfHash] !== hash) throw new CipherError('unsupported OAEP parameters');
  return hash;
}

/**
 * RFC 4055 §4.1: pSourceAlgorithm DEFAULT pSpecifiedEmpty, an empty label (`04 00`). NOTE: when the
 * field is absent, asn1-rsa leaves its own pSpecifiedEmpty, whose parameters hold SHA-1('') instead.
 */
function emptyLabel(pSource: AlgorithmIdentifier): boolean {
  if (pSource.algorithm !== id_pSpecified || !pSource.parameters) return false;
  const label = Buffer.from(pSource.parameters);
  return label.equals(Buffer.from([0x04, 0x00])) || label.equals(Buffer.from(pSpecifiedEmpty.parameters!));
}

const OAEP_SHA256_PARAMS = new Uint8Array(
  AsnConvert.serialize(
    new RsaEsOaepParams({
      hashAlgorithm: new AlgorithmIdentifier({ algorithm: id_sha256, parameters: null }),
      maskGenAlgorithm: new AlgorithmIdentifier({
        algorithm: id_mgf1,
        parameters: AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: id_sha256, parameters: null })),
      }),
    }),
  ),
);

/** RSAES-OAEP (RFC 8017 §7.1, RFC 3560 §3); we emit SHA-256/MGF1-SHA-256 and accept SHA-1..512. */
export const RSAES_OAEP: KeyTransport = Object.freeze({
  kind: 'key-transport',
  name: 'RSAES-OAEP',
  oids: [pkcs1(7)],
  legacy: false,
  implementation: 'node:crypto',
  keyOid: rsaEncryption,
  parameters: OAEP_SHA256_PARAMS,
  encrypt: (cek: Uint8Array, spki: Uint8Array) => encryptTo(spki, constants.RSA_PKCS1_OAEP_PADDING, cek, 'sha256'),
  async decrypt(encryptedKey: Uint8Array, key: PrivateKeyHandle, parameters: Uint8Array | null) {
    if (!key.native) throw new CipherError('not an RSA key');
    try {
      const oaepHash = oaepHashOf(parameters);
      return new Uint8Array(privateDecrypt({ key: key.native, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, encryptedKey));
    } catch {
      throw new CipherError('key transport failed');
    }
  },
});
