/**
 * RFC 5280 issuance (src/ca/): bootstrap a CA + RA into a temp folder, issue for OpenSSL CSRs,
 * build a CRL, and have the OpenSSL CLI judge every result (verify, x509 -text, crl -text).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync, mkdtempSync, readFileSync, statSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { ALGORITHMS } from '../algorithms/index.ts';
import { createRegistry } from '../src/crypto/registry.ts';
import { loadOrCreateCa, type CaFiles } from '../src/ca/bootstrap.ts';
import { nameToString, parseName, randomSerial, serialFromHex, serialHex } from '../src/ca/certificate.ts';
import { buildCrl } from '../src/ca/crl.ts';
import { parseCsr, verifyCsr, type CsrInfo } from '../src/ca/csr.ts';
import { DEFAULT_EXTENDED_KEY_USAGE, issueCertificate, type IssuancePolicy } from '../src/ca/issuer.ts';
import { fromPem, toPem } from '../src/ca/pem.ts';

const registry = createRegistry(ALGORITHMS);
const dir = mkdtempSync(join(tmpdir(), 'pqscep-ca-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const data = join(dir, 'data');
const run = (...args: string[]) => spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const write = (name: string, text: string | Uint8Array) => (writeFileSync(join(dir, name), text), name);

const CONFIG = `
[req]
distinguished_name = dn
attributes = attrs
prompt = no
[dn]
CN = dev1
O = Acme
[attrs]
challengePassword = s3cret
`;

function opensslCsr(name: string, newkey: string[]): CsrInfo {
  write('req.cnf', CONFIG);
  openssl('req', '-new', ...newkey, '-nodes', '-keyout', `${name}.key`, '-config', 'req.cnf', '-outform', 'DER', '-out', `${name}.csr`,
    '-addext', 'subjectAltName=DNS:a.example,IP:10.0.0.1,email:x@example.com,URI:https://u.example,RID:1.2.3.4',
    '-addext', 'keyUsage=critical,keyCertSign', '-addext', 'basicConstraints=critical,CA:TRUE');
  return parseCsr(new Uint8Array(readFileSync(join(dir, `${name}.csr`))));
}

const policy: IssuancePolicy = { validityDays: 30, extendedKeyUsage: DEFAULT_EXTENDED_KEY_USAGE, crlDistributionPoint: 'http://pki.example/ca.crl' };

describe('RFC 5280 issuance checked by the OpenSSL CLI', () => {
  let files: CaFiles & { created: boolean };
  let csr: CsrInfo;
  let serial: Uint8Array;
  let certDer: Uint8Array;
  const now = new Date();

  beforeAll(async () => {
    files = await loadOrCreateCa(data, registry);
    csr = opensslCsr('dev1', ['-newkey', 'rsa:2048']);
    verifyCsr(csr, registry);
    serial = randomSerial();
    certDer = (await issueCertificate(csr, files.ca, policy, registry, serial, now)).der;
    write('cert.pem', toPem('CERTIFICATE', certDer));
  });

  it('bootstraps a CA (cA=true, keyCertSign+cRLSign) with 0600 key files', () => {
    expect(files.created).toBe(true);
    for (const f of ['ca.pem', 'ca.key.pem', 'ra-rsa-2048.pem', 'ra-rsa-2048.key.pem']) expect(existsSync(join(data, f))).toBe(true);
    expect(statSync(join(data, 'ca.key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(data, 'ra-rsa-2048.key.pem')).mode & 0o777).toBe(0o600);
    const text = openssl('x509', '-in', 'data/ca.pem', '-noout', '-text', '-nameopt', 'RFC2253');
    expect(text).toMatch(/Subject: CN=pqscep CA,O=pqscep/);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    expect(text).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
    expect(run('verify', '-CAfile', 'data/ca.pem', 'data/ca.pem').stdout).toMatch(/OK/);
  });

  it('the RA certificate verifies against the CA', () => {
    expect(run('verify', '-CAfile', 'data/ca.pem', 'data/ra-rsa-2048.pem').stdout).toMatch(/data\/ra-rsa-2048.pem: OK/);
    const text = openssl('x509', '-in', 'data/ra-rsa-2048.pem', '-noout', '-text', '-nameopt', 'RFC2253');
    expect(text).toMatch(/Subject: CN=pqscep RA rsa-2048,O=pqscep/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(text).toMatch(/Authority Key Identifier/);
  });

  it('the issued certificate verifies against the CA (also for purpose sslclient)', () => {
    expect(run('verify', '-CAfile', 'data/ca.pem', 'cert.pem').stdout.trim()).toBe('cert.pem: OK');
    expect(run('verify', '-purpose', 'sslclient', '-CAfile', 'data/ca.pem', 'cert.pem').stdout.trim()).toBe('cert.pem: OK');
  });

  it('carries the SANs, keyUsage, EKU, SKI/AKI and CRL DP; drops what the client asked for itself', () => {
    const text = openssl('x509', '-in', 'cert.pem', '-noout', '-text', '-nameopt', 'RFC2253');
    expect(text).toMatch(/Subject: O=Acme,CN=dev1/);
    expect(text).toMatch(/Subject Alternative Name: \n\s+DNS:a.example, IP Address:10.0.0.1, email:x@example.com, URI:https:\/\/u.example\n/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
    expect(text).toMatch(/Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/URI:http:\/\/pki.example\/ca.crl/);
    expect(text).not.toMatch(/Certificate Sign|Registered ID/);
    const caText = openssl('x509', '-in', 'data/ca.pem', '-noout', '-text');
    const caSki = /Subject Key Identifier: \n\s+([0-9A-F:]+)/.exec(caText)![1];
    expect(text).toMatch(new RegExp(`Authority Key Identifier: \\n\\s+(keyid:)?${caSki}`));
    // SKI is RFC 5280 §4.2.1.2 method (1), the same value OpenSSL's subjectKeyIdentifier=hash gives.
    const self = openssl('req', '-x509', '-key', 'dev1.key', '-subj', '/CN=x', '-days', '1', '-addext', 'subjectKeyIdentifier=hash', '-config', 'req.cnf');
    const ski = /Subject Key Identifier: \n\s+([0-9A-F:]+)/.exec(openssl('x509', '-in', write('self.pem', self), '-noout', '-text'))![1];
    expect(text).toMatch(new RegExp(`Subject Key Identifier: \\n\\s+${ski}\\n`));
  });

  it('carries the CSR public key verbatim', () => {
    const fromCert = openssl('x509', '-in', 'cert.pem', '-noout', '-pubkey');
    const fromReq = openssl('req', '-inform', 'DER', '-in', 'dev1.csr', '-noout', '-pubkey');
    expect(fromCert).toBe(fromReq);
    const cert = AsnConvert.parse(certDer, Certificate);
    expect(Buffer.from(AsnConvert.serialize(cert.tbsCertificate.subjectPublicKeyInfo)).equals(Buffer.from(csr.spki))).toBe(true);
  });

  it('uses the serial given, positive; validity now-60 s .. now+30 d (UTCTime)', () => {
    expect(openssl('x509', '-in', 'cert.pem', '-noout', '-serial').trim()).toBe(`serial=${serialHex(serial).toUpperCase()}`);
    const v = AsnConvert.parse(certDer, Certificate).tbsCertificate.validity;
    expect(v.notBefore.utcTime!.getTime()).toBe(Math.floor((now.getTime() - 60_000) / 1000) * 1000);
    expect(v.notAfter.utcTime!.getTime()).toBe(Math.floor((now.getTime() + 30 * 86_400_000) / 1000) * 1000);
  });

  it('random serials are unique, positive and at most 16 octets', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const s = randomSerial();
      expect(s.length).toBeGreaterThan(0);
      expect(s.length).toBeLessThanOrEqual(16);
      expect(s[0] & 0x80).toBe(0); // positive
      if (s[0] === 0) expect(s[1] & 0x80).toBe(0x80); // minimal: a zero octet only as sign octet
      seen.add(serialHex(s));
    }
    expect(seen.size).toBe(2000);
    expect(serialHex(serialFromHex('00ff'))).toBe('ff');
    expect([...serialFromHex('ff')]).toEqual([0, 0xff]);
  });

  it('never issues beyond the CA notAfter', async () => {
    const { certificate } = await issueCertificate(csr, files.ca, { ...policy, validityDays: 365 * 100 }, registry, randomSerial(), now);
    expect(certificate.tbsCertificate.validity.notAfter.getTime()).toEqual(files.ca.certificate.tbsCertificate.validity.notAfter.getTime());
  });

  it('issues to a key type the registry does not know (Ed25519) with digitalSignature only', async () => {
    const ed = opensslCsr('ed', ['-newkey', 'ed25519']);
    const { der } = await issueCertificate(ed, files.ca, { validityDays: 1, extendedKeyUsage: [] }, registry, randomSerial(), now);
    const text = openssl('x509', '-in', write('ed.pem', toPem('CERTIFICATE', der)), '-noout', '-text');
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).not.toMatch(/Extended Key Usage|CRL Distribution/);
    expect(run('verify', '-CAfile', 'data/ca.pem', 'ed.pem').stdout.trim()).toBe('ed.pem: OK');
    expect(openssl('x509', '-in', 'ed.pem', '-noout', '-pubkey')).toBe(openssl('req', '-inform', 'DER', '-in', 'ed.csr', '-noout', '-pubkey'));
  });

  it('issues to an EC key with digitalSignature and keyAgreement (RFC 5480 §3)', async () => {
    const ec = opensslCsr('ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    const { der } = await issueCertificate(ec, files.ca, { validityDays: 1, extendedKeyUsage: [] }, registry, randomSerial(), now);
    const text = openssl('x509', '-in', write('ec.pem', toPem('CERTIFICATE', der)), '-noout', '-text');
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Agreement\n/);
    expect(run('verify', '-CAfile', 'data/ca.pem', 'ec.pem').stdout.trim()).toBe('ec.pem: OK');
  });

  it('reloading the data folder returns the same CA and RA (created=false)', async () => {
    const again = await loadOrCreateCa(data, registry);
    expect(again.created).toBe(false);
    expect(again.ca.fingerprint).toBe(files.ca.fingerprint);
    expect(again.ras[0].fingerprint).toBe(files.ras[0].fingerprint);
    expect(again.ca.key.keyType).toBe('rsa-2048');
    const { der } = await issueCertificate(csr, again.ca, policy, registry, randomSerial(), now);
    expect(run('verify', '-CAfile', 'data/ca.pem', write('again.pem', toPem('CERTIFICATE', der))).stdout.trim()).toBe('again.pem: OK');
  });

  it('builds a CRL that OpenSSL verifies and that revokes the certificate', async () => {
    const revokedAt = new Date(now.getTime() - 1000);
    const { der } = await buildCrl(files.ca, [{ serial: serialHex(serial), revokedAt, reason: 'keyCompromise' }, { serial: '7f01', revokedAt }], 7, now, new Date(now.getTime() + 86_400_000), registry);
    write('crl.pem', toPem('X509 CRL', der));
    expect(run('crl', '-in', 'crl.pem', '-CAfile', 'data/ca.pem', '-noout').stderr).toMatch(/verify OK/);
    const text = openssl('crl', '-in', 'crl.pem', '-noout', '-text');
    expect(text).toMatch(/Version 2/);
    expect(text).toMatch(/X509v3 CRL Number: \n\s+7\n/);
    expect(text).toMatch(/Authority Key Identifier/);
    expect(text).toContain(`Serial Number: ${serialHex(serial).toUpperCase()}`);
    expect(text).toMatch(/CRL Reason Code: \n\s+Key Compromise/);
    expect(text).toContain('Serial Number: 7F01');
    const check = run('verify', '-crl_check', '-CRLfile', 'crl.pem', '-CAfile', 'data/ca.pem', 'cert.pem');
    expect(check.stdout + check.stderr).toMatch(/certificate revoked/);
    const empty = await buildCrl(files.ca, [], 8, now, new Date(now.getTime() + 86_400_000), registry);
    write('empty.pem', toPem('X509 CRL', empty.der));
    expect(run('crl', '-in', 'empty.pem', '-CAfile', 'data/ca.pem', '-noout').stderr).toMatch(/verify OK/);
    expect(openssl('crl', '-in', 'empty.pem', '-noout', '-text')).toMatch(/No Revoked Certificates/);
  });
});

describe('bootstrap options and crash safety', () => {
  it('custom subject (RFC 4514, as OpenSSL prints it) and GeneralizedTime after 2049', async () => {
    const d = join(dir, 'custom');
    const subject = 'CN=Test\\, CA,OU=R&D,O=Acme,DC=example,DC=com,C=DE';
    const { ca } = await loadOrCreateCa(d, registry, { caSubject: subject, validityYears: 40 });
    expect(nameToString(parseName(subject))).toBe(subject);
    expect(nameToString(ca.certificate.tbsCertificate.subject)).toBe(subject);
    write('custom.pem', readFileSync(join(d, 'ca.pem')));
    const printed = openssl('x509', '-in', 'custom.pem', '-noout', '-subject', '-nameopt', 'RFC2253').trim();
    expect(printed).toBe(`subject=${subject}`);
    const v = AsnConvert.parse(ca.der, Certificate).tbsCertificate.validity;
    expect(v.notBefore.utcTime).toBeDefined();
    expect(v.notAfter.generalTime).toBeDefined();
    expect(run('verify', '-CAfile', 'custom.pem', 'custom.pem').stdout).toMatch(/OK/);
    expect(run('verify', '-CAfile', 'custom.pem', join(d, 'ra-rsa-2048.pem')).stdout).toMatch(/OK/);
  });

  it('finishes an interrupted commit, drops uncommitted staging, reissues a missing RA, refuses half a CA', async () => {
    const d = join(dir, 'crash');
    const first = await loadOrCreateCa(d, registry);
    // A crash after the commit point: ca.pem still in .ca-commit/.
    mkdirSync(join(d, '.ca-commit'));
    execFileSync('mv', [join(d, 'ca.pem'), join(d, '.ca-commit/ca.pem')]);
    mkdirSync(join(d, '.ca-staging'));
    writeFileSync(join(d, '.ca-staging', 'ca.key.pem'), 'half written');
    const again = await loadOrCreateCa(d, registry);
    expect(again.created).toBe(false);
    expect(again.ca.fingerprint).toBe(first.ca.fingerprint);
    expect(existsSync(join(d, '.ca-commit')) || existsSync(join(d, '.ca-staging'))).toBe(false);
    // A deleted RA is reissued by the same CA.
    execFileSync('rm', [join(d, 'ra-rsa-2048.pem')]);
    const third = await loadOrCreateCa(d, registry);
    expect(third.ca.fingerprint).toBe(first.ca.fingerprint);
    expect(third.ras[0].fingerprint).not.toBe(first.ras[0].fingerprint);
    expect(run('verify', '-CAfile', join(d, 'ca.pem'), join(d, 'ra-rsa-2048.pem')).stdout).toMatch(/OK/);
    // A CA key without its certificate is never overwritten.
    execFileSync('rm', [join(d, 'ca.pem')]);
    await expect(loadOrCreateCa(d, registry)).rejects.toThrow(/ca.pem is missing/);
  });

  it('RFC 4514 strings round trip (escapes, multi-valued RDNs in DER order, unknown types as #hex)', () => {
    for (const dn of ['CN=a\\+b\\;c\\<d\\>\\"e\\\\f', 'CN=\\ lead and trail\\ ', 'CN=\\#x', 'CN=x+UID=u1,O=y', '1.2.3.4=#0c0161,CN=z', '']) {
      expect(nameToString(parseName(dn))).toBe(dn);
    }
    expect(nameToString(parseName('UID=u1+CN=x,O=y'))).toBe('CN=x+UID=u1,O=y'); // shorter encoding first
    expect(nameToString(parseName('cn=caf\\C3\\A9, o = Acme'))).toBe('CN=café,O=Acme');
    expect(() => parseName('XX=1')).toThrow(RangeError);
    expect(() => parseName('CN')).toThrow(RangeError);
  });

  it('PEM round trip', () => {
    const der = new Uint8Array(200).map((_, i) => i);
    const text = `junk\r\n${toPem('CERTIFICATE', der).replace(/\n/g, '\r\n')}more\n${toPem('X509 CRL', der.subarray(0, 3))}`;
    const blocks = fromPem(text);
    expect(blocks.map((b) => b.label)).toEqual(['CERTIFICATE', 'X509 CRL']);
    expect([...blocks[0].der]).toEqual([...der]);
    expect(() => fromPem('-----BEGIN A-----\nAAAA\n-----END B-----\n')).toThrow(RangeError);
    expect(() => fromPem('-----BEGIN A-----\nA!AA\n-----END A-----\n')).toThrow(RangeError);
  });
});
