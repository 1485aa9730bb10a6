/**
 * X.509 v3 certificate building (RFC 5280 §4.1) with @peculiar/asn1-x509: sign a template,
 * serial numbers (§4.1.2.2), RFC 4514 distinguished-name strings, key identifiers (§4.2.1.1-2),
 * and the choice of the algorithm a CA key signs with (from the registry, never by name).
 * Leaves out: certificate parsing/validation (OpenSSL and the CMS layer do that), v1/v2
 * certificates, unique identifiers, RFC 4514 multi-line or LDAPv2 (';') separators.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier, AttributeTypeAndValue, AttributeValue, Certificate, Extension, Extensions, Name,
  RelativeDistinguishedName, SubjectPublicKeyInfo, TBSCertificate, Validity, Version, id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import type { Registry } from '../crypto/registry.ts';
import { parseSpki } from '../crypto/spki-oid.ts';
import type { DigestName, PrivateKeyHandle, SignatureAlgorithm } from '../crypto/types.ts';
import { UnsupportedAlgorithmError } from '../crypto/types.ts';
import { equalBytes, octets, octetsFromBer, serialize } from '../cms/der.ts';
import { preEncoded, remember } from '../cms/pre-encoded.ts';
import { parametersOf, spkiAlgorithmOid } from '../cms/signed-data.ts';
import { algorithmId } from '../cms/signed-data-build.ts';

export interface CertificateTemplate {
  readonly subject: Name;
  readonly issuer: Name;
  /** DER SubjectPublicKeyInfo, embedded as is (must be DER). */
  readonly spki: Uint8Array;
  /** Positive INTEGER content octets; normalised to the minimal encoding. */
  readonly serial: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: readonly Extension[];
}

export interface Signer {
  readonly key: PrivateKeyHandle;
  readonly algorithm: SignatureAlgorithm;
  readonly digest: DigestName;
}

/** AlgorithmIdentifier for `alg`: its first OID, parameters NULL or absent as the algorithm says. */
export const algorithmIdentifier = (alg: SignatureAlgorithm): AlgorithmIdentifier => algorithmId(alg.oids[0], alg.parameters);

/**
 * True when `cert`'s signature verifies with `issuerSpki` (RFC 5280 §6.1.3 (a)(1)), over the
 * tbsCertificate bytes as received. Unknown or disallowed algorithms are a plain false.
 */
export function verifyCertificateSignature(cert: Certificate, issuerSpki: Uint8Array, registry: Registry): boolean {
  try {
    const alg = registry.byOid('signature', cert.signatureAlgorithm.algorithm);
    const tbs = new Uint8Array(cert.tbsCertificateRaw ?? serialize(cert.tbsCertificate));
    // Digest-free algorithms (ML-DSA, SLH-DSA) ignore the digest argument.
    return alg.verify(new Uint8Array(cert.signatureValue), tbs, issuerSpki, alg.digest ?? 'SHA-512', parametersOf(cert.signatureAlgorithm));
  } catch (err) {
    if (err instanceof UnsupportedAlgorithmError) return false;
    throw err;
  }
}

/** One extension; `value` is an asn1-schema object, DER-encoded into extnValue. */
export const extension = (extnID: string, value: unknown, critical = false): Extension =>
  new Extension({ extnID, critical, extnValue: new OctetString(serialize(value)) });

/**
 * SubjectPublicKeyInfos parsed and shown to be DER, by the byte array they were read from:
 * csr.ts checks a request's key so (noteDerSpki), and signCertificate then neither parses nor
 * re-encodes it again, nor does subjectKeyIdentifier. Sound as long as those bytes are not changed
 * afterwards, which holds for received bytes here (csr.ts memoises parsed requests the same way).
 */
const derSpkis = new WeakMap<Uint8Array, SubjectPublicKeyInfo>();

/** Notes that `der` is the DER of `spki` (the caller compared them), for signCertificate and subjectKeyIdentifier. */
export function noteDerSpki(der: Uint8Array, spki: SubjectPublicKeyInfo): void {
  remember(spki, der);
  derSpkis.set(der, spki);
}

/**
 * `der` parsed, refusing a key that is not DER: the certificate carries it as the bytes it came
 * in, and an encoding asn1-schema would write differently is not one to sign as is.
 */
