/**
 * KeyAgreeRecipientInfo (RFC 5652 §6.2.2) with ephemeral-static ECDH as RFC 5753 §3.1 profiles
 * it: the originator is a fresh public key (originatorKey), keyEncryptionAlgorithm is the
 * key-agreement scheme whose parameters are the KeyWrapAlgorithm, and the KEK is
 *   KDF(Z, DER(ECC-CMS-SharedInfo)), length = the wrap's key size (RFC 5753 §7.2).
 * Algorithms come from the registry only (KeyAgreement → its Kdf by name; KeyWrap by OID).
 * Errors: an algorithm we do not know or allow is CmsError('badAlg'); once the algorithms are
 * known, every failure (bad point, wrong curve, unwrap integrity) is one uniform
 * CmsError('undecryptable') so that nothing tells them apart.
 * Leaves out: static-static originators (issuerAndSerialNumber / subjectKeyIdentifier, RFC 5753
 * §3.1.1 forbids them for stdDH), 1-pass ECMQV (§3.2, MQVuserKeyingMaterial), X9.42 DH
 * (RFC 2631), more than one RecipientEncryptedKey per KARI on the sending side.
 * @module
 */
import { IssuerAndSerialNumber, KeyAgreeRecipientIdentifier, KeyAgreeRecipientInfo, KeyEncryptionAlgorithmIdentifier, OriginatorIdentifierOrKey, OriginatorPublicKey, RecipientEncryptedKey, RecipientEncryptedKeys, RecipientInfo, SignerIdentifier } from '@peculiar/asn1-cms';
import { ECParameters, id_secp256r1, id_secp384r1 } from '@peculiar/asn1-ecc';
import { AsnConvert, AsnProp, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, SubjectPublicKeyInfo, type Certificate } from '@peculiar/asn1-x509';
import type { Registry } from '../crypto/registry.ts';
import type { AlgorithmKind, PrivateKeyHandle } from '../crypto/types.ts';
import { CipherError, UnsupportedAlgorithmError } from '../crypto/types.ts';
import { octets, parse, serialize } from './der.ts';
import { CmsError } from './errors.ts';
import { identifies } from './signed-data.ts';

/**
 * ```asn
 * ECC-CMS-SharedInfo ::= SEQUENCE {
 *   keyInfo         AlgorithmIdentifier,
 *   entityUInfo [0] EXPLICIT OCTET STRING OPTIONAL,
 *   suppPubInfo [2] EXPLICIT OCTET STRING }
 * ```
 * RFC 5753 §7.2: keyInfo = the key-wrap algorithm (AES wraps: parameters absent), entityUInfo =
 * the KARI ukm when present, suppPubInfo = KEK length in bits as a 32-bit big-endian number.
 */
export class EccCmsSharedInfo {
  @AsnProp({ type: AlgorithmIdentifier }) public keyInfo = new AlgorithmIdentifier();
  @AsnProp({ type: OctetString, context: 0, optional: true }) public entityUInfo?: OctetString;
  @AsnProp({ type: OctetString, context: 2 }) public suppPubInfo = new OctetString();
  constructor(params: Partial<EccCmsSharedInfo> = {}) {
    Object.assign(this, params);
  }
}

/**
 * Our choice when the caller names none, by the recipient's named curve: the Suite B pairing
 * (RFC 5008 / RFC 6318) of KDF hash and AES key size with the curve's security level.
 */
const DEFAULTS: Readonly<Record<string, { readonly agreement: string; readonly wrap: string }>> = Object.freeze({
  [id_secp256r1]: { agreement: 'dhSinglePass-stdDH-sha256kdf-scheme', wrap: 'AES-128-WRAP' },
  [id_secp384r1]: { agreement: 'dhSinglePass-stdDH-sha384kdf-scheme', wrap: 'AES-256-WRAP' },
});

function lookup<K extends AlgorithmKind>(registry: Registry, kind: K, by: 'oid' | 'name', key: string) {
  try {
    return by === 'oid' ? registry.byOid(kind, key) : registry.byName(kind, key);
  } catch (err) {
    if (err instanceof UnsupportedAlgorithmError) throw new CmsError('badAlg', err.message, { cause: err });
    throw err;
  }
}

