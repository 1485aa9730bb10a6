/**
 * Our CMS encodings (RFC 5652 SignedData §5 and EnvelopedData §6, RFC 5083 AuthEnvelopedData)
 * checked against an implementation we did not write: the OpenSSL CLI (`openssl cms`,
 * `openssl pkcs7`, `openssl crl2pkcs7`). Each direction is tested: what we produce OpenSSL must
 * verify / decrypt, and what OpenSSL produces we must parse, verify and decrypt.
 * Keys: one CA + RA made by loadOrCreateCa (RSA-2048), plus a foreign RSA recipient made by OpenSSL.
 * Leaves out: SCEP message semantics (rfc8894-*.test.ts), KEMRecipientInfo (not implemented),
 * S/MIME (MIME canonicalisation is avoided with -binary everywhere).
 * Skipped, with the reason in the test title, when no `openssl` is on PATH.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attribute, ContentInfo, EnvelopedData } from '@peculiar/asn1-cms';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1js from 'asn1js';
import { ALGORITHMS } from '../algorithms/index.ts';
import { loadOrCreateCa, type CaFiles } from '../src/ca/bootstrap.ts';
import { buildCrl } from '../src/ca/crl.ts';
import { toPem } from '../src/ca/pem.ts';
import { octets, serialize } from '../src/cms/der.ts';
import { openEnvelope, sealEnvelope, type Recipient } from '../src/cms/enveloped-data.ts';
import { attributeDer } from '../src/cms/pre-encoded.ts';
import { CmsError } from '../src/cms/errors.ts';
import { AuthEnvelopedData } from '../src/cms/schema.ts';
import { id_contentType, id_ct_authEnvelopedData, id_data, id_envelopedData } from '../src/cms/oids.ts';
import { findSignerCertificate, parseSignedData, spkiOf, verifySignerInfo } from '../src/cms/signed-data.ts';
import { certsOnly, signData } from '../src/cms/signed-data-build.ts';
import { createRegistry } from '../src/crypto/registry.ts';
import { certRepAttributes } from '../src/scep/attributes.ts';
import { clientRegistry as registry } from './helpers/server.ts';

function probe(args: string[]): boolean {
  try {
    execFileSync('openssl', args, { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

const hasOpenssl = probe(['version']);
const LEGACY = ['-provider', 'legacy', '-provider', 'default'];
const hasLegacyDes = hasOpenssl && probe(['enc', '-des-cbc', '-K', '0011223344556677', '-iv', '0011223344556677', '-in', '/dev/null', ...LEGACY]);
const NO_OPENSSL = 'skipped: no `openssl` on PATH';
const NO_LEGACY = 'skipped: the OpenSSL legacy provider (single DES) is not available';

/** `it`, or a titled skip that states why. */
const itWhen = (ok: boolean, reason: string) =>
  ok ? it : (title: string, _fn?: unknown) => it.skip(`${title} (${reason})`, () => {});
const test = itWhen(hasOpenssl, NO_OPENSSL);

let dir = '';
let pki: CaFiles;
let ra: Recipient;
const plaintext = new Uint8Array(randomBytes(777)); // not a multiple of any block size

const path = (name: string) => join(dir, name);
/** Runs openssl in the temp dir; stdout as bytes. Throws (with stderr in the message) on a non-zero exit. */
function openssl(args: string[]): Buffer {
  try {
    return execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}
/** Runs openssl expecting failure; returns its stderr. */
function opensslFails(args: string[]): string {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    return (err as { stderr?: Buffer }).stderr?.toString() ?? '';
  }
  throw new Error(`openssl ${args.join(' ')} unexpectedly succeeded`);
}
const write = (name: string, data: Uint8Array | string): string => {
  writeFileSync(path(name), data);
  return path(name);
};
const read = (name: string) => new Uint8Array(readFileSync(path(name)));

/** Flips one bit of the first occurrence of `needle` in `der` (at `offset` into it). */
function tamper(der: Uint8Array, needle: Uint8Array, offset = 0): Uint8Array {
  const at = Buffer.from(der).indexOf(Buffer.from(needle));
  if (at < 0) throw new Error('tamper: needle not found');
  const out = der.slice();
  out[at + offset] ^= 0x01;
  return out;
}

