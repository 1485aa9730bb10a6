/**
 * CMS EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083) for every recipient kind the
 * registry can serve: key transport (KeyTransRecipientInfo, §6.2.1), key agreement
 * (KeyAgreeRecipientInfo, §6.2.2 / RFC 5753) and KEM (KEMRecipientInfo in ori, RFC 9629).
 * Open: take the first RecipientInfo that names a certificate we hold the key for (clients may
 * encrypt to every certificate GetCACert gave them). Seal: the recipient certificate's key
 * decides the RecipientInfo kind. After a recipient is chosen, every failure is one uniform
 * CmsError('undecryptable'), so nothing tells a padding error from a wrong key.
 * Leaves out: KEK and password recipients, originatorInfo, unprotected attributes.
 * @module
 */
import { EncryptedContent, EncryptedContentInfo, EnvelopedData, IssuerAndSerialNumber, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo, RecipientInfos } from '@peculiar/asn1-cms';
import { OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, type Certificate } from '@peculiar/asn1-x509';
import { randomBytes } from 'node:crypto';
import type { Registry } from '../crypto/registry.ts';
import type { ContentCipher, KeyTransport, PrivateKeyHandle } from '../crypto/types.ts';
import { CipherError, UnsupportedAlgorithmError } from '../crypto/types.ts';
import * as asn1js from 'asn1js';
import { childOf, childrenOf, fromTree, isContext, noteEmbedded, octets, parseTree, type Tree } from './der.ts';
import { CmsError } from './errors.ts';
import { noteReceivedAt, preEncoded } from './pre-encoded.ts';
import { decryptKari, encryptKari, kariNames } from './key-agree-recipient-info.ts';
import { decryptKemri, encryptKemri, kemRecipientInfo } from './kem-recipient-info.ts';
import { id_ct_authEnvelopedData, id_data, id_envelopedData } from './oids.ts';
import { AuthEnvelopedData } from './schema.ts';
import { identifies, parseContentInfo, spkiAlgorithmOid, spkiOf } from './signed-data.ts';
import { wrap } from './signed-data-build.ts';

/** A certificate we can receive at, with its private key. */
export interface Recipient {
  readonly certificate: Certificate;
  readonly key: PrivateKeyHandle;
}

export type RecipientKind = 'ktri' | 'kari' | 'kemri';

export interface OpenedEnvelope {
  readonly content: Uint8Array;
  readonly cipher: ContentCipher;
  readonly kind: RecipientKind;
  /** Which of our recipients the envelope was opened with. */
  readonly recipient: Recipient;
  /** For ktri: the key transport the sender chose (a reply may use the same). */
  readonly keyTransport?: KeyTransport;
}

function encryptedBytes(eci: EncryptedContentInfo): Uint8Array {
  const ec = eci.encryptedContent;
  if (ec?.value) return octets(ec.value);
  if (ec?.constructedValue) return new Uint8Array(Buffer.concat(ec.constructedValue.map((p) => octets(p))));
  throw new CmsError('malformed', 'envelope has no encrypted content');
}

function algorithm<K extends 'cipher' | 'key-transport'>(registry: Registry, kind: K, oid: string) {
  try {
    return registry.byOid(kind, oid);
  } catch (err) {
    if (err instanceof UnsupportedAlgorithmError) throw new CmsError('badAlg', err.message);
    throw err;
  }
}

const params = (a: AlgorithmIdentifier): Uint8Array | null =>
  a.parameters === undefined || a.parameters === null ? null : new Uint8Array(a.parameters);

interface Match {
  readonly kind: RecipientKind;
  readonly recipient: Recipient;
  /** Recovers the CEK; may throw CipherError or CmsError. */
  readonly cek: () => Promise<Uint8Array>;
  readonly keyTransport?: KeyTransport;
}

/** A malformed KEMRecipientInfo addressed to someone else must not hide a later one for us. */
function kemRecipientInfoOrSkip(ri: RecipientInfo) {
  try {
    return kemRecipientInfo(ri);
  } catch (err) {
    if (err instanceof CmsError) return undefined;
    throw err;
  }
}

