/**
 * PKCS#10 certification requests (RFC 2986 §4) as SCEP carries them (RFC 8894 §3.3.1): parse,
 * read the PKCS#9 attributes a SCEP client sends (challengePassword RFC 2985 §5.4.1,
 * extensionRequest §5.4.2, smimeCapabilities RFC 8551 §2.5.2), and check the self-signature
 * (proof of possession, RFC 2986 §3 step 3) with an algorithm from the registry.
 * Leaves out: policy (which subjects, SANs, keys or challenges are acceptable), Microsoft's
 * msCertExtensions attribute, signature algorithms whose parameters matter (RSASSA-PSS).
 * @module
 */
import { CertificationRequest } from '@peculiar/asn1-csr';
import { ExtensionRequest, SMIMECapabilities } from '@peculiar/asn1-pkcs9';
import { AsnConvert, AsnParser } from '@peculiar/asn1-schema';
import { AttributeValue, type Extension, type Name, SubjectAlternativeName, id_ce_subjectAltName } from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { isIP } from 'node:net';
import type { Registry } from '../crypto/registry.ts';
import { UnsupportedAlgorithmError } from '../crypto/types.ts';
import { derCostProblem } from '../cms/der-limits.ts';
import { childrenOf, equalBytes, octets, serialize } from '../cms/der.ts';
import { id_challengePassword, id_extensionRequest, id_smimeCapabilities } from '../cms/oids.ts';
import { parametersOf, spkiAlgorithmOid } from '../cms/signed-data.ts';
import { nameToString, noteDerSpki } from './certificate.ts';

export const CsrFailure = Object.freeze({
  /** Not a PKCS#10 request, or an attribute/extension that does not decode. */
  malformed: 'malformed',
  /** A signature algorithm the registry does not enable, or one that does not fit the key. */
  badAlg: 'badAlg',
  /** The self-signature does not verify: no proof of possession. */
  badSignature: 'badSignature',
} as const);
export type CsrFailureName = keyof typeof CsrFailure;

