/**
 * The roles an algorithm can play in SCEP, one small interface each. `algorithms/` implements
 * them; `src/crypto/registry.ts` looks them up by OID or name; protocol code only ever sees
 * these interfaces, never a concrete algorithm.
 *
 * Roles: KeyType (generate/load key pairs, SPKI), SignatureAlgorithm (CMS SignerInfo, X.509,
 * PKCS#10), KeyTransport (KeyTransRecipientInfo, RFC 5652 §6.2.1), KeyAgreement
 * (KeyAgreeRecipientInfo, RFC 5652 §6.2.2 / RFC 5753), Kem (KEMRecipientInfo, RFC 9629), Kdf
 * and KeyWrap (the KEK derivation and wrapping those two need), ContentCipher
 * (EncryptedContentInfo), Digest.
 * @module
 */
import type { KeyObject } from 'node:crypto';

/** Dotted-decimal object identifier. */
export type Oid = string;

/**
 * A private key. Key material stays behind this handle so that an HSM/KMS can replace it;
 * only the algorithm family that created it reads `native`/`raw`.
 */
export interface PrivateKeyHandle {
  /** Name of the KeyType that owns this key, e.g. 'rsa-2048'. */
  readonly keyType: string;
  /** DER SubjectPublicKeyInfo of the matching public key. */
  readonly spki: Uint8Array;
  /** node:crypto key, for families that run on node:crypto. */
  readonly native?: KeyObject;
  /** Raw secret key bytes (e.g. the FIPS 204 expanded key), for families implemented in JavaScript. */
  readonly raw?: Uint8Array;
  /** The seed the key was derived from, when known (RFC 9881/9935 recommend the seed form in PKCS#8). */
  readonly seed?: Uint8Array;
}

interface AlgorithmBase {
  /** Spec-style name, unique in the registry, e.g. 'sha256WithRSAEncryption', 'AES-128-CBC'. */
  readonly name: string;
  /** Every OID that selects this algorithm; the first is the one we emit. */
  readonly oids: readonly Oid[];
  /** Off unless configuration allows legacy algorithms (DES, 3DES, SHA-1). */
  readonly legacy: boolean;
  /** GetCACaps keyword this algorithm contributes (RFC 8894 §3.5.2), e.g. 'AES', 'SHA-256'. */
  readonly capability?: string;
  /** Which library implements it (shown in the README table and `pqscep algorithms`). */
  readonly implementation?: string;
}

export type ShaName = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';
/** SHAKE128/256 as CMS digests have fixed 32/64-byte outputs (RFC 8702 §3). */
export type DigestName = ShaName | 'SHAKE128' | 'SHAKE256';

export interface Digest extends AlgorithmBase {
  readonly kind: 'digest';
  readonly name: DigestName;
  /** Output length in bytes. */
  readonly size: number;
  hash(data: Uint8Array): Uint8Array;
}

export interface KeyType extends AlgorithmBase {
  readonly kind: 'key';
  /** SubjectPublicKeyInfo algorithm OID (also listed in `oids`). */
  readonly spkiOid: Oid;
  /**
   * What keys of this type can do: sign; receive a content-encryption key by key transport or
   * KEM ('encrypt': keyEncipherment); or by key agreement ('agree': keyAgreement).
   */
  readonly usages: readonly ('sign' | 'encrypt' | 'agree')[];
  /** True when security does not rest on factoring or discrete logarithms. */
  readonly quantumSafe: boolean;
  /** Which implementation backs this key type in this process ('node:crypto', '@noble/post-quantum', ...). */
  readonly backend: string;
  generate(): Promise<PrivateKeyHandle>;
  /** Loads a PKCS#8 DER private key; throws RangeError if it is not of this type. */
  importPkcs8(der: Uint8Array): PrivateKeyHandle;
  exportPkcs8(key: PrivateKeyHandle): Uint8Array;
  /** True when `spki` (DER SubjectPublicKeyInfo) is a key of this type (e.g. the right modulus size). */
  matches(spki: Uint8Array): boolean;
}

export interface SignatureAlgorithm extends AlgorithmBase {
  readonly kind: 'signature';
  /** SPKI algorithm OID of the keys this algorithm signs with. */
  readonly keyOid: Oid;
  /**
   * The digest this OID fixes, or null when the digest comes from elsewhere (CMS
   * `rsaEncryption` as SignerInfo.signatureAlgorithm takes SignerInfo.digestAlgorithm).
   */
  readonly digest: DigestName | null;
  /** AlgorithmIdentifier.parameters we emit: NULL (RFC 4055 §5 for RSA), absent, or this DER (RSASSA-PSS params). */
  readonly parameters: 'null' | 'absent' | Uint8Array;
  /** The digest a CMS signer should use with it (RFC 9882 §3: SHA-512 for ML-DSA), if it prescribes one. */
  readonly cmsDigest?: DigestName;
  readonly quantumSafe: boolean;
  sign(data: Uint8Array, key: PrivateKeyHandle, digest: DigestName): Promise<Uint8Array>;
  /**
   * Never throws on malformed input. `parameters` is the DER of the received
   * AlgorithmIdentifier.parameters (needed by RSASSA-PSS; ignored by the others).
   */
  verify(signature: Uint8Array, data: Uint8Array, spki: Uint8Array, digest: DigestName, parameters?: Uint8Array | null): boolean;
}