/** DER ECC-CMS-SharedInfo for a KEK of `keySize` bytes unwrapped/wrapped with `wrapOid`. */
export function eccCmsSharedInfo(wrapOid: string, keySize: number, ukm?: Uint8Array): Uint8Array {
  const bits = new Uint8Array(4);
  new DataView(bits.buffer).setUint32(0, keySize * 8); // RFC 5753 §7.2: keydatalen in bits, big-endian
  return serialize(
    new EccCmsSharedInfo({
      keyInfo: new AlgorithmIdentifier({ algorithm: wrapOid }),
      entityUInfo: ukm ? new OctetString(ukm) : undefined,
      suppPubInfo: new OctetString(bits),
    }),
  );
}

/** Which RecipientEncryptedKey of `kari` names `cert` (issuerAndSerialNumber or rKeyId SKI), if any. */
export function kariNames(kari: KeyAgreeRecipientInfo, cert: Certificate): RecipientEncryptedKey | undefined {
  return kari.recipientEncryptedKeys.find(({ rid }) => {
    if (rid.issuerAndSerialNumber) return identifies(new SignerIdentifier({ issuerAndSerialNumber: rid.issuerAndSerialNumber }), cert);
    if (rid.rKeyId) return identifies(new SignerIdentifier({ subjectKeyIdentifier: rid.rKeyId.subjectKeyIdentifier }), cert);
    return false;
  });
}

/**
 * The originator's key as a full SPKI. RFC 5753 §3.1.1: its algorithm is id-ecPublicKey with
 * parameters absent or NULL (we accept both), meaning "on the recipient's curve"; explicit
 * parameters are kept, and the agreement rejects them when they name another curve.
 */
function originatorSpki(originator: OriginatorPublicKey, recipient: SubjectPublicKeyInfo): Uint8Array {
  const p = originator.algorithm.parameters;
  const parameters = p === undefined || p === null ? recipient.algorithm.parameters : p;
  return serialize(new SubjectPublicKeyInfo({ algorithm: new AlgorithmIdentifier({ algorithm: originator.algorithm.algorithm, parameters }), subjectPublicKey: originator.publicKey }));
}

/**
 * Recovers the CEK from `kari` for `recipient` (RFC 5753 §3.1.2). Unknown algorithm →
 * CmsError('badAlg'); not ephemeral-static or no KeyWrapAlgorithm → 'malformed'; `cert` not
 * named, or any failure after → CmsError('undecryptable'). The caller zeroes the CEK.
 */
export async function decryptKari(kari: KeyAgreeRecipientInfo, recipient: { certificate: Certificate; key: PrivateKeyHandle }, registry: Registry): Promise<Uint8Array> {
  const kea = kari.keyEncryptionAlgorithm;
  const agreement = lookup(registry, 'key-agreement', 'oid', kea.algorithm);
  if (!kea.parameters) throw new CmsError('malformed', `${agreement.name} without its KeyWrapAlgorithm parameters`);
  const wrapId = parse(kea.parameters, AlgorithmIdentifier, 'KeyWrapAlgorithm');
  const wrap = lookup(registry, 'key-wrap', 'oid', wrapId.algorithm);
  const kdf = lookup(registry, 'kdf', 'name', agreement.kdf);
  const spki = recipient.certificate.tbsCertificate.subjectPublicKeyInfo;
  if (spki.algorithm.algorithm !== agreement.keyOid) throw new CmsError('badAlg', `${agreement.name} does not apply to a ${spki.algorithm.algorithm} key`);
  const originator = kari.originator.originatorKey;
  if (!originator) throw new CmsError('malformed', 'RFC 5753 §3.1.1: ephemeral-static ECDH needs originator originatorKey');
  const rek = kariNames(kari, recipient.certificate);
  if (!rek) throw new CmsError('undecryptable', 'KeyAgreeRecipientInfo does not name this certificate');

  let z: Uint8Array | undefined;
  let kek: Uint8Array | undefined;
  try {
    if (originator.algorithm.algorithm !== agreement.keyOid) throw new CipherError('originator key of another algorithm');
    z = await agreement.agree(originatorSpki(originator, spki), recipient.key);
    kek = kdf.derive(z, eccCmsSharedInfo(wrapId.algorithm, wrap.keySize, kari.ukm && octets(kari.ukm)), wrap.keySize);
    return wrap.unwrap(kek, octets(rek.encryptedKey));
  } catch (err) {
    throw new CmsError('undecryptable', 'KeyAgreeRecipientInfo does not decrypt', { cause: err });
  } finally {
    z?.fill(0);
    kek?.fill(0);
  }
}