/** The first RecipientInfo addressed to one of `recipients`, with how to get its CEK. */
function findRecipient(infos: readonly RecipientInfo[], recipients: readonly Recipient[], registry: Registry): Match | undefined {
  for (const ri of infos) {
    if (ri.ktri) {
      const ktri = ri.ktri;
      const recipient = recipients.find((r) => identifies(ktri.rid, r.certificate));
      if (!recipient) continue;
      const keyTransport = algorithm(registry, 'key-transport', ktri.keyEncryptionAlgorithm.algorithm);
      return { kind: 'ktri', recipient, keyTransport, cek: () => keyTransport.decrypt(octets(ktri.encryptedKey), recipient.key, params(ktri.keyEncryptionAlgorithm)) };
    }
    if (ri.kari) {
      const kari = ri.kari;
      const recipient = recipients.find((r) => kariNames(kari, r.certificate));
      if (recipient) return { kind: 'kari', recipient, cek: () => decryptKari(kari, recipient, registry) };
      continue;
    }
    const kemri = kemRecipientInfoOrSkip(ri);
    if (kemri) {
      const recipient = recipients.find((r) => identifies(kemri.rid, r.certificate));
      if (recipient) return { kind: 'kemri', recipient, cek: () => decryptKemri(kemri, recipient.key, registry) };
    }
  }
  return undefined;
}

/** Opens an EnvelopedData or AuthEnvelopedData ContentInfo (BER accepted). */
export async function openEnvelope(der: Uint8Array, recipients: readonly Recipient[], registry: Registry): Promise<OpenedEnvelope> {
  const ci = parseContentInfo(der, [id_envelopedData, id_ct_authEnvelopedData]);
  const aead = ci.contentType === id_ct_authEnvelopedData;
  const what = aead ? 'AuthEnvelopedData' : 'EnvelopedData';
  const tree = ci.tree ?? parseTree(ci.content, what);
  const env = aead ? fromTree(tree, AuthEnvelopedData, what) : fromTree(tree, EnvelopedData, what);
  const eci = env instanceof AuthEnvelopedData ? env.authEncryptedContentInfo : env.encryptedContentInfo;
  const cipher = algorithm(registry, 'cipher', eci.contentEncryptionAlgorithm.algorithm);
  if (cipher.aead !== aead) throw new CmsError('badAlg', `${cipher.name} does not belong in ${aead ? 'AuthEnvelopedData' : 'EnvelopedData'}`);
  const ciphertext = encryptedBytes(eci);
  noteRecipientInfos(env.recipientInfos, tree);
  const match = findRecipient(env.recipientInfos, recipients, registry);
  if (!match) throw new CmsError('undecryptable', 'no RecipientInfo names a certificate of ours');

  let cek: Uint8Array | undefined;
  try {
    cek = await match.cek();
    const aad = aead ? authAttributesAad(tree) : undefined;
    const tag = env instanceof AuthEnvelopedData ? octets(env.mac) : undefined;
    const plaintext = cipher.decrypt(cek, params(eci.contentEncryptionAlgorithm), ciphertext, tag, aad);
    return { content: plaintext, cipher, kind: match.kind, recipient: match.recipient, keyTransport: match.keyTransport };
  } catch (err) {
    if (err instanceof CipherError || (err instanceof CmsError && err.failure === 'undecryptable')) throw new CmsError('undecryptable', 'envelope does not decrypt', { cause: err });
    throw err;
  } finally {
    cek?.fill(0);
  }
}

/**
 * Notes what the RecipientInfos' parse already holds, so that reading them encodes and decodes
 * nothing again: each KeyTransRecipientInfo's issuer Name as received (RFC 5652 §6.2.1:
 * version, rid, ...; matched by signed-data.ts identifies), and the tree of each ori's oriValue
 * (§6.2.5: [4] { oriType, oriValue }; a KEMRecipientInfo, decoded by kemRecipientInfo).
 * `tree` is the (Auth)EnvelopedData SEQUENCE: version, [0] originatorInfo, recipientInfos (§6.1,
 * RFC 5083 §2.1), taken in that order as asn1-schema decoded them.
 */
function noteRecipientInfos(infos: readonly RecipientInfo[], tree: Tree): void {
  const fields = childrenOf(tree);
  const set = fields[isContext(fields[1], 0) ? 2 : 1];
  const nodes = set?.idBlock.tagClass === 1 && set.idBlock.tagNumber === 17 ? childrenOf(set) : [];
  if (nodes.length !== infos.length) return;
  infos.forEach((ri, i) => {
    const issuer = ri.ktri?.rid.issuerAndSerialNumber?.issuer;
    if (issuer && nodes[i].idBlock.tagClass === 1) noteReceivedAt(issuer, childOf(childOf(nodes[i], 1), 0));
    const oriValue = childOf(nodes[i], 1);
    // An oriValue that is NULL comes out as null (asn1-schema's ANY): nothing to note.
    if (ri.ori?.oriValue instanceof ArrayBuffer && isContext(nodes[i], 4) && oriValue) noteEmbedded(ri.ori.oriValue, oriValue);
  });
}