export interface KeyTransport extends AlgorithmBase {
  readonly kind: 'key-transport';
  readonly keyOid: Oid;
  /** DER of AlgorithmIdentifier.parameters we emit, or null for absent. */
  readonly parameters: Uint8Array | null;
  encrypt(cek: Uint8Array, spki: Uint8Array): Uint8Array;
  /**
   * Never reveals why decryption failed (RFC 8017 §7.2.2 note, Bleichenbacher): either returns
   * bytes (possibly a synthetic wrong key) or throws one uniform error.
   */
  decrypt(encryptedKey: Uint8Array, key: PrivateKeyHandle, parameters: Uint8Array | null): Promise<Uint8Array>;
}

export interface ContentCipher extends AlgorithmBase {
  readonly kind: 'cipher';
  readonly keySize: number;
  /** True for authenticated ciphers carried in AuthEnvelopedData (RFC 5083). */
  readonly aead: boolean;
  /** Relative strength used to pick the strongest common cipher (bits of security). */
  readonly strength: number;
  /** Encrypts and returns the AlgorithmIdentifier parameters (DER) and ciphertext (and tag for AEAD). */
  encrypt(key: Uint8Array, plaintext: Uint8Array): { parameters: Uint8Array; ciphertext: Uint8Array; tag?: Uint8Array };
  /**
   * Throws CipherError on a bad key length, bad parameters, bad padding or bad tag. `aad` is the
   * additional authenticated data of AEAD ciphers (DER of AuthEnvelopedData authAttrs, RFC 5083 §2.2).
   */
  decrypt(key: Uint8Array, parameters: Uint8Array | null, ciphertext: Uint8Array, tag?: Uint8Array, aad?: Uint8Array): Uint8Array;
}

/** A key-encapsulation mechanism (RFC 9629 §1: KEM.Encapsulate / KEM.Decapsulate). */
export interface Kem extends AlgorithmBase {
  readonly kind: 'kem';
  readonly keyOid: Oid;
  readonly quantumSafe: boolean;
  /** The KDF and key wrap RFC 9936 §3 says every implementation supports for this parameter set. */
  readonly kdf: string;
  readonly wrap: string;
  encapsulate(spki: Uint8Array): Promise<{ ciphertext: Uint8Array; sharedSecret: Uint8Array }>;
  /** Throws CipherError on a ciphertext of the wrong length; otherwise returns a shared secret (implicit rejection, FIPS 203 §6.3). */
  decapsulate(ciphertext: Uint8Array, key: PrivateKeyHandle): Promise<Uint8Array>;
}

/** A KDF for KEMRecipientInfo (RFC 9629 §5: HKDF, RFC 8619) and KeyAgreeRecipientInfo (RFC 5753 §7.2: X9.63). */
export interface Kdf extends AlgorithmBase {
  readonly kind: 'kdf';
  derive(secret: Uint8Array, info: Uint8Array, length: number): Uint8Array;
}

/** AES key wrap (RFC 3394), the KeyEncryptionAlgorithm of KEMRI and KARI. */
export interface KeyWrap extends AlgorithmBase {
  readonly kind: 'key-wrap';
  readonly keySize: number;
  wrap(kek: Uint8Array, cek: Uint8Array): Uint8Array;
  /** Throws CipherError when the integrity check fails. */
  unwrap(kek: Uint8Array, wrapped: Uint8Array): Uint8Array;
}

/**
 * Ephemeral-static key agreement for KeyAgreeRecipientInfo (RFC 5753 §3.1): the scheme OID
 * (e.g. dhSinglePass-stdDH-sha256kdf-scheme) fixes the KDF; its parameters name the key wrap.
 */
export interface KeyAgreement extends AlgorithmBase {
  readonly kind: 'key-agreement';
  readonly keyOid: Oid;
  /** Name of the Kdf (in the registry) the scheme uses. */
  readonly kdf: string;
  /** A fresh ephemeral key pair on the recipient's curve and the shared secret Z with `recipientSpki`. */
  ephemeral(recipientSpki: Uint8Array): Promise<{ originatorSpki: Uint8Array; sharedSecret: Uint8Array }>;
  /** Z from the originator's public key (DER SPKI) and our private key; throws CipherError on a bad point. */
  agree(originatorSpki: Uint8Array, key: PrivateKeyHandle): Promise<Uint8Array>;
}

export type Algorithm = Digest | KeyType | SignatureAlgorithm | KeyTransport | KeyAgreement | Kem | Kdf | KeyWrap | ContentCipher;
export type AlgorithmKind = Algorithm['kind'];

/** Uniform failure of a decryption or parameter check; deliberately says nothing more. */
export class CipherError extends Error {
  override readonly name = 'CipherError';
}

/** An OID or name the registry does not know, or knows for another role. Protocol code maps it to badAlg. */
export class UnsupportedAlgorithmError extends Error {
  override readonly name = 'UnsupportedAlgorithmError';
}