function derSpki(der: Uint8Array): SubjectPublicKeyInfo {
  const known = derSpkis.get(der);
  if (known) return known;
  const spki = parseSpki(der);
  if (!equalBytes(serialize(spki), der)) throw new RangeError('SubjectPublicKeyInfo is not DER; it would not be carried verbatim');
  noteDerSpki(der, spki); // just shown to be its DER
  return spki;
}

/**
 * The AlgorithmIdentifier each signature algorithm signs certificates with, built once: it is
 * written twice in every certificate (RFC 5280 §4.1.1.2, §4.1.2.3) and spliced in pre-encoded.
 */
const signatureIds = new WeakMap<SignatureAlgorithm, AlgorithmIdentifier>();
function signatureId(alg: SignatureAlgorithm): AlgorithmIdentifier {
  let id = signatureIds.get(alg);
  if (!id) signatureIds.set(alg, (id = algorithmIdentifier(alg)));
  return id;
}

/**
 * Builds and signs a v3 certificate. Validity times are UTCTime through 2049 and
 * GeneralizedTime from 2050 (RFC 5280 §4.1.2.5; asn1-x509 `Time` does the switch), seconds precision.
 */
export async function signCertificate(t: CertificateTemplate, signer: Signer): Promise<Certificate> {
  const spki = derSpki(t.spki);
  if (spkiAlgorithmOid(signer.key.spki) !== signer.algorithm.keyOid) throw new TypeError(`${signer.algorithm.name} cannot sign with a ${signer.key.keyType} key`);
  const signature = signatureId(signer.algorithm);
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: toBuffer(serialContent(t.serial)),
    signature,
    issuer: t.issuer,
    validity: new Validity({ notBefore: t.notBefore, notAfter: t.notAfter }),
    subject: t.subject,
    subjectPublicKeyInfo: spki,
    extensions: t.extensions.length ? new Extensions([...t.extensions]) : undefined,
  });
  // Encoded with the parts whose DER is known or shared spliced in as bytes (pre-encoded.ts): the
  // issuer (our CA's subject), the key (its DER is what we were given), the algorithm, and each
  // extension (issuer.ts reuses the extension objects that are the same in every certificate).
  // A Name and an Extension encode the same alone as in place (neither is implicitly tagged here).
  const tbsDer = serialize(new TBSCertificate({
    ...tbsCertificate,
    signature: preEncoded(signature),
    issuer: preEncoded(t.issuer),
    subject: preEncoded(t.subject),
    subjectPublicKeyInfo: preEncoded(spki),
    extensions: t.extensions.length ? new Extensions(t.extensions.map(preEncoded)) : undefined,
  }));
  const value = await signer.algorithm.sign(tbsDer, signer.key, signer.digest);
  const certificate = new Certificate({ tbsCertificate, signatureAlgorithm: signature, signatureValue: toBuffer(value) });
  // The TBSCertificate is encoded once: the certificate's DER splices in the bytes just signed.
  remember(tbsCertificate, tbsDer);
  remember(certificate, serialize(new Certificate({ tbsCertificate: preEncoded(tbsCertificate), signatureAlgorithm: preEncoded(signature), signatureValue: toBuffer(value) })));
  return certificate;
}

const toBuffer = (b: Uint8Array): ArrayBuffer => b.slice().buffer;

const stripZeros = (b: Uint8Array): Uint8Array => {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
};

/** RFC 5280 §4.1.2.2: positive, at most 20 octets; adds the 0x00 sign octet when needed. */
function serialContent(serial: Uint8Array): Uint8Array {
  const v = stripZeros(serial);
  if (v.length === 0) throw new RangeError('serial number must be positive');
  const out = v[0] & 0x80 ? Uint8Array.of(0, ...v) : v;
  if (out.length > 20) throw new RangeError('serial number longer than 20 octets');
  return out;
}

/**
 * 16 random octets with the top bit cleared (127 bits of entropy), as minimal INTEGER content:
 * leading zero octets stripped unless one is needed as the sign octet. Never zero.
 */
export function randomSerial(): Uint8Array {
  for (;;) {
    const b = new Uint8Array(randomBytes(16));
    b[0] &= 0x7f;
    if (stripZeros(b).length) return serialContent(b).slice();
  }
}

/** Lowercase hex of a serial without leading zero octets (the store key); zero is '00'. */
export function serialHex(serial: ArrayBuffer | Uint8Array): string {
  const hex = Buffer.from(stripZeros(serial instanceof Uint8Array ? serial : new Uint8Array(serial))).toString('hex');
  return hex || '00';
}