/** Why a CSR was rejected; the SCEP layer maps `failure` to failInfo. The message is for logs. */
export class CsrError extends Error {
  override readonly name = 'CsrError';
  constructor(readonly failure: CsrFailureName, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export interface CsrInfo {
  /** The request as received. */
  readonly der: Uint8Array;
  readonly request: CertificationRequest;
  /** certificationRequestInfo exactly as received: the bytes the signature covers. */
  readonly certificationRequestInfo: Uint8Array;
  readonly subject: Name;
  /** RFC 4514 string (last RDN first), e.g. "CN=dev1,O=Acme". */
  readonly subjectString: string;
  /** DER SubjectPublicKeyInfo, verbatim. */
  readonly spki: Uint8Array;
  readonly challengePassword?: string;
  /** Extensions from the extensionRequest attribute. */
  readonly extensions: readonly Extension[];
  /** "DNS:x" | "IP:1.2.3.4" | "email:x" | "URI:x" from the requested subjectAltName; other kinds are dropped. */
  readonly sans: readonly string[];
  /** Capability OIDs of an smimeCapabilities attribute, in the client's order of preference. */
  readonly smimeCiphers: readonly string[];
}

const malformed = (message: string, cause?: unknown) => new CsrError('malformed', message, cause ? { cause } : undefined);

function decode<T>(der: ArrayBuffer | Uint8Array, type: new () => T, what: string): T {
  try {
    return AsnConvert.parse(der, type);
  } catch (err) {
    throw malformed(`${what}: ${(err as Error).message}`, err);
  }
}

/**
 * An encoding inside the request, with the node of the request's tree that asn1js built for it
 * when that node is known: the value of an attribute, or the contents of an extension's extnValue
 * (asn1js parses an OCTET STRING's contents as embedded BER, and keeps the tree when that parse
 * took all of them).
 */
interface Part {
  readonly bytes: ArrayBuffer | Uint8Array;
  readonly node?: asn1js.AsnType;
}

/**
 * decode(part.bytes) read from the node asn1js already built, instead of parsing the bytes a
 * second time (the value of an extensionRequest, then its subjectAltName, were each parsed again).
 * Same answer: AsnConvert.parse is asn1js.fromBER of the bytes, then AsnParser.fromASN of the
 * tree; a node that decoded without error from exactly these bytes is that tree (asn1js parses
 * the same bytes the same way; standing alone, it has at least the depth and node budget it had
 * inside the request). Any other node, or none, falls back to decode.
 */
function decodePart<T>(part: Part, type: new () => T, what: string): T {
  const { node, bytes } = part;
  if (!node || node.error || !equalBytes(node.valueBeforeDecodeView, bytes)) return decode(bytes, type, what);
  try {
    return AsnParser.fromASN(node, type);
  } catch (err) {
    throw malformed(`${what}: ${(err as Error).message}`, err);
  }
}

/** `value` encoded again; empty when asn1-schema cannot write what it read (e.g. a UTCTime that is no time), which no DER input gives. */
function reencoded(value: object): Uint8Array {
  try {
    return serialize(value);
  } catch {
    return new Uint8Array(0);
  }
}

/** The request's asn1js tree: one DER/BER SEQUENCE that is all of `der`. */
function requestTree(der: Uint8Array): asn1js.Sequence {
  let parsed: ReturnType<typeof asn1js.fromBER>;
  try {
    parsed = asn1js.fromBER(der);
  } catch (err) {
    throw malformed('not DER/BER', err); // asn1js throws on e.g. a BMPString of odd length
  }
  const { offset, result } = parsed;
  if (offset !== der.length || !(result instanceof asn1js.Sequence)) throw malformed('not a single DER/BER SEQUENCE');
  return result;
}

/** The original encodings of certificationRequestInfo and its subjectPKInfo (asn1js keeps them). */
function originalParts(tree: asn1js.Sequence): { info: Uint8Array; spki: Uint8Array } {
  const info = tree.valueBlock.value[0];
  const spki = info instanceof asn1js.Sequence ? info.valueBlock.value[2] : undefined;
  if (!info || !spki) throw malformed('certificationRequestInfo is incomplete');
  return { info: new Uint8Array(info.valueBeforeDecodeView), spki: new Uint8Array(spki.valueBeforeDecodeView) };
}

/** The request read from its tree, as AsnConvert.parse would read `der` (it builds the same tree). */
function requestOf(tree: asn1js.Sequence): CertificationRequest {
  try {
    if (tree.error) throw new Error(tree.error);
    return AsnParser.fromASN(tree, CertificationRequest);
  } catch (err) {
    throw malformed(`CertificationRequest: ${(err as Error).message}`, err);
  }
}

/**
 * The value of the single attribute of `type`; a repeated attribute is malformed (RFC 2985 §5.4:
 * single-valued). `tree` is the request's: attributes are the [0] element of
 * certificationRequestInfo (RFC 2986 §4.1), Attribute ::= SEQUENCE { type, values SET }.
 */
function singleValue(request: CertificationRequest, tree: asn1js.Sequence, type: string): Part | undefined {
  const attributes = request.certificationRequestInfo.attributes ?? [];
  const found = attributes.filter((a) => a.type === type);
  if (found.length === 0) return undefined;
  if (found.length > 1 || found[0].values.length !== 1) throw malformed(`attribute ${type} must occur once with one value`);
  const value = found[0].values[0] as ArrayBuffer | null; // asn1-schema reads an ANY that is NULL as null
  if (value === null) return undefined; // a NULL value says nothing: the attribute counts as absent
  const attribute = childrenOf(childrenOf(childrenOf(tree)[0])[3])[attributes.indexOf(found[0])];
  return { bytes: value, node: childrenOf(childrenOf(attribute)[1])[0] };
}

/** The contents of each extension's extnValue, with asn1js's embedded tree of them (Extension ::= SEQUENCE { extnID, critical, extnValue }). */
function extnValues(extensions: readonly Extension[], extReq: Part | undefined): Part[] {
  const nodes = childrenOf(extReq?.node);
  return extensions.map((ext, i) => {
    const extnValue = childrenOf(nodes[i]).at(-1);
    return { bytes: octets(ext.extnValue), node: childrenOf(extnValue)[0] };
  });
}

/** GeneralName kinds we carry over, with their OpenSSL-style prefixes (RFC 5280 §4.2.1.6). */
function sansOf(extensions: readonly Extension[], values: readonly Part[]): string[] {
  const i = extensions.findIndex((e) => e.extnID === id_ce_subjectAltName);
  if (i < 0) return [];
  return [...decodePart(values[i], SubjectAlternativeName, 'subjectAltName')].flatMap((gn) => {
    if (gn.dNSName !== undefined) return [`DNS:${gn.dNSName}`];
    // RFC 5280 §4.2.1.6: 4 octets (IPv4) or 16 (IPv6); anything else (a mask, odd lengths) cannot be issued.
    if (gn.iPAddress !== undefined && !isIP(gn.iPAddress)) throw malformed('subjectAltName iPAddress is not 4 or 16 octets');
    if (gn.iPAddress !== undefined) return [`IP:${gn.iPAddress}`];
    if (gn.rfc822Name !== undefined) return [`email:${gn.rfc822Name}`];
    if (gn.uniformResourceIdentifier !== undefined) return [`URI:${gn.uniformResourceIdentifier}`];
    return [];
  });
}

/** Parses a PKCS#10 request; throws CsrError('malformed'). Does not check the signature. */
export function parseCsr(der: Uint8Array): CsrInfo {
  let csr = parsed.get(der);
  if (!csr) parsed.set(der, (csr = parseNew(der)));
  return csr;
}

/**
 * Requests parsed, by the byte array they came in: one PKIOperation reads its CSR twice
 * (enroll.ts checks it, client-record.ts records who asked). Received bytes are never changed
 * afterwards, which makes this sound; a CSR that fails to parse is parsed again (and fails again).
 */
const parsed = new WeakMap<Uint8Array, CsrInfo>();

/** parseCsr without the memo: asn1js decodes `der` once, for the request and its original parts. */
function parseNew(der: Uint8Array): CsrInfo {
  const costly = derCostProblem(der);
  if (costly) throw malformed(costly);
  const tree = requestTree(der);
  const original = originalParts(tree);
  const request = requestOf(tree);
  const info = request.certificationRequestInfo;
  if (info.version !== 0) throw malformed(`unknown CertificationRequestInfo version ${info.version}`); // RFC 2986 §4.1: v1(0)
  // The issued certificate must carry this key byte for byte, so it must already be DER.
  if (!equalBytes(reencoded(info.subjectPKInfo), original.spki)) throw malformed('subjectPKInfo is not DER');
  noteDerSpki(original.spki, info.subjectPKInfo); // so issuing neither parses nor checks it again

  const challenge = singleValue(request, tree, id_challengePassword);
  let challengePassword: string | undefined;
  if (challenge) {
    // RFC 2985 §5.4.1: DirectoryString; IA5String is accepted too (seen from old clients).
    const v = decodePart(challenge, AttributeValue, 'challengePassword');
    challengePassword = v.utf8String ?? v.printableString ?? v.ia5String ?? v.teletexString ?? v.bmpString ?? v.universalString;
    if (challengePassword === undefined) throw malformed('challengePassword is not a string');
  }

  const extReq = singleValue(request, tree, id_extensionRequest);
  const extensions = extReq ? [...decodePart(extReq, ExtensionRequest, 'extensionRequest')] : [];
  if (new Set(extensions.map((e) => e.extnID)).size !== extensions.length) throw malformed('extensionRequest repeats an extension');

  const smime = singleValue(request, tree, id_smimeCapabilities);
  const smimeCiphers = smime ? [...decodePart(smime, SMIMECapabilities, 'smimeCapabilities')].map((c) => c.algorithm) : [];

  let subjectString: string;
  try {
    subjectString = nameToString(info.subject);
  } catch (err) {
    throw malformed('subject cannot be printed', err);
  }
  return Object.freeze({
    der,
    request,
    certificationRequestInfo: original.info,
    subject: info.subject,
    subjectString,
    spki: original.spki,
    ...(challengePassword !== undefined ? { challengePassword } : {}),
    extensions: Object.freeze(extensions),
    sans: Object.freeze(sansOf(extensions, extnValues(extensions, extReq))),
    smimeCiphers: Object.freeze(smimeCiphers),
  });
}

/**
 * Checks the self-signature over certificationRequestInfo as received (RFC 2986 §4.2).
 * Throws CsrError('badAlg') for an algorithm the registry does not enable or that does not
 * match the key, CsrError('badSignature') when it does not verify.
 */
export function verifyCsr(csr: CsrInfo, registry: Registry): void {
  const oid = csr.request.signatureAlgorithm.algorithm;
  let alg;
  try {
    alg = registry.byOid('signature', oid);
  } catch (err) {
    if (err instanceof UnsupportedAlgorithmError) throw new CsrError('badAlg', `CSR signature: ${err.message}`, { cause: err });
    throw err;
  }
  const keyOid = spkiAlgorithmOid(csr.spki);
  if (keyOid !== alg.keyOid) throw new CsrError('badAlg', `${alg.name} cannot be made with a ${keyOid} key`);
  let ok = false;
  try {
    // NOTE: algorithms whose OID does not fix the digest (digest null) are checked with SHA-256.
    ok = alg.verify(new Uint8Array(csr.request.signature), csr.certificationRequestInfo, csr.spki, alg.digest ?? 'SHA-256', parametersOf(csr.request.signatureAlgorithm));
  } catch {
    ok = false; // an unusable key (e.g. bad modulus) is no proof of possession
  }
  if (!ok) throw new CsrError('badSignature', 'CSR signature does not verify');
}