/**
 * RFC 5083 §2.2: the AAD of an AuthEnvelopedData is its authAttrs as received (DER, §2.1) with
 * the EXPLICIT SET OF tag (0x31) in place of [1] IMPLICIT; none without authAttrs. Read from
 * the asn1js tree of the AuthEnvelopedData SEQUENCE: asn1-schema keeps no raw bytes of a
 * repeated field.
 */
export function authAttributesAad(tree: Tree): Uint8Array | undefined {
  const fields = (tree as asn1js.Sequence).valueBlock?.value ?? [];
  const authAttrs = fields.find((n) => n.idBlock.tagClass === 3 && n.idBlock.tagNumber === 1);
  if (!authAttrs) return undefined;
  const aad = new Uint8Array(authAttrs.valueBeforeDecodeView);
  aad[0] = 0x31;
  return aad;
}

/** What kind of RecipientInfo can deliver a CEK to the key in `spki`, if any (KEM, then key agreement, then key transport). */
export function recipientKindFor(spki: Uint8Array, registry: Registry): RecipientKind | undefined {
  const oid = spkiAlgorithmOid(spki);
  const keyType = registry.keyTypeOf(spki);
  if (registry.list('kem').some((k) => k.keyOid === oid)) return 'kemri';
  if (keyType?.usages.includes('agree') && registry.list('key-agreement').some((k) => k.keyOid === oid)) return 'kari';
  if (registry.list('key-transport').some((k) => k.keyOid === oid)) return 'ktri';
  return undefined;
}

async function recipientInfo(cek: Uint8Array, recipient: Certificate, registry: Registry, keyTransport?: KeyTransport): Promise<RecipientInfo> {
  const spki = spkiOf(recipient);
  const kind = recipientKindFor(spki, registry);
  if (kind === 'kemri') return encryptKemri(cek, recipient, registry);
  if (kind === 'kari') return encryptKari(cek, recipient, registry);
  const oid = spkiAlgorithmOid(spki);
  const kt = keyTransport?.keyOid === oid ? keyTransport : registry.list('key-transport').find((k) => k.keyOid === oid);
  if (!kt) throw new CmsError('badAlg', `no way to encrypt to a ${oid} key`);
  const tbs = recipient.tbsCertificate;
  let encryptedKey: Uint8Array;
  try {
    encryptedKey = kt.encrypt(cek, spki);
  } catch (err) {
    if (err instanceof CipherError) throw new CmsError('badAlg', `${kt.name} cannot encrypt to this key`, { cause: err });
    throw err;
  }
  return new RecipientInfo({
    ktri: new KeyTransRecipientInfo({
      version: 0,
      // The issuer Name as DER encoded once per object (pre-encoded.ts): identifies() already did when this certificate signed the request.
      rid: new RecipientIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: preEncoded(tbs.issuer), serialNumber: tbs.serialNumber }) }),
      keyEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: kt.oids[0], parameters: kt.parameters?.slice().buffer ?? undefined }),
      encryptedKey: new OctetString(encryptedKey),
    }),
  });
}

/**
 * Seals `content` to `recipient` with `cipher`; an AEAD cipher yields AuthEnvelopedData
 * (RFC 5083, version 0), anything else EnvelopedData whose version follows RFC 5652 §6.1
 * (0 for key transport only, 2 with a kari, 3 with an ori).
 */
export async function sealEnvelope(content: Uint8Array, recipient: Certificate, cipher: ContentCipher, registry: Registry, opts: { keyTransport?: KeyTransport } = {}): Promise<Uint8Array> {
  const cek = new Uint8Array(randomBytes(cipher.keySize));
  try {
    const ri = await recipientInfo(cek, recipient, registry, opts.keyTransport);
    const { parameters, ciphertext, tag } = cipher.encrypt(cek, content);
    const eci = new EncryptedContentInfo({
      contentType: id_data,
      contentEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: cipher.oids[0], parameters: parameters.slice().buffer }),
      encryptedContent: new EncryptedContent({ value: new OctetString(ciphertext) }),
    });
    if (cipher.aead) {
      const env = new AuthEnvelopedData({ version: 0, recipientInfos: new RecipientInfos([preEncoded(ri)]), authEncryptedContentInfo: eci, mac: new OctetString(tag!) });
      return wrap(id_ct_authEnvelopedData, env);
    }
    const version = ri.ori ? 3 : ri.kari ? 2 : 0;
    return wrap(id_envelopedData, new EnvelopedData({ version, recipientInfos: new RecipientInfos([preEncoded(ri)]), encryptedContentInfo: eci }));
  } finally {
    cek.fill(0);
  }
}