/** Inverse of serialHex: INTEGER content octets (sign octet added when the top bit is set). */
export function serialFromHex(hex: string): Uint8Array {
  if (!/^[0-9a-f]+$/i.test(hex)) throw new RangeError(`not a hex serial: ${hex}`);
  return serialContent(new Uint8Array(Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex')));
}

/**
 * RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING contents. SHA-1 is
 * fixed by that method (an identifier, not a security function), so it does not go through the registry.
 */
export function subjectKeyIdentifier(spki: Uint8Array): Uint8Array {
  const key = (derSpkis.get(spki) ?? parseSpki(spki)).subjectPublicKey;
  return new Uint8Array(createHash('sha1').update(new Uint8Array(key)).digest());
}

/** The key identifier of a CA certificate: its subjectKeyIdentifier extension, else computed. */
export function keyIdentifierOf(cert: Certificate): Uint8Array {
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  return ext ? octetsFromBer(octets(ext.extnValue)) : subjectKeyIdentifier(serialize(cert.tbsCertificate.subjectPublicKeyInfo));
}

/**
 * The signature algorithm (and digest) a CA key signs certificates and CRLs with: among the
 * enabled, non-legacy algorithms for the key's SPKI algorithm, the first that fixes SHA-256,
 * else the first that fixes any digest, else the first digest-free one (e.g. pure ML-DSA) with
 * SHA-512 passed along. Throws UnsupportedAlgorithmError when none fits.
 */
export function certificateSignatureAlgorithm(key: PrivateKeyHandle, registry: Registry): { algorithm: SignatureAlgorithm; digest: DigestName } {
  const keyOid = spkiAlgorithmOid(key.spki);
  const candidates = registry.list('signature').filter((a) => a.keyOid === keyOid && !a.legacy);
  const fixed = candidates.filter((a) => a.digest !== null);
  const pick = fixed.find((a) => a.digest === 'SHA-256') ?? fixed[0];
  if (pick?.digest) return { algorithm: pick, digest: pick.digest };
  if (candidates[0]) return { algorithm: candidates[0], digest: 'SHA-512' };
  throw new UnsupportedAlgorithmError(`no signature algorithm enabled for ${key.keyType} keys (${keyOid})`);
}

// ---- Distinguished names (RFC 4514) ----

type StringKind = 'utf8' | 'printable' | 'ia5';
/** RFC 4514 §3 keywords, plus the OpenSSL short names for other common attributes (RFC 4519, RFC 2985). */
const ATTRIBUTES: readonly (readonly [string, string, StringKind])[] = [
  ['CN', '2.5.4.3', 'utf8'], ['L', '2.5.4.7', 'utf8'], ['ST', '2.5.4.8', 'utf8'], ['O', '2.5.4.10', 'utf8'],
  ['OU', '2.5.4.11', 'utf8'], ['C', '2.5.4.6', 'printable'], ['STREET', '2.5.4.9', 'utf8'],
  ['DC', '0.9.2342.19200300.100.1.25', 'ia5'], ['UID', '0.9.2342.19200300.100.1.1', 'utf8'],
  ['emailAddress', '1.2.840.113549.1.9.1', 'ia5'], ['serialNumber', '2.5.4.5', 'printable'],
  ['SN', '2.5.4.4', 'utf8'], ['GN', '2.5.4.42', 'utf8'], ['title', '2.5.4.12', 'utf8'],
  ['initials', '2.5.4.43', 'utf8'], ['dnQualifier', '2.5.4.46', 'printable'], ['pseudonym', '2.5.4.65', 'utf8'],
];
const BY_OID = new Map(ATTRIBUTES.map((a) => [a[1], a]));
const BY_NAME = new Map(ATTRIBUTES.map((a) => [a[0].toLowerCase(), a]));

function stringOf(v: AttributeValue): string | undefined {
  return v.utf8String ?? v.printableString ?? v.ia5String ?? v.teletexString ?? v.bmpString ?? v.universalString;
}

/** RFC 4514 §2.4 escaping. */
function escapeValue(s: string): string {
  const cps = [...s];
  return cps
    .map((c, i) => {
      if (c === '\0') return '\\00';
      if ('"+,;<>\\'.includes(c) || (i === 0 && (c === ' ' || c === '#')) || (i === cps.length - 1 && c === ' ')) return `\\${c}`;
      return c;
    })
    .join('');
}

/**
 * RFC 4514 §2: RDNs from the LAST to the first, '+' inside multi-valued RDNs. Unknown types,
 * and values without a string form, are `OID=#hex` of the value's DER.
 * NOTE: "/CN=dev1/O=Acme" (OpenSSL -subj order) prints as "O=Acme,CN=dev1", as OpenSSL's -nameopt RFC2253 does.
 */
export function nameToString(name: Name): string {
  return [...name]
    .reverse()
    .map((rdn) =>
      [...rdn]
        .map((atv) => {
          const known = BY_OID.get(atv.type);
          const text = stringOf(atv.value);
          if (!known || text === undefined) return `${known?.[0] ?? atv.type}=#${Buffer.from(serialize(atv.value)).toString('hex')}`;
          return `${known[0]}=${escapeValue(text)}`;
        })
        .join('+'),
    )
    .join(',');
}

/** Splits at `sep` characters that are not backslash-escaped; escapes are kept. */
function splitUnescaped(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && i + 1 < s.length) cur += s[i] + s[++i];
    else if (s[i] !== sep) cur += s[i];
    else {
      parts.push(cur);
      cur = '';
    }
  }
  parts.push(cur);
  return parts;
}

