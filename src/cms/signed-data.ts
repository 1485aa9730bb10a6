/**
 * CMS SignedData (RFC 5652 §5) as SCEP receives it: parse (BER accepted), find the signer's
 * certificate, verify one SignerInfo with signed attributes (§5.4, §11.1-11.2). Writing one
 * (signing, the certs-only form) is signed-data-build.ts.
 * Leaves out: counter-signatures, SignerInfos without signed attributes (SCEP always has them),
 * attribute certificates.
 * @module
 */
import { Attribute, ContentInfo, SignerIdentifier, SignerInfo } from '@peculiar/asn1-cms';
import * as asn1js from 'asn1js';
import { AlgorithmIdentifier, Certificate, CertificateList } from '@peculiar/asn1-x509';
import type { Registry } from '../crypto/registry.ts';
import { spkiOid } from '../crypto/spki-oid.ts';
import type { Digest, SignatureAlgorithm } from '../crypto/types.ts';
import { UnsupportedAlgorithmError } from '../crypto/types.ts';
import { childOf, childrenOf, equalBytes, fromTree, isContext, noteEmbedded, octets, octetsFromBer, parseTree, serialize, type Tree } from './der.ts';
import { CmsError } from './errors.ts';
import { derOf, noteReceivedAt, sameEncoding } from './pre-encoded.ts';
import { id_contentType, id_data, id_messageDigest, id_signedData } from './oids.ts';
import { Attributes, CmsSignedData, RevocationInfoChoice } from './schema.ts';
import { CONTENT_TYPE_DATA, ContentTypeValue } from './signed-data-build.ts';

export interface ParsedSignedData {
  readonly signedData: CmsSignedData;
  /** eContent octets, or undefined when absent (degenerate / FAILURE replies). */
  readonly content: Uint8Array | undefined;
  readonly contentType: string;
  readonly certificates: readonly Certificate[];
  readonly crls: readonly CertificateList[];
}

/** A ContentInfo (RFC 5652 §3) whose content type was checked, its content not decoded yet. */
export interface ContentInfoRead {
  readonly contentType: string;
  /** The content's encoding (the ANY inside [0] EXPLICIT). */
  readonly content: ArrayBuffer;
  /** The content's subtree in the ContentInfo's asn1js tree. */
  readonly tree: Tree | undefined;
  /** The content decoded as `type` from `tree` (no second asn1js pass); failures say `what`. */
  decode<T>(type: new () => T, what: string): T;
}

/**
 * Parses a ContentInfo and returns its content after checking the content type. asn1js decodes
 * the input once: `decode` reads the content from the subtree of that parse, the same tree a
 * parse of the content bytes alone would build (asn1-schema's ANY keeps only those bytes).
 */
export function parseContentInfo(der: Uint8Array, expected: readonly string[]): ContentInfoRead {
  const tree = parseTree(der, 'ContentInfo');
  const ci = fromTree(tree, ContentInfo, 'ContentInfo');
  if (!expected.includes(ci.contentType)) throw new CmsError('malformed', `content type ${ci.contentType} is not ${expected.join(' or ')}`);
  // asn1-schema reads an ANY that is NULL as null; no content type we expect is NULL.
  if (!(ci.content instanceof ArrayBuffer)) throw new CmsError('malformed', 'ContentInfo content is NULL');
  const node = childOf(childOf(tree, 1), 0);
  const inner = node && equalBytes(node.valueBeforeDecodeView, ci.content) ? node : undefined;
  return {
    contentType: ci.contentType,
    content: ci.content,
    tree: inner,
    decode: (type, what) => fromTree(inner ?? parseTree(ci.content, what), type, what),
  };
}


/**
 * The embedded-BER tree asn1js built for a primitive OCTET STRING's contents while parsing the
 * enclosing structure (asn1js tries that for every primitive OCTET STRING), if it did.
 */
function embeddedTree(node: Tree | undefined): Tree | undefined {
  if (!(node instanceof asn1js.OctetString) || node.idBlock.isConstructed) return undefined;
  const value = node.valueBlock.value;
  return value.length === 1 ? value[0] : undefined;
}

export function parseSignedData(der: Uint8Array): ParsedSignedData {
  const ci = parseContentInfo(der, [id_signedData]);
  const signedData = ci.decode(CmsSignedData, 'SignedData');
  const eci = signedData.encapContentInfo;
  let content: Uint8Array | undefined;
  if (eci.eContent?.single) {
    content = octets(eci.eContent.single);
    // The pkcsPKIEnvelope (RFC 8894 §3.2.2) was parsed with the pkiMessage, as embedded BER in
    // eContent: openEnvelope reads that tree instead of decoding the bytes again. SignedData's
    // third element is encapContentInfo (RFC 5652 §5.1), whose second is [0] EXPLICIT eContent.
    const tree = embeddedTree(childOf(childOf(childOf(ci.tree, 2), 1), 0));
    if (tree) noteEmbedded(content, tree);
  } else if (eci.eContent?.any) content = octetsFromBer(eci.eContent.any);
  if (ci.tree) noteSignedDataParts(signedData, ci.tree);
  const certificates = (signedData.certificates ?? []).flatMap((c) => (c.certificate ? [c.certificate] : []));
  const crls = ((signedData.crls ?? []) as RevocationInfoChoice[]).flatMap((c) => (c.crl ? [c.crl] : []));
  return { signedData, content, contentType: eci.eContentType, certificates, crls };
}