function namedCurveOf(spki: SubjectPublicKeyInfo): string | undefined {
  try {
    return spki.algorithm.parameters ? AsnConvert.parse(spki.algorithm.parameters, ECParameters).namedCurve : undefined;
  } catch {
    return undefined;
  }
}

/**
 * RecipientInfo { kari } (version 3, RFC 5652 §6.2.2) carrying `cek` to `recipient` (an EC
 * certificate), named by issuerAndSerialNumber, with a fresh ephemeral key (RFC 5753 §3.1.1).
 * The scheme is chosen by curve (DEFAULTS) unless `opts` names one. Throws CmsError('badAlg')
 * when the key, curve or names are unusable.
 */
export async function encryptKari(cek: Uint8Array, recipient: Certificate, registry: Registry, opts: { agreement?: string; wrap?: string; ukm?: Uint8Array } = {}): Promise<RecipientInfo> {
  const spki = recipient.tbsCertificate.subjectPublicKeyInfo;
  const defaults = DEFAULTS[namedCurveOf(spki) ?? ''];
  const agreementName = opts.agreement ?? defaults?.agreement;
  const wrapName = opts.wrap ?? defaults?.wrap;
  if (!agreementName || !wrapName) throw new CmsError('badAlg', 'no default key agreement for this recipient key');
  const agreement = lookup(registry, 'key-agreement', 'name', agreementName);
  const wrap = lookup(registry, 'key-wrap', 'name', wrapName);
  const kdf = lookup(registry, 'kdf', 'name', agreement.kdf);
  if (spki.algorithm.algorithm !== agreement.keyOid) throw new CmsError('badAlg', `${agreement.name} cannot encrypt to a ${spki.algorithm.algorithm} key`);

  let ephemeral: { originatorSpki: Uint8Array; sharedSecret: Uint8Array };
  try {
    ephemeral = await agreement.ephemeral(serialize(spki));
  } catch (err) {
    if (err instanceof CipherError) throw new CmsError('badAlg', `${agreement.name} cannot agree with this key`, { cause: err });
    throw err;
  }
  let kek: Uint8Array | undefined;
  try {
    kek = kdf.derive(ephemeral.sharedSecret, eccCmsSharedInfo(wrap.oids[0], wrap.keySize, opts.ukm), wrap.keySize);
    let encryptedKey: Uint8Array;
    try {
      encryptedKey = wrap.wrap(kek, cek);
    } catch (err) {
      if (err instanceof CipherError) throw new CmsError('badAlg', `${wrap.name} cannot wrap a ${cek.length}-byte key`, { cause: err });
      throw err;
    }
    const eph = AsnConvert.parse(ephemeral.originatorSpki, SubjectPublicKeyInfo);
    const tbs = recipient.tbsCertificate;
    return new RecipientInfo({
      kari: new KeyAgreeRecipientInfo({
        version: 3,
        // RFC 5753 §3.1.1: id-ecPublicKey, parameters absent (as OpenSSL emits), the ECPoint.
        originator: new OriginatorIdentifierOrKey({ originatorKey: new OriginatorPublicKey({ algorithm: new AlgorithmIdentifier({ algorithm: eph.algorithm.algorithm }), publicKey: eph.subjectPublicKey }) }),
        ukm: opts.ukm ? new OctetString(opts.ukm) : undefined,
        keyEncryptionAlgorithm: new KeyEncryptionAlgorithmIdentifier({ algorithm: agreement.oids[0], parameters: serialize(new AlgorithmIdentifier({ algorithm: wrap.oids[0] })).slice().buffer }),
        recipientEncryptedKeys: new RecipientEncryptedKeys([
          new RecipientEncryptedKey({
            rid: new KeyAgreeRecipientIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: tbs.issuer, serialNumber: tbs.serialNumber }) }),
            encryptedKey: new OctetString(encryptedKey),
          }),
        ]),
      }),
    });
  } finally {
    ephemeral.sharedSecret.fill(0);
    kek?.fill(0);
  }
}
