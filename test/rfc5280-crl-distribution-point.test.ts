/**
 * RFC 5280 §4.2.1.13 cRLDistributionPoints, end to end: a fleet whose profile names
 * `certificate.crlDistributionPoint` as the server's own `/crl/<fleet>.crl` issues certificates
 * carrying that URI, and fetching exactly that URI gives the fleet CA's CRL (RFC 5280 §5),
 * signed by the issuing CA, which lists the certificate once it is revoked (`pqscep cert revoke`).
 * Leaves out: LDAP URIs, indirect CRLs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList, CRLDistributionPoints, id_ce_cRLDistributionPoints, type Certificate } from '@peculiar/asn1-x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { serialHex } from '../src/ca/certificate.ts';
import { toPem } from '../src/ca/pem.ts';
import { serialize } from '../src/cms/der.ts';
import { DEFAULT_PROFILES_DIR } from '../src/server.ts';
import { cliOk, freePort } from './helpers/cli.ts';
import { device, exchange, request, testServer, type TestServer } from './helpers/server.ts';

let server: TestServer;
let profilesDir: string;
let crlUrl: string;

beforeAll(async () => {
  const port = await freePort();
  crlUrl = `http://127.0.0.1:${port}/crl/branch.crl`;
  profilesDir = mkdtempSync(join(tmpdir(), 'pqscep-profiles-'));
  const modern = JSON.parse(readFileSync(join(DEFAULT_PROFILES_DIR, 'modern-ecc.json'), 'utf8')) as { certificate?: object };
  writeFileSync(join(profilesDir, 'with-cdp.json'), JSON.stringify({ ...modern, certificate: { ...modern.certificate, crlDistributionPoint: crlUrl } }));
  server = await testServer({ port, profilesDir });
  await cliOk(['fleet', 'create', 'branch', '--profile', 'with-cdp', '--data', server.dataDir, '--profiles', profilesDir]);
  await server.fleets.refresh();
});
afterAll(async () => {
  await server.stop();
  rmSync(profilesDir, { recursive: true, force: true });
});

/** The URIs of a certificate's cRLDistributionPoints extension. */
function distributionUris(cert: Certificate): string[] {
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_cRLDistributionPoints);
  if (!ext) return [];
  const points = AsnConvert.parse(ext.extnValue, CRLDistributionPoints);
  return points.flatMap((p) => p.distributionPoint?.fullName ?? []).flatMap((n) => (n.uniformResourceIdentifier ? [n.uniformResourceIdentifier] : []));
}

async function fetchCrl(url: string): Promise<CertificateList> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/pkix-crl');
  return AsnConvert.parse(new Uint8Array(await res.arrayBuffer()), CertificateList);
}

describe('RFC 5280 §4.2.1.13: the CRL distribution point of issued certificates is served', () => {
  it('the issued certificate names the URI, and that URI serves the issuing CA\'s CRL listing it once revoked', async () => {
    const url = `${server.url}/branch`;
    const d = await device(url, 'CN=cdp,O=Test', 'ecdsa-p256');
    const reply = await exchange(url, d, await request(d));
    expect(reply.status).toBe('SUCCESS');
    const cert = reply.status === 'SUCCESS' ? reply.certificates.find((c) => distributionUris(c).length > 0) : undefined;
    expect(cert).toBeDefined();
    expect(distributionUris(cert!)).toEqual([crlUrl]);

    const before = await fetchCrl(crlUrl);
    expect(serialize(before.tbsCertList.issuer)).toEqual(serialize(cert!.tbsCertificate.issuer));
    const serial = serialHex(cert!.tbsCertificate.serialNumber);
    expect((before.tbsCertList.revokedCertificates ?? []).map((r) => serialHex(r.userCertificate))).not.toContain(serial);

    await cliOk(['cert', 'revoke', serial, '--reason', 'keyCompromise', '--data', server.dataDir]);
    const after = await fetchCrl(crlUrl);
    expect((after.tbsCertList.revokedCertificates ?? []).map((r) => serialHex(r.userCertificate))).toContain(serial);
    // Signed by the CA that issued the certificate: OpenSSL checks it against that CA alone.
    const dir = mkdtempSync(join(tmpdir(), 'pqscep-cdp-'));
    writeFileSync(join(dir, 'ca.pem'), toPem('CERTIFICATE', server.fleets.env('branch')!.ca.der));
    writeFileSync(join(dir, 'branch.crl'), serialize(after));
    const r = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', join(dir, 'branch.crl'), '-CAfile', join(dir, 'ca.pem'), '-noout'], { encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('verify OK');
  });
});
