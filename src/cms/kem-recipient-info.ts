/**
 * KEMRecipientInfo (RFC 9629): the CMS recipient type for key-encapsulation mechanisms such as
 * ML-KEM (RFC 9936), carried in RecipientInfo.ori with oriType id-ori-kem (§3). The recipient
 * decapsulates kemct, derives the KEK with the KDF over CMSORIforKEMOtherInfo (§5), and unwraps
 * the content-encryption key; the originator mirrors it. Works for EnvelopedData (version 3 when
 * an ori is present, RFC 5652 §6.1) and AuthEnvelopedData (RFC 5083) alike: this module only
 * yields or consumes the CEK; the envelope code runs the content cipher.
 * Leaves out: AuthenticatedData, RecipientInfo selection (the envelope code matches `rid`),
 * keyUsage checks on the recipient certificate (policy).
 * @module
 */
import {
  CMSVersion, IssuerAndSerialNumber, KeyDerivationAlgorithmIdentifier, KeyEncryptionAlgorithmIdentifier,
  OtherRecipientInfo, RecipientIdentifier, RecipientInfo,
} from '@peculiar/asn1-cms';
import { AsnProp, AsnPropTypes, OctetString } from '@peculiar/asn1-schema';
import * as asn1js from 'asn1js';
import { AlgorithmIdentifier, SubjectKeyIdentifier, type Certificate } from '@peculiar/asn1-x509';
import type { Registry } from '../crypto/registry.ts';
import type { PrivateKeyHandle } from '../crypto/types.ts';
import { CipherError, UnsupportedAlgorithmError } from '../crypto/types.ts';
import { childOf, fromTree, octets, octetsFromBer, parseTree, serialize } from './der.ts';
import { derOf, noteReceivedAt, preEncoded, rawNode, remember } from './pre-encoded.ts';
import { CmsError } from './errors.ts';

/** id-ori-kem { iso(1) member-body(2) us(840) rsadsi(113549) pkcs(1) pkcs-9(9) smime(16) id-ori(13) 3 } */
export const id_ori_kem = '1.2.840.113549.1.9.16.13.3';
const id_ce_subjectKeyIdentifier = '2.5.29.14';

/**
 * ```asn
 * KEMRecipientInfo ::= SEQUENCE {
 *   version CMSVersion,  -- always set to 0
 *   rid RecipientIdentifier,
 *   kem KEMAlgorithmIdentifier,
 *   kemct OCTET STRING,
 *   kdf KeyDerivationAlgorithmIdentifier,
 *   kekLength INTEGER (1..65535),
 *   ukm [0] EXPLICIT UserKeyingMaterial OPTIONAL,
 *   wrap KeyEncryptionAlgorithmIdentifier,
 *   encryptedKey EncryptedKey }
 * ```
 * RFC 9629 §3. The module is IMPLICIT TAGS but `ukm` is EXPLICIT (UserKeyingMaterial ::= OCTET STRING).
 */
export class KEMRecipientInfo {
  @AsnProp({ type: AsnPropTypes.Integer }) public version: CMSVersion = CMSVersion.v0;
  @AsnProp({ type: RecipientIdentifier }) public rid = new RecipientIdentifier();
  @AsnProp({ type: AlgorithmIdentifier }) public kem = new AlgorithmIdentifier();
  @AsnProp({ type: OctetString }) public kemct = new OctetString();
  @AsnProp({ type: KeyDerivationAlgorithmIdentifier }) public kdf = new KeyDerivationAlgorithmIdentifier();
  @AsnProp({ type: AsnPropTypes.Integer }) public kekLength = 0;
  @AsnProp({ type: OctetString, context: 0, implicit: false, optional: true }) public ukm?: OctetString;
  @AsnProp({ type: KeyEncryptionAlgorithmIdentifier }) public wrap = new KeyEncryptionAlgorithmIdentifier();
  @AsnProp({ type: OctetString }) public encryptedKey = new OctetString();
  constructor(params: Partial<KEMRecipientInfo> = {}) {
    Object.assign(this, params);
  }
}