function unescapeValue(v: string): string {
  const bytes: number[] = [];
  const cps = [...v];
  for (let i = 0; i < cps.length; i++) {
    let c = cps[i];
    if (c === '\\') {
      const pair = (cps[i + 1] ?? '') + (cps[i + 2] ?? '');
      if (/^[0-9a-fA-F]{2}$/.test(pair)) {
        bytes.push(parseInt(pair, 16));
        i += 2;
        continue;
      }
      if (i + 1 >= cps.length) throw new RangeError('DN: dangling backslash');
      c = cps[++i];
    }
    bytes.push(...Buffer.from(c, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

function attributeValue(kind: StringKind, text: string): AttributeValue {
  if (kind === 'printable' && PRINTABLE.test(text)) return new AttributeValue({ printableString: text });
  if (kind === 'ia5' && /^[\x00-\x7f]*$/.test(text)) return new AttributeValue({ ia5String: text });
  return new AttributeValue({ utf8String: text });
}

/** X.690 §11.6: DER orders the components of a SET OF (a multi-valued RDN) by their encodings. */
function sortedSet(atvs: AttributeTypeAndValue[]): RelativeDistinguishedName {
  const keyed = atvs.map((atv) => [Buffer.from(serialize(atv)), atv] as const);
  keyed.sort((a, b) => Buffer.compare(a[0], b[0]));
  return new RelativeDistinguishedName(keyed.map((k) => k[1]));
}

/**
 * Parses an RFC 4514 string ("CN=dev1,O=Acme": the first RDN printed is the LAST in the
 * sequence). Values are UTF8String, except PrintableString for C/serialNumber/dnQualifier and
 * IA5String for emailAddress/DC; `OID=#hex` values are taken as DER. Throws RangeError.
 */
export function parseName(dn: string): Name {
  if (dn.trim() === '') return new Name([]);
  const rdns = splitUnescaped(dn, ',').map((rdn) =>
    sortedSet(
      splitUnescaped(rdn, '+').map((atv) => {
        const eq = atv.indexOf('=');
        if (eq < 1) throw new RangeError(`DN: "${atv}" is not type=value`);
        const typeText = atv.slice(0, eq).trim();
        const raw = atv.slice(eq + 1).trimStart().replace(/(?<!\\) +$/, '');
        const known = BY_NAME.get(typeText.toLowerCase()) ?? BY_OID.get(typeText);
        if (!known && !/^\d+(\.\d+)+$/.test(typeText)) throw new RangeError(`DN: unknown attribute type ${typeText}`);
        const type = known?.[1] ?? typeText;
        if (raw.startsWith('#')) {
          if (!/^#([0-9a-fA-F]{2})+$/.test(raw)) throw new RangeError(`DN: bad hex value for ${typeText}`);
          return new AttributeTypeAndValue({ type, value: AsnConvert.parse(Buffer.from(raw.slice(1), 'hex'), AttributeValue) });
        }
        return new AttributeTypeAndValue({ type, value: attributeValue(known?.[2] ?? 'utf8', unescapeValue(raw)) });
      }),
    ),
  );
  return new Name(rdns.reverse());
}
