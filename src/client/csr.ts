/**
 * Client side of enrollment material: a PKCS#10 request (RFC 2986 §4) carrying the
 * challengePassword (RFC 2985 §5.4.1) and SANs in an extensionRequest (§5.4.2), and the
 * self-signed signer certificate RFC 8894 §2.3 asks for when the client has no certificate.
 * @module
 */
import { CertificationRequest, CertificationRequestInfo, Attributes } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Attribute, Extensions, GeneralName, SubjectAlternativeName, SubjectPublicKeyInfo, id_ce_subjectAltName, type Certificate, type Name } from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { algorithmIdentifier, certificateSignatureAlgorithm, extension, parseName, randomSerial, signCertificate } from '../ca/certificate.ts';
import { serialize } from '../cms/der.ts';
import { id_challengePassword, id_extensionRequest } from '../cms/oids.ts';
import type { Registry } from '../crypto/registry.ts';
import type { PrivateKeyHandle } from '../crypto/types.ts';

export interface CsrOptions {
  readonly subject: string;
  readonly key: PrivateKeyHandle;
  readonly challenge?: string;
  /** "DNS:x", "IP:x", "email:x", "URI:x" */
  readonly sans?: readonly string[];
}

function generalName(san: string): GeneralName {
  const i = san.indexOf(':');
  const kind = san.slice(0, i).toUpperCase();
  const value = san.slice(i + 1);
  if (kind === 'DNS') return new GeneralName({ dNSName: value });
  if (kind === 'EMAIL') return new GeneralName({ rfc822Name: value });
  if (kind === 'URI') return new GeneralName({ uniformResourceIdentifier: value });
  if (kind === 'IP') return new GeneralName({ iPAddress: value });
  throw new RangeError(`unsupported SAN ${JSON.stringify(san)}: use DNS:, IP:, email: or URI:`);
}

export async function buildCsr(o: CsrOptions, registry: Registry): Promise<Uint8Array> {
  const attributes: Attribute[] = [];
  if (o.challenge !== undefined)
    attributes.push(new Attribute({ type: id_challengePassword, values: [new asn1js.PrintableString({ value: o.challenge }).toBER(false)] }));
  if (o.sans?.length) {
    const ext = extension(id_ce_subjectAltName, new SubjectAlternativeName(o.sans.map(generalName)));
    attributes.push(new Attribute({ type: id_extensionRequest, values: [AsnConvert.serialize(new Extensions([ext]))] }));
  }
  const info = new CertificationRequestInfo({
    version: 0,
    subject: parseName(o.subject),
    subjectPKInfo: AsnConvert.parse(o.key.spki, SubjectPublicKeyInfo),
    attributes: new Attributes(attributes),
  });
  const { algorithm, digest } = certificateSignatureAlgorithm(o.key, registry);
  const signature = await algorithm.sign(serialize(info), o.key, digest);
  return serialize(new CertificationRequest({ certificationRequestInfo: info, signatureAlgorithm: algorithmIdentifier(algorithm), signature: signature.slice().buffer }));
}

/** RFC 8894 §2.3: a self-signed certificate with the request's key and subject, to sign the pkiMessage. */
export async function selfSignedSigner(subject: Name | string, key: PrivateKeyHandle, registry: Registry): Promise<Certificate> {
  const name = typeof subject === 'string' ? parseName(subject) : subject;
  const now = Date.now();
  const { algorithm, digest } = certificateSignatureAlgorithm(key, registry);
  return signCertificate(
    { subject: name, issuer: name, spki: key.spki, serial: randomSerial(), notBefore: new Date(now - 60_000), notAfter: new Date(now + 7 * 86400_000), extensions: [] },
    { key, algorithm, digest },
  );
}