/**
 * ```asn
 * CMSORIforKEMOtherInfo ::= SEQUENCE {
 *   wrap KeyEncryptionAlgorithmIdentifier,
 *   kekLength INTEGER (1..65535),
 *   ukm [0] EXPLICIT UserKeyingMaterial OPTIONAL }
 * ```
 * RFC 9629 §5: its DER is the KDF `info`.
 */
export class CMSORIforKEMOtherInfo {
  @AsnProp({ type: KeyEncryptionAlgorithmIdentifier }) public wrap = new KeyEncryptionAlgorithmIdentifier();
  @AsnProp({ type: AsnPropTypes.Integer }) public kekLength = 0;
  @AsnProp({ type: OctetString, context: 0, implicit: false, optional: true }) public ukm?: OctetString;
  constructor(params: Partial<CMSORIforKEMOtherInfo> = {}) {
    Object.assign(this, params);
  }
}

/** The KEMRecipientInfo inside RecipientInfo.ori, if oriType is id-ori-kem (throws CmsError('malformed') if it is but does not parse). */
export function kemRecipientInfo(ri: RecipientInfo): KEMRecipientInfo | undefined {
  if (ri.ori?.oriType !== id_ori_kem) return undefined;
  const tree = parseTree(ri.ori.oriValue, 'KEMRecipientInfo');
  const kemri = fromTree(tree, KEMRecipientInfo, 'KEMRecipientInfo');
  // rid (RFC 9629 §3: version, rid, ...): its issuer Name as received, matched without encoding (signed-data.ts identifies).
  const issuer = kemri.rid.issuerAndSerialNumber?.issuer;
  if (issuer) noteReceivedAt(issuer, childOf(childOf(tree, 1), 0));
  return kemri;
}

/** RFC 9629 §5: info = DER(CMSORIforKEMOtherInfo), built from the wrap, kekLength and ukm as received or sent. */
export const kdfInfo = (kemri: Pick<KEMRecipientInfo, 'wrap' | 'kekLength' | 'ukm'>): Uint8Array =>
  serialize(new CMSORIforKEMOtherInfo({ wrap: kemri.wrap, kekLength: kemri.kekLength, ukm: kemri.ukm }));

function lookup<T>(find: () => T): T {
  try {
    return find();
  } catch (err) {
    if (err instanceof UnsupportedAlgorithmError) throw new CmsError('badAlg', err.message);
    throw err;
  }
}

/** Recovers the CEK (RFC 9629 §2): decapsulate kemct, HKDF with info = DER(CMSORIforKEMOtherInfo{wrap, kekLength, ukm}), unwrap. Unknown kem/kdf/wrap → CmsError('badAlg'); kekLength not matching the wrap key size, bad lengths, failed unwrap → CmsError('undecryptable') (one uniform error). Zero the shared secret and KEK in finally. */
export async function decryptKemri(kemri: KEMRecipientInfo, key: PrivateKeyHandle, registry: Registry): Promise<Uint8Array> {
  if (kemri.version !== CMSVersion.v0) throw new CmsError('malformed', `KEMRecipientInfo version ${kemri.version}`); // §3: always 0
  const kem = lookup(() => registry.byOid('kem', kemri.kem.algorithm));
  const kdf = lookup(() => registry.byOid('kdf', kemri.kdf.algorithm));
  const wrap = lookup(() => registry.byOid('key-wrap', kemri.wrap.algorithm));
  let sharedSecret: Uint8Array | undefined;
  let kek: Uint8Array | undefined;
  try {
    // §3: kekLength is the size of the key-encryption key the wrap algorithm takes.
    if (kemri.kekLength !== wrap.keySize) throw new CipherError('kekLength does not fit the wrap algorithm');
    sharedSecret = await kem.decapsulate(octets(kemri.kemct), key);
    kek = kdf.derive(sharedSecret, kdfInfo(kemri), wrap.keySize);
    return wrap.unwrap(kek, octets(kemri.encryptedKey));
  } catch (err) {
    if (err instanceof CipherError) throw new CmsError('undecryptable', 'KEMRecipientInfo does not decrypt');
    throw err;
  } finally {
    sharedSecret?.fill(0);
    kek?.fill(0);
  }
}