/**
 * Notes the received bytes of the parts of a request read again later (pre-encoded.ts): each
 * SignerInfo's signedAttrs (what the signature covers, RFC 5652 §5.4), the issuer Name of its
 * sid, and each certificate's issuer Name, so that verifying and matching them encodes nothing.
 * `tree` is the SignedData SEQUENCE that `sd` was decoded from (RFC 5652 §5.1: version,
 * digestAlgorithms, encapContentInfo, [0] certificates, [1] crls, signerInfos). The nodes are
 * taken in that order, as asn1-schema decoded them: it ignores elements after the last field, so
 * "the last element" could be another signerInfos than the one decoded (a signature lent from
 * another message, checked against the decoded attributes). Each SignerInfo node must also carry
 * the decoded signature value. Where the tree does not line up with the decoded value nothing is
 * noted, and the callers encode as before.
 */
function noteSignedDataParts(sd: CmsSignedData, tree: Tree): void {
  const fields = childrenOf(tree);
  let at = 3;
  const certsNode = isContext(fields[at], 0) ? fields[at++] : undefined;
  if (isContext(fields[at], 1)) at++;
  const signersNode = fields[at];
  const signerNodes = signersNode?.idBlock.tagClass === 1 && signersNode.idBlock.tagNumber === 17 ? childrenOf(signersNode) : [];
  if (signerNodes.length === sd.signerInfos.length) {
    sd.signerInfos.forEach((si, i) => {
      const [, sid, , attrs, , signature] = childrenOf(signerNodes[i]);
      // RFC 5652 §5.3: version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature.
      if (!(signature instanceof asn1js.OctetString) || !equalBytes(signature.valueBlock.valueHexView, octets(si.signature))) return;
      if (isContext(attrs, 0) && si.signedAttrs && sameAttributes(si.signedAttrs, childrenOf(attrs))) signedAttrsReceived.set(si, attrs.valueBeforeDecodeView);
      const issuer = si.sid.issuerAndSerialNumber?.issuer;
      if (issuer && sid?.idBlock.tagClass === 1) noteReceivedAt(issuer, childrenOf(sid)[0]);
    });
  }
  const certNodes = childrenOf(certsNode);
  const choices = sd.certificates ?? [];
  if (certNodes.length !== choices.length) return;
  choices.forEach((choice, i) => {
    const tbs = choice.certificate?.tbsCertificate;
    if (!tbs || certNodes[i].idBlock.tagClass !== 1) return;
    const tbsFields = childrenOf(childrenOf(certNodes[i])[0]);
    // RFC 5280 §4.1: [0] version (absent for v1), serialNumber, signature, issuer.
    const first = isContext(tbsFields[0], 0) ? 1 : 0;
    const serial = tbsFields[first];
    if (!(serial instanceof asn1js.Integer) || !equalBytes(serial.valueBlock.valueHexView, tbs.serialNumber)) return;
    noteReceivedAt(tbs.issuer, tbsFields[first + 2]);
  });
}


/**
 * True when `nodes` (Attribute ::= SEQUENCE { attrType, attrValues SET }, RFC 5652 §5.3) are the
 * encodings `attrs` were decoded from: the same number, each value's bytes equal. The attributes
 * checked (content type, message digest) are then the ones the received bytes carry.
 */
function sameAttributes(attrs: readonly Attribute[], nodes: readonly Tree[]): boolean {
  return attrs.length === nodes.length && attrs.every((a, i) => {
    // Exactly { attrType, attrValues }: asn1-schema would skip anything after them.
    const [type, set, ...extra] = childrenOf(nodes[i]);
    const values = childrenOf(set);
    return extra.length === 0 && type instanceof asn1js.ObjectIdentifier && type.valueBlock.toString() === a.attrType &&
      values.length === a.attrValues.length &&
      // asn1-schema reads an ANY that is NULL as null: not compared, the caller re-encodes.
      a.attrValues.every((v, j) => v !== null && equalBytes(values[j].valueBeforeDecodeView, v));
  });
}

/** Each parsed SignerInfo's signedAttrs as received ([0] IMPLICIT tag included). */
const signedAttrsReceived = new WeakMap<SignerInfo, Uint8Array>();

/** The certificate a SignerInfo names (RFC 5652 §5.3 sid), from the SignedData's certificates. */
export function findSignerCertificate(sd: ParsedSignedData, signer: SignerInfo): Certificate | undefined {
  return sd.certificates.find((cert) => identifies(signer.sid, cert));
}

/**
 * True when a SignerIdentifier/RecipientIdentifier (same CHOICE) names `cert`. The Names are
 * compared as DER (sameEncoding: by the bytes received or encoded already when they are equal,
 * so a request's Names are not encoded again; our certificates' once per object).
 */