async function cmsFailure(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof CmsError) return err.failure;
    throw err;
  }
  throw new Error('expected a CmsError, got success');
}

beforeAll(async () => {
  if (!hasOpenssl) return;
  dir = mkdtempSync(join(tmpdir(), 'pqscep-rfc5652-openssl-'));
  pki = await loadOrCreateCa(path('pki'), registry); // writes pki/ca.pem, pki/ra-rsa-2048.pem, pki/ra-rsa-2048.key.pem
  ra = { certificate: pki.ras[0].certificate, key: pki.ras[0].key };
  write('plain.bin', plaintext);
  write('empty.bin', new Uint8Array(0));
  // A recipient that is not us, made by OpenSSL.
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=someone else', '-days', '2', '-keyout', 'other.key', '-out', 'other.pem']);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const CA = () => path('pki/ca.pem');
const RA_CERT = () => path('pki/ra-rsa-2048.pem');
const RA_KEY = () => path('pki/ra-rsa-2048.key.pem');

describe('RFC 5652 §5 SignedData, ours verified by openssl cms -verify', () => {
  const scepAttributes = () =>
    certRepAttributes({
      transactionId: 'e2b5c1f0a1d34c6f9b7e2d1c0a9b8f7e', messageType: '3', pkiStatus: '0',
      senderNonce: new Uint8Array(randomBytes(16)), recipientNonce: new Uint8Array(randomBytes(16)),
    });
  // [digest, signatureAlgorithm]: rsaEncryption (digest from SignerInfo.digestAlgorithm, what
  // CertReps use, RFC 3370 §3.2) and the digest-fixing shaNWithRSAEncryption OIDs.
  const cases = [
    ['SHA-256', 'rsaEncryption'], ['SHA-384', 'rsaEncryption'], ['SHA-512', 'rsaEncryption'], ['SHA-1', 'rsaEncryption'],
    ['SHA-256', 'sha256WithRSAEncryption'], ['SHA-384', 'sha384WithRSAEncryption'], ['SHA-512', 'sha512WithRSAEncryption'],
    ['SHA-1', 'sha1WithRSAEncryption'],
  ] as const;

  it('§5.3 each signed attribute of a CertRep is written as the DER asn1-schema would write (attributeDer skips only its re-parse)', () => {
    const attrs = [...scepAttributes(), new Attribute({ attrType: id_contentType, attrValues: [new asn1js.ObjectIdentifier({ value: id_data }).toBER()] })];
    for (const a of attrs) expect(Buffer.from(attributeDer(a)).toString('hex')).toBe(Buffer.from(serialize(a)).toString('hex'));
    const first = attributeDer(attrs[0]);
    first[first.length - 1] ^= 1; // each call hands out a copy: a caller writing to it changes nothing
    expect(attributeDer(attrs[0])).toEqual(new Uint8Array(serialize(attrs[0])));
  });

  const sign = (digest: string, signature: string, content?: Uint8Array) =>
    signData({
      content, signerCertificate: pki.ras[0].certificate, key: pki.ras[0].key, certificates: [pki.ras[0].certificate],
      signature: registry.byName('signature', signature), digest: registry.byName('digest', digest), attributes: scepAttributes(),
    });

  for (const [digest, signature] of cases) {
    test(`${digest} / ${signature}, content present: openssl cms -verify (chain, messageDigest, signature) returns the content`, async () => {
      const der = await sign(digest, signature, plaintext);
      const file = write(`signed-${digest}-${signature}.der`, der);
      const out = openssl(['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', CA(), '-purpose', 'any', '-binary']);
      expect(new Uint8Array(out)).toEqual(plaintext);
    });
  }

  for (const digest of ['SHA-256', 'SHA-512']) {
    test(`${digest}, content absent (CertRep FAILURE/PENDING form): verifies as a detached signature over empty content`, async () => {
      const der = await sign(digest, 'rsaEncryption');
      expect(parseSignedData(der).content).toBeUndefined();
      const file = write(`signed-absent-${digest}.der`, der);
      const out = openssl(['cms', '-verify', '-inform', 'DER', '-in', file, '-content', path('empty.bin'), '-CAfile', CA(), '-purpose', 'any', '-binary']);
      expect(out.length).toBe(0);
      // The messageDigest is over the empty string: any other detached content must fail.
      opensslFails(['cms', '-verify', '-inform', 'DER', '-in', file, '-content', path('plain.bin'), '-CAfile', CA(), '-purpose', 'any', '-binary']);
    });
  }

  test('OpenSSL sees the SCEP signed attributes (transactionID, messageType, nonces) beside contentType and messageDigest', async () => {
    const der = await sign('SHA-256', 'rsaEncryption', plaintext);
    const printed = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', write('signed-print.der', der)]).toString();
    for (const oid of ['2.16.840.1.113733.1.9.7', '2.16.840.1.113733.1.9.2', '2.16.840.1.113733.1.9.3', '2.16.840.1.113733.1.9.5', '2.16.840.1.113733.1.9.6'])
      expect(printed).toContain(oid);
    expect(printed).toContain('e2b5c1f0a1d34c6f9b7e2d1c0a9b8f7e');
    expect(printed).toMatch(/contentType/);
    expect(printed).toMatch(/messageDigest/);
  });

  test('a tampered content or signature in our SignedData is rejected by OpenSSL (the check can fail)', async () => {
    const der = await sign('SHA-256', 'rsaEncryption', plaintext);
    const badContent = write('signed-bad-content.der', tamper(der, plaintext.subarray(0, 32), 5));
    expect(opensslFails(['cms', '-verify', '-inform', 'DER', '-in', badContent, '-CAfile', CA(), '-purpose', 'any', '-binary'])).toMatch(/digest|verif/i);
    const sig = octets(parseSignedData(der).signedData.signerInfos[0].signature);
    const badSig = write('signed-bad-sig.der', tamper(der, sig, 100));
    expect(opensslFails(['cms', '-verify', '-inform', 'DER', '-in', badSig, '-CAfile', CA(), '-purpose', 'any', '-binary'])).toMatch(/verif|signature/i);
  });
});

describe('RFC 5652 §5 SignedData, OpenSSL-made verified by parseSignedData + verifySignerInfo', () => {
  const osslSign = (name: string, md: string, extra: string[] = []) => {
    const file = path(name);
    openssl(['cms', '-sign', '-md', md, '-nodetach', '-binary', ...extra, '-outform', 'DER', '-in', path('plain.bin'), '-signer', RA_CERT(), '-inkey', RA_KEY(), '-out', file]);
    return read(name);
  };

  /** What a receiver does: parse, find the signer's certificate in the message, verify. */
  function verifyParsed(der: Uint8Array, reg = registry) {
    const sd = parseSignedData(der);
    const signer = sd.signedData.signerInfos[0];
    const cert = findSignerCertificate(sd, signer);
    if (!cert) throw new Error('signer certificate not found');
    return verifySignerInfo(sd, signer, spkiOf(cert), reg);
  }

  function verifyOurs(der: Uint8Array, reg = registry) {
    const sd = parseSignedData(der);
    expect(sd.contentType).toBe(id_data);
    expect(sd.content).toEqual(plaintext);
    expect(sd.signedData.signerInfos).toHaveLength(1);
    const cert = findSignerCertificate(sd, sd.signedData.signerInfos[0]);
    expect(cert && serialize(cert)).toEqual(pki.ras[0].der);
    return verifyParsed(der, reg);
  }

  for (const [md, name] of [['sha256', 'SHA-256'], ['sha384', 'SHA-384'], ['sha512', 'SHA-512']] as const) {
    test(`openssl cms -sign -md ${md} (DER) verifies with ${name}`, () => {
      const der = osslSign(`ossl-signed-${md}.der`, md);
      expect(der[1]).not.toBe(0x80); // definite length
      expect(verifyOurs(der).digest.name).toBe(name);
    });
  }

  test('openssl cms -sign -md sha1 verifies when legacy is allowed, and is badAlg when it is not', async () => {
    const der = osslSign('ossl-signed-sha1.der', 'sha1');
    expect(verifyOurs(der).digest.name).toBe('SHA-1');
    expect(await cmsFailure(() => verifyOurs(der, createRegistry(ALGORITHMS)))).toBe('badAlg');
  });

  test('openssl cms -sign -stream (indefinite-length BER, constructed eContent) parses and verifies', () => {
    const der = osslSign('ossl-signed-ber.der', 'sha256', ['-stream']);
    expect(der[1]).toBe(0x80); // BER indefinite length: the case under test really is BER
    expect(verifyOurs(der).digest.name).toBe('SHA-256');
  });

  test('tampered OpenSSL SignedData fails with CmsError(badSignature): content, signature, signed attribute', async () => {
    const der = osslSign('ossl-signed-tamper.der', 'sha256');
    const sd = parseSignedData(der);
    const signer = sd.signedData.signerInfos[0];
    const sig = octets(signer.signature);
    const attrs = serialize(sd.signedData.signerInfos[0].signedAttrs![0]);
    for (const bad of [tamper(der, plaintext.subarray(0, 32), 7), tamper(der, sig, 128), tamper(der, attrs, attrs.length - 1)]) {
      expect(await cmsFailure(() => verifyParsed(bad))).toBe('badSignature');
    }
  });
});

describe('RFC 5652 §5.4 signed attributes sent in BER: verified as received, else as re-encoded DER', () => {
  /** OpenSSL's SignedData with its first signed attribute re-sent in indefinite length (BER), and the nodes to change. */
  function berVariant() {
    openssl(['cms', '-sign', '-md', 'sha256', '-nodetach', '-binary', '-outform', 'DER', '-in', path('plain.bin'), '-signer', RA_CERT(), '-inkey', RA_KEY(), '-out', path('ber-attrs.der')]);
    const tree = asn1js.fromBER(read('ber-attrs.der')).result;
    const kids = (n: asn1js.AsnType) => (n as asn1js.Constructed).valueBlock.value;
    const signedData = kids(kids(tree)[1])[0];
    const signerInfo = kids(kids(signedData).at(-1)!)[0];
    const [, sid, , attrs, , signature] = kids(signerInfo);
    kids(attrs)[0].lenBlock.isIndefiniteForm = true;
    const encode = () => new Uint8Array(tree.toBER());
    // What the signature would cover if computed over the bytes as sent: [0] IMPLICIT retagged SET OF.
    const sentAttrs = () => { const b = new Uint8Array(attrs.toBER()); b[0] = 0x31; return b; };
    return { encode, sentAttrs, signature: signature as asn1js.OctetString, sidIssuer: kids(sid)[0], sidSerial: kids(sid)[1] as asn1js.Integer };
  }
  const verify = (der: Uint8Array) => {
    const sd = parseSignedData(der);
    const signer = sd.signedData.signerInfos[0];
    return verifySignerInfo(sd, signer, spkiOf(findSignerCertificate(sd, signer)!), registry);
  };

  test('signed over the DER (OpenSSL signed before the attribute was re-sent in BER): verifies through the re-encoded SET OF', () => {
    const v = berVariant();
    const der = v.encode();
    expect(Buffer.from(der).includes(Buffer.from(v.sentAttrs().subarray(2, 6)))).toBe(true);
    expect(Buffer.from(v.sentAttrs()).toString('hex')).toMatch(/^31..3080/); // the first attribute really is indefinite-length
    expect(verify(der).digest.name).toBe('SHA-256');
  });

  test('signed over the BER bytes as sent: verifies as received; any other bytes signed: badSignature', async () => {
    const v = berVariant();
    const rsa = registry.byName('signature', 'rsaEncryption');
    v.signature.valueBlock.valueHexView = await rsa.sign(v.sentAttrs(), pki.ras[0].key, 'SHA-256');
    expect(verify(v.encode()).digest.name).toBe('SHA-256');
    v.signature.valueBlock.valueHexView = await rsa.sign(Uint8Array.of(...v.sentAttrs(), 0), pki.ras[0].key, 'SHA-256');
    expect(await cmsFailure(() => verify(v.encode()))).toBe('badSignature');
  });

  test('§5.1: elements after signerInfos are not what gets verified (a SignerInfo appended after the real one cannot lend its signature)', async () => {
    // A signature the signer made over its own attributes (for the content OpenSSL signed)...
    openssl(['cms', '-sign', '-md', 'sha256', '-nodetach', '-binary', '-outform', 'DER', '-in', path('plain.bin'), '-signer', RA_CERT(), '-inkey', RA_KEY(), '-out', path('lend.der')]);
    const tree = asn1js.fromBER(read('lend.der')).result;
    const kids = (n: asn1js.AsnType) => (n as asn1js.Constructed).valueBlock.value;
    const signedData = kids(kids(tree)[1])[0];
    const original = asn1js.fromBER(kids(signedData).at(-1)!.toBER()).result; // an independent copy of signerInfos
    // ...then other content, the decoded SignerInfo's messageDigest made to match it, the real
    // signerInfos appended after the one asn1-schema decodes.
    const other = new Uint8Array(randomBytes(100));
    const eContent = kids(kids(kids(signedData)[2])[1])[0] as asn1js.OctetString;
    eContent.valueBlock.value = [];
    eContent.valueBlock.valueHexView = other;
    const attrs = kids(kids(kids(signedData).at(-1)!)[0])[3];
    const md = kids(attrs).find((a) => (kids(a)[0] as asn1js.ObjectIdentifier).valueBlock.toString() === '1.2.840.113549.1.9.4')!;
    const digest = kids(kids(md)[1])[0] as asn1js.OctetString;
    digest.valueBlock.valueHexView = new Uint8Array(createHash('sha256').update(other).digest());
    kids(signedData).push(original);
    const forged = new Uint8Array(tree.toBER());
    const sd = parseSignedData(forged);
    expect(sd.content).toEqual(other); // asn1-schema decodes the first signerInfos and ignores what follows
    expect(await cmsFailure(() => verifySignerInfo(sd, sd.signedData.signerInfos[0], spkiOf(findSignerCertificate(sd, sd.signedData.signerInfos[0])!), registry))).toBe('badSignature');
  });

  test('§5.3 sid: an issuer Name sent in BER still names the DER certificate (compared as DER); another serial names none', () => {
    const v = berVariant();
    v.sidIssuer.lenBlock.isIndefiniteForm = true;
    const named = parseSignedData(v.encode());
    expect(findSignerCertificate(named, named.signedData.signerInfos[0]) && serialize(findSignerCertificate(named, named.signedData.signerInfos[0])!)).toEqual(pki.ras[0].der);
    const serial = new Uint8Array(v.sidSerial.valueBlock.valueHexView);
    serial[serial.length - 1] ^= 1;
    v.sidSerial.valueBlock.valueHexView = serial;
    const other = parseSignedData(v.encode());
    expect(findSignerCertificate(other, other.signedData.signerInfos[0])).toBeUndefined();
  });
});

describe('RFC 5652 §5.2 / RFC 8894 §3.4 degenerate certs-only SignedData', () => {
  test('openssl pkcs7 -print_certs lists the certificates of our certsOnly', () => {
    const file = write('certs-only.der', certsOnly([pki.ca.certificate, pki.ras[0].certificate]));
    const out = openssl(['pkcs7', '-inform', 'DER', '-in', file, '-print_certs']).toString();
    // RFC 4514 strings list RDNs last-first: "CN=pqscep CA,O=pqscep" is O, then CN, in the DER.
    expect(out).toMatch(/subject=O ?= ?pqscep, ?CN ?= ?pqscep CA/);
    expect(out).toMatch(/subject=O ?= ?pqscep, ?CN ?= ?pqscep RA/);
    const pems = out.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    expect(pems).toEqual([toPem('CERTIFICATE', pki.ca.der).trim(), toPem('CERTIFICATE', pki.ras[0].der).trim()]);
  });

  test('openssl pkcs7 -print shows the CRL of our certsOnly, and OpenSSL checks its signature with the CA', async () => {
    const now = new Date();
    const { crl, der: crlDer } = await buildCrl(pki.ca, [{ serial: '0a1b2c3d', revokedAt: now, reason: 'keyCompromise' }], 7, now, new Date(now.getTime() + 86_400_000), registry);
    const file = write('certs-only-crl.der', certsOnly([pki.ca.certificate], [crl]));
    const printed = openssl(['pkcs7', '-inform', 'DER', '-in', file, '-print']).toString();
    expect(printed).toMatch(/crl:/);
    expect(printed).toContain(`serialNumber: ${0x0a1b2c3d}`); // OpenSSL prints small serials in decimal
    expect(printed).toMatch(/CRL Reason Code[\s\S]+0a 01 01/); // keyCompromise (1)
    expect(printed).toMatch(/CRL Number[\s\S]+02 01 07/);
    // Extract the CRL with OpenSSL and let it verify the signature against the CA certificate.
    const crlPem = openssl(['pkcs7', '-inform', 'DER', '-in', file, '-print_certs']).toString().match(/-----BEGIN X509 CRL-----[^-]+-----END X509 CRL-----/)?.[0];
    expect(crlPem).toBe(toPem('X509 CRL', crlDer).trim());
    write('extracted.crl.pem', `${crlPem}\n`);
    const checked = spawnSync('openssl', ['crl', '-in', path('extracted.crl.pem'), '-CAfile', CA(), '-noout'], { cwd: dir });
    expect(checked.status).toBe(0);
    expect(checked.stderr.toString()).toMatch(/verify OK/);
    expect(opensslFails(['crl', '-in', path('extracted.crl.pem'), '-CAfile', path('other.pem'), '-noout'])).toMatch(/verify|issuer/i);
  });

  test('parseSignedData reads certificates and CRLs from openssl crl2pkcs7 -certfile', async () => {
    const now = new Date();
    const { der: crlDer } = await buildCrl(pki.ca, [], 8, now, new Date(now.getTime() + 86_400_000), registry);
    write('crl.pem', toPem('X509 CRL', crlDer));
    write('chain.pem', toPem('CERTIFICATE', pki.ca.der) + toPem('CERTIFICATE', pki.ras[0].der));
    openssl(['crl2pkcs7', '-in', path('crl.pem'), '-certfile', path('chain.pem'), '-outform', 'DER', '-out', path('crl2pkcs7.der')]);
    const sd = parseSignedData(read('crl2pkcs7.der'));
    expect(sd.content).toBeUndefined();
    expect(sd.signedData.signerInfos).toHaveLength(0);
    expect(sd.certificates.map((c) => serialize(c))).toEqual([pki.ca.der, pki.ras[0].der]);
    expect(sd.crls.map((c) => serialize(c))).toEqual([crlDer]);
  });
});

const contentTypeOf = (der: Uint8Array) => AsnConvert.parse(der, ContentInfo).contentType;

describe('RFC 5652 §6 EnvelopedData / RFC 5083 AuthEnvelopedData, OpenSSL-made opened by openEnvelope', () => {
  const encrypt = (name: string, cipherArgs: string[], recipients: string[] = [RA_CERT()], keyopts: string[] = []) => {
    const recips = recipients.flatMap((r) => ['-recip', r]);
    openssl(['cms', '-encrypt', '-binary', '-outform', 'DER', ...cipherArgs, '-in', path('plain.bin'), '-out', path(name), ...recips, ...keyopts]);
    return read(name);
  };

  // [openssl cipher flag, the cipher we must find]
  const cases = [
    ['-aes128', 'AES-128-CBC'], ['-aes192', 'AES-192-CBC'], ['-aes256', 'AES-256-CBC'], ['-des3', 'DES-EDE3-CBC'],
    ['-aes-128-gcm', 'AES-128-GCM'], ['-aes-256-gcm', 'AES-256-GCM'],
  ] as const;
  for (const [flag, name] of cases) {
    test(`openssl cms -encrypt ${flag} (RSAES-PKCS1-v1_5) decrypts to the plaintext with ${name}`, async () => {
      const der = encrypt(`env${flag}.der`, [flag]);
      expect(contentTypeOf(der)).toBe(name.endsWith('GCM') ? id_ct_authEnvelopedData : id_envelopedData);
      const opened = await openEnvelope(der, [ra], registry);
      expect(opened.content).toEqual(plaintext);
      expect(opened.cipher.name).toBe(name);
      expect(opened.keyTransport?.name).toBe('RSAES-PKCS1-v1_5');
    });
  }

  itWhen(hasOpenssl && hasLegacyDes, hasOpenssl ? NO_LEGACY : NO_OPENSSL)('openssl cms -encrypt -des (legacy provider) decrypts with DES-CBC', async () => {
    const der = encrypt('env-des.der', ['-des', ...LEGACY]);
    const opened = await openEnvelope(der, [ra], registry);
    expect(opened.content).toEqual(plaintext);
    expect(opened.cipher.name).toBe('DES-CBC');
  });

  for (const [md, keyopts] of [
    ['SHA-1 (default)', ['-keyopt', 'rsa_padding_mode:oaep']],
    ['SHA-256', ['-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256']],
    ['SHA-512', ['-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha512']],
  ] as const) {
    test(`RSAES-OAEP ${md} key transport (-keyopt) decrypts, AES-256-CBC and AES-128-GCM`, async () => {
      for (const flag of ['-aes256', '-aes-128-gcm']) {
        const der = encrypt(`env-oaep-${md.slice(0, 7)}${flag}.der`, [flag], [RA_CERT()], [...keyopts]);
        const opened = await openEnvelope(der, [ra], registry);
        expect(opened.content).toEqual(plaintext);
        expect(opened.keyTransport?.name).toBe('RSAES-OAEP');
      }
    });
  }

  test('openssl cms -encrypt -stream (indefinite-length BER, constructed encryptedContent) decrypts', async () => {
    const der = encrypt('env-ber.der', ['-aes256', '-stream']);
    expect(der[1]).toBe(0x80);
    expect((await openEnvelope(der, [ra], registry)).content).toEqual(plaintext);
  });

  test('two recipients, ours first or second: we pick the RecipientInfo that names our certificate', async () => {
    for (const order of [[path('other.pem'), RA_CERT()], [RA_CERT(), path('other.pem')]]) {
      for (const flag of ['-aes128', '-aes-256-gcm']) {
        const der = encrypt('env-two.der', [flag], order);
        expect(recipientInfosOf(der)).toHaveLength(2);
        expect((await openEnvelope(der, [ra], registry)).content).toEqual(plaintext);
      }
    }
    // Addressed only to someone else: nothing of ours to open.
    const notOurs = encrypt('env-not-ours.der', ['-aes128'], [path('other.pem')]);
    expect(await cmsFailure(openEnvelope(notOurs, [ra], registry))).toBe('undecryptable');
  });

  test('a tampered encryptedKey (OpenSSL envelope) fails with CmsError(undecryptable), nothing else', async () => {
    for (const [flag, keyopts] of [['-aes128', []], ['-aes-256-gcm', []], ['-aes256', ['-keyopt', 'rsa_padding_mode:oaep']]] as const) {
      const der = encrypt(`env-tamper${flag}.der`, [flag], [RA_CERT()], [...keyopts]);
      const ek = encryptedKeyOf(der);
      for (const offset of [0, 1, 2, 10, 100, 200, 255]) {
        expect(await cmsFailure(openEnvelope(tamper(der, ek, offset), [ra], registry))).toBe('undecryptable');
      }
    }
  });
});

function recipientInfosOf(der: Uint8Array) {
  const ci = AsnConvert.parse(der, ContentInfo);
  return ci.contentType === id_ct_authEnvelopedData
    ? AsnConvert.parse(ci.content, AuthEnvelopedData).recipientInfos
    : AsnConvert.parse(ci.content, EnvelopedData).recipientInfos;
}

/** The KeyTransRecipientInfo.encryptedKey of the first RecipientInfo. */
const encryptedKeyOf = (der: Uint8Array): Uint8Array => octets(recipientInfosOf(der)[0].ktri!.encryptedKey);

describe('RFC 5652 §6 EnvelopedData / RFC 5083 AuthEnvelopedData, ours opened by openssl cms -decrypt', () => {
  const decrypt = (name: string, der: Uint8Array, extra: string[] = []) =>
    new Uint8Array(openssl(['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', write(name, der), '-recip', RA_CERT(), '-inkey', RA_KEY(), ...extra]));

  const ciphers = ['AES-128-CBC', 'AES-256-CBC', 'AES-128-GCM', 'AES-256-GCM', 'DES-EDE3-CBC'];
  for (const kt of ['RSAES-PKCS1-v1_5', 'RSAES-OAEP']) {
    for (const c of ciphers) {
      test(`${c} with ${kt} key transport`, async () => {
        const der = (await sealEnvelope(plaintext, pki.ras[0].certificate, registry.byName('cipher', c), registry, { keyTransport: registry.byName('key-transport', kt) }));
        expect(decrypt(`sealed-${kt}-${c}.der`, der)).toEqual(plaintext);
      });
    }
  }

  itWhen(hasOpenssl && hasLegacyDes, hasOpenssl ? NO_LEGACY : NO_OPENSSL)('DES-CBC with RSAES-PKCS1-v1_5 (legacy provider)', async () => {
    const der = (await sealEnvelope(plaintext, pki.ras[0].certificate, registry.byName('cipher', 'DES-CBC'), registry, { keyTransport: registry.byName('key-transport', 'RSAES-PKCS1-v1_5') }));
    expect(decrypt('sealed-des.der', der, LEGACY)).toEqual(plaintext);
  });

  test('OpenSSL rejects our envelope when the encryptedKey is tampered (the check can fail)', async () => {
    const der = (await sealEnvelope(plaintext, pki.ras[0].certificate, registry.byName('cipher', 'AES-128-GCM'), registry, { keyTransport: registry.byName('key-transport', 'RSAES-OAEP') }));
    const bad = tamper(der, encryptedKeyOf(der), 50);
    opensslFails(['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', write('sealed-bad.der', bad), '-recip', RA_CERT(), '-inkey', RA_KEY()]);
  });

  test('RSAES-PKCS1-v1_5 implicit rejection (RFC 8017 §7.2.2): a tampered encryptedKey yields a synthetic key, not an error', async () => {
    const kt = registry.byName('key-transport', 'RSAES-PKCS1-v1_5');
    const der = (await sealEnvelope(plaintext, pki.ras[0].certificate, registry.byName('cipher', 'AES-256-CBC'), registry, { keyTransport: kt }));
    const ek = encryptedKeyOf(der);
    const cek = await kt.decrypt(ek, pki.ras[0].key, null);
    expect(cek).toHaveLength(32);
    // Offsets from 1 on: a flipped bit there cannot push the ciphertext over the modulus.
    for (const offset of [1, 64, 128, 255]) {
      const bad = ek.slice();
      bad[offset] ^= 0x01;
      const synthetic = await kt.decrypt(bad, pki.ras[0].key, null);
      expect(synthetic).not.toEqual(cek);
      expect(await kt.decrypt(bad, pki.ras[0].key, null)).toEqual(synthetic); // deterministic in (key, ciphertext)
    }
  });

  test('our tampered encryptedKey fails in openEnvelope with CmsError(undecryptable) only (implicit rejection → content failure)', async () => {
    for (const kt of ['RSAES-PKCS1-v1_5', 'RSAES-OAEP']) {
      for (const c of ['AES-128-CBC', 'AES-256-GCM', 'DES-EDE3-CBC']) {
        const der = (await sealEnvelope(plaintext, pki.ras[0].certificate, registry.byName('cipher', c), registry, { keyTransport: registry.byName('key-transport', kt) }));
        const ek = encryptedKeyOf(der);
        for (let offset = 0; offset < ek.length; offset += 17) {
          expect(await cmsFailure(openEnvelope(tamper(der, ek, offset), [ra], registry))).toBe('undecryptable');
        }
      }
    }
  });
});