function recipientIdentifier(cert: Certificate, useSki: boolean): RecipientIdentifier {
  const tbs = cert.tbsCertificate;
  // The issuer Name as DER encoded once per certificate object (pre-encoded.ts).
  if (!useSki) return new RecipientIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: preEncoded(tbs.issuer), serialNumber: tbs.serialNumber }) });
  const ext = tbs.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  if (!ext) throw new RangeError('recipient certificate has no subjectKeyIdentifier extension');
  return new RecipientIdentifier({ subjectKeyIdentifier: new SubjectKeyIdentifier(octetsFromBer(octets(ext.extnValue))) });
}

/** Builds RecipientInfo { ori: { oriType: id-ori-kem, oriValue: KEMRecipientInfo } } for `recipient` (a certificate holding a KEM key): the registry Kem whose keyOid matches its SPKI, that Kem's kdf and wrap (overridable), rid = issuerAndSerialNumber (or subjectKeyIdentifier when opts.useSki), optional ukm. */
export async function encryptKemri(
  cek: Uint8Array,
  recipient: Certificate,
  registry: Registry,
  opts: { wrap?: string; kdf?: string; useSki?: boolean; ukm?: Uint8Array } = {},
): Promise<RecipientInfo> {
  const spkiInfo = recipient.tbsCertificate.subjectPublicKeyInfo;
  const kem = registry.list('kem').find((k) => k.keyOid === spkiInfo.algorithm.algorithm);
  if (!kem) throw new CmsError('badAlg', `no KEM for key algorithm ${spkiInfo.algorithm.algorithm}`);
  const kdf = lookup(() => registry.byName('kdf', opts.kdf ?? kem.kdf));
  const wrap = lookup(() => registry.byName('key-wrap', opts.wrap ?? kem.wrap));
  const rid = recipientIdentifier(recipient, opts.useSki ?? false);
  let sharedSecret: Uint8Array | undefined;
  let kek: Uint8Array | undefined;
  try {
    const encapsulated = await kem.encapsulate(derOf(spkiInfo));
    sharedSecret = encapsulated.sharedSecret;
    const kemri = new KEMRecipientInfo({
      version: CMSVersion.v0,
      rid,
      kem: new AlgorithmIdentifier({ algorithm: kem.oids[0] }), // RFC 9936 §3: parameters absent
      kemct: new OctetString(encapsulated.ciphertext),
      kdf: new KeyDerivationAlgorithmIdentifier({ algorithm: kdf.oids[0] }), // RFC 8619 §3: absent
      kekLength: wrap.keySize,
      ukm: opts.ukm ? new OctetString(opts.ukm) : undefined,
      wrap: new KeyEncryptionAlgorithmIdentifier({ algorithm: wrap.oids[0] }), // RFC 3565 §2.3.2: absent
    });
    kek = kdf.derive(sharedSecret, kdfInfo(kemri), wrap.keySize);
    kemri.encryptedKey = new OctetString(wrap.wrap(kek, cek));
    const kemriDer = serialize(kemri).slice().buffer;
    const ri = new RecipientInfo({ ori: new OtherRecipientInfo({ oriType: id_ori_kem, oriValue: kemriDer }) });
    // ori [4] IMPLICIT OtherRecipientInfo (RFC 5652 §6.2.5) written around the KEMRecipientInfo's
    // DER: asn1-schema would decode the ANY oriValue again only to encode it.
    remember(ri, new Uint8Array(new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 4 }, value: [new asn1js.ObjectIdentifier({ value: id_ori_kem }), rawNode(kemriDer)] }).toBER()));
    return ri;
  } catch (err) {
    if (err instanceof CipherError) throw new CmsError('badAlg', `cannot encrypt to this ${kem.name} key`);
    throw err;
  } finally {
    sharedSecret?.fill(0);
    kek?.fill(0);
  }
}