export function identifies(id: SignerIdentifier, cert: Certificate): boolean {
  const ias = id.issuerAndSerialNumber;
  if (ias) {
    const tbs = cert.tbsCertificate;
    return equalBytes(ias.serialNumber, tbs.serialNumber) && sameEncoding(ias.issuer, tbs.issuer);
  }
  if (id.subjectKeyIdentifier) {
    const ski = subjectKeyIdentifierOf(cert);
    return ski !== undefined && equalBytes(octets(id.subjectKeyIdentifier), ski);
  }
  return false;
}

const id_ce_subjectKeyIdentifier = '2.5.29.14';
function subjectKeyIdentifierOf(cert: Certificate): Uint8Array | undefined {
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  if (!ext) return undefined;
  try {
    return octetsFromBer(octets(ext.extnValue));
  } catch (err) {
    if (err instanceof CmsError) return undefined; // a malformed SKI (e.g. in a client's certificate) identifies nothing
    throw err;
  }
}

/** The certificate's SubjectPublicKeyInfo DER (encoded once per certificate object: it is asked for often). */
export const spkiOf = (cert: Certificate): Uint8Array => derOf(cert.tbsCertificate.subjectPublicKeyInfo);

export function attributeValues(attrs: readonly Attribute[] | undefined, type: string): ArrayBuffer[] {
  return attrs?.find((a) => a.attrType === type)?.attrValues ?? [];
}

export interface VerifiedSigner {
  readonly digest: Digest;
  readonly signature: SignatureAlgorithm;
}

function lookup<T>(fn: () => T, what: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof UnsupportedAlgorithmError) throw new CmsError('badAlg', `${what}: ${err.message}`);
    throw err;
  }
}

/**
 * Verifies `signer` over `content` with the key in `spki` (RFC 5652 §5.4, §5.6): the
 * content-type and message-digest attributes must match, and the signature must verify over
 * the DER SET OF signed attributes.
 */
export function verifySignerInfo(sd: ParsedSignedData, signer: SignerInfo, spki: Uint8Array, registry: Registry): VerifiedSigner {
  const digest = lookup(() => registry.byOid('digest', signer.digestAlgorithm.algorithm), 'digestAlgorithm');
  const signature = lookup(() => registry.byOid('signature', signer.signatureAlgorithm.algorithm), 'signatureAlgorithm');
  const attrs = signer.signedAttrs;
  if (!attrs?.length) throw new CmsError('malformed', 'SignerInfo has no signed attributes');
  const [ct] = attributeValues(attrs, id_contentType);
  if (!ct || !equalBytes(ct, contentTypeDer(sd.contentType))) throw new CmsError('badSignature', 'content-type attribute does not match');
  const [md] = attributeValues(attrs, id_messageDigest);
  if (!md || !equalBytes(octetsFromBer(md), digest.hash(sd.content ?? new Uint8Array(0))))
    throw new CmsError('badSignature', 'message-digest attribute does not match the content');
  const spkiAlg = spkiAlgorithmOid(spki);
  if (spkiAlg !== signature.keyOid) throw new CmsError('badAlg', `${signature.name} cannot be made with a ${spkiAlg} key`);
  // RFC 5652 §5.4: the signature covers the DER of SignedAttrs with an EXPLICIT SET OF tag:
  // the bytes received (the sender had to send DER, §5.3), retagged. A sender that signed the
  // DER of what it sent in another encoding is still checked against the re-encoded set.
  const sig = octets(signer.signature);
  const verifies = (bytes: Uint8Array) => signature.verify(sig, bytes, spki, digest.name, parametersOf(signer.signatureAlgorithm));
  const received = signedAttrsReceived.get(signer);
  const asReceived = received?.slice();
  if (asReceived) asReceived[0] = 0x31;
  if (asReceived && verifies(asReceived)) return { digest, signature };
  const encoded = serialize(new Attributes(attrs));
  if ((asReceived && equalBytes(asReceived, encoded)) || !verifies(encoded)) throw new CmsError('badSignature', 'signature does not verify');
  return { digest, signature };
}

/** The DER of a content-type attribute value (RFC 5652 §11.1); id-data's, the one SCEP uses, is CONTENT_TYPE_DATA's. */
const contentTypeDer = (oid: string): Uint8Array =>
  oid === id_data ? new Uint8Array(CONTENT_TYPE_DATA.attrValues[0]) : serialize(new ContentTypeValue(oid));

/** The SPKI's algorithm OID (src/crypto/spki-oid.ts); a malformed SPKI is CmsError('malformed'). */
export function spkiAlgorithmOid(spki: Uint8Array): string {
  const oid = spkiOid(spki);
  if (oid === undefined) throw new CmsError('malformed', 'SubjectPublicKeyInfo: not a DER SubjectPublicKeyInfo');
  return oid;
}

/** The received AlgorithmIdentifier parameters as DER, or null when absent. */
export const parametersOf = (id: AlgorithmIdentifier): Uint8Array | null =>
  id.parameters === undefined || id.parameters === null ? null : new Uint8Array(id.parameters);
