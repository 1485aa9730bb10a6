/**
 * CMS EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083) with key transport
 * recipients (KeyTransRecipientInfo, §6.2.1): open an envelope addressed to one of our keys,
 * and seal content to one recipient certificate.
 * Recipient selection: a request may be enveloped to several recipients (clients encrypt to
 * every certificate GetCACert gave them); we take the first RecipientInfo that names a
 * certificate we hold the key for. Any failure after that point is one uniform
 * CmsError('undecryptable') so that nothing tells a padding error from a wrong key.
 * Leaves out: KeyAgreeRecipientInfo and KEMRecipientInfo (post-quantum work), KEK and password
 * recipients, originatorInfo, unprotected attributes.
 * @module
 */
import { EncryptedContent, EncryptedContentInfo, EnvelopedData, IssuerAndSerialNumber, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo, RecipientInfos } from '@peculiar/asn1-cms';
import { OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, type Certificate } from '@peculiar/asn1-x509';
import { randomBytes } from 'node:crypto';
import type { Registry } from '../crypto/registry.ts';
import type { ContentCipher, KeyTransport, PrivateKeyHandle } from '../crypto/types.ts';
import { CipherError, UnsupportedAlgorithmError } from '../crypto/types.ts';
import { octets, parse, serialize } from './der.ts';
import { CmsError } from './errors.ts';
import { id_ct_authEnvelopedData, id_data, id_envelopedData } from './oids.ts';
import { AuthEnvelopedData } from './schema.ts';
import { identifies, parseContentInfo, spkiAlgorithmOid, spkiOf, wrap } from './signed-data.ts';

/** A certificate we can receive at, with its private key. */
export interface Recipient {
  readonly certificate: Certificate;
  readonly key: PrivateKeyHandle;
}

export interface OpenedEnvelope {
  readonly content: Uint8Array;
  readonly cipher: ContentCipher;
  readonly keyTransport: KeyTransport;
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

/** Opens an EnvelopedData or AuthEnvelopedData ContentInfo (BER accepted). */
export async function openEnvelope(der: Uint8Array, recipients: readonly Recipient[], registry: Registry): Promise<OpenedEnvelope> {
  const { contentType, content } = parseContentInfo(der, [id_envelopedData, id_ct_authEnvelopedData]);
  const aead = contentType === id_ct_authEnvelopedData;
  const env = aead ? parse(content, AuthEnvelopedData, 'AuthEnvelopedData') : parse(content, EnvelopedData, 'EnvelopedData');
  const eci = env instanceof AuthEnvelopedData ? env.authEncryptedContentInfo : env.encryptedContentInfo;
  const cipher = algorithm(registry, 'cipher', eci.contentEncryptionAlgorithm.algorithm);
  if (cipher.aead !== aead) throw new CmsError('badAlg', `${cipher.name} does not belong in ${aead ? 'AuthEnvelopedData' : 'EnvelopedData'}`);
  const ciphertext = encryptedBytes(eci);

  let match: { ktri: KeyTransRecipientInfo; recipient: Recipient } | undefined;
  for (const ri of env.recipientInfos) {
    const recipient = ri.ktri && recipients.find((r) => identifies(ri.ktri!.rid, r.certificate));
    if (ri.ktri && recipient) {
      match = { ktri: ri.ktri, recipient };
      break;
    }
  }
  if (!match) throw new CmsError('undecryptable', 'no RecipientInfo names a certificate of ours');
  const keyTransport = algorithm(registry, 'key-transport', match.ktri.keyEncryptionAlgorithm.algorithm);

  let cek: Uint8Array | undefined;
  try {
    cek = await keyTransport.decrypt(octets(match.ktri.encryptedKey), match.recipient.key, params(match.ktri.keyEncryptionAlgorithm));
    const aad = env instanceof AuthEnvelopedData && env.authAttrsRaw ? authAttrsAad(env.authAttrsRaw) : undefined;
    const tag = env instanceof AuthEnvelopedData ? octets(env.mac) : undefined;
    const plaintext = cipher.decrypt(cek, params(eci.contentEncryptionAlgorithm), ciphertext, tag, aad);
    return { content: plaintext, cipher, keyTransport };
  } catch (err) {
    if (err instanceof CipherError) throw new CmsError('undecryptable', 'envelope does not decrypt', { cause: err });
    throw err;
  } finally {
    cek?.fill(0);
  }
}

/** RFC 5083 §2.2: the AAD is the DER of authAttrs with an EXPLICIT SET OF tag (0x31). */
function authAttrsAad(raw: ArrayBuffer): Uint8Array {
  const aad = new Uint8Array(raw.slice(0));
  aad[0] = 0x31;
  return aad;
}

/**
 * Seals `content` to the key in `recipient` with key transport and `cipher`; an AEAD cipher
 * yields AuthEnvelopedData (RFC 5083), anything else EnvelopedData version 0 (RFC 5652 §6.1).
 */
export function sealEnvelope(content: Uint8Array, recipient: Certificate, cipher: ContentCipher, keyTransport: KeyTransport): Uint8Array {
  const spki = spkiOf(recipient);
  if (spkiAlgorithmOid(spki) !== keyTransport.keyOid) throw new CmsError('badAlg', `${keyTransport.name} cannot encrypt to this key`);
  const cek = new Uint8Array(randomBytes(cipher.keySize));
  try {
    const { parameters, ciphertext, tag } = cipher.encrypt(cek, content);
    const tbs = recipient.tbsCertificate;
    const ri = new RecipientInfo({
      ktri: new KeyTransRecipientInfo({
        version: 0,
        rid: new RecipientIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: tbs.issuer, serialNumber: tbs.serialNumber }) }),
        keyEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: keyTransport.oids[0], parameters: keyTransport.parameters?.slice().buffer ?? undefined }),
        encryptedKey: new OctetString(keyTransport.encrypt(cek, spki)),
      }),
    });
    const eci = new EncryptedContentInfo({
      contentType: id_data,
      contentEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: cipher.oids[0], parameters: parameters.slice().buffer }),
      encryptedContent: new EncryptedContent({ value: new OctetString(ciphertext) }),
    });
    if (cipher.aead) {
      const env = new AuthEnvelopedData({ version: 0, recipientInfos: new RecipientInfos([ri]), authEncryptedContentInfo: eci, mac: new OctetString(tag!) });
      return wrap(id_ct_authEnvelopedData, env);
    }
    return wrap(id_envelopedData, new EnvelopedData({ version: 0, recipientInfos: new RecipientInfos([ri]), encryptedContentInfo: eci }));
  } finally {
    cek.fill(0);
  }
}
