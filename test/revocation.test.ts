/**
 * Revocation and inventory (RFC 5280 §5, RFC 8894 §3.3.2 renewal): `pqscep cert list` and
 * `pqscep cert revoke` as a user runs them (`node bin/pqscep.js --data DIR`), the admin API's
 * `GET /certificates` and `POST /certificates/:serial/revoke`, and the CRL published at
 * `GET /crl/<fleet>.crl`: it lists a revocation at once, verifies with `openssl crl -CAfile`,
 * and for an ML-DSA-65 fleet carries an ML-DSA signature that OpenSSL 3.5 (the reference Node 26)
 * verifies. A RenewalReq signed by a revoked certificate is refused with badRequest.
 * Also: the CRL is re-signed halfway to its nextUpdate (RFC 5280 §5.1.2.5), with a higher cRLNumber.
 * Leaves out: delta CRLs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, CertificateList } from '@peculiar/asn1-x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serialHex } from '../src/ca/certificate.ts';
import { currentCrl } from '../src/scep/queries.ts';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import { buildCsr } from '../src/client/csr.ts';
import type { AuditView, CertificateView } from '../src/fleet/admin-ops.ts';
import { createFleet } from '../src/fleet/fleet-ops.ts';
import { cliFails, cliOk } from './helpers/cli.ts';
import { hasReferenceNode, REFERENCE_NODE, referenceMissingReason } from './helpers/openssl35.ts';
import { clientRegistry, device, exchange, request, testServer, type Device, type TestServer } from './helpers/server.ts';

const ok = (args: string[]) => cliOk(args);
const fails = (args: string[]) => cliFails(args);

/** The cRLNumber extension's value (RFC 5280 §5.2.3). */
function crlNumberOf(crl: CertificateList): number {
  const ext = crl.tbsCertList.crlExtensions?.find((e) => e.extnID === id_ce_cRLNumber);
  return Number(AsnConvert.parse(ext!.extnValue, CRLNumber).value);
}

let server: TestServer;
let base: string;
const work = mkdtempSync(join(tmpdir(), 'pqscep-revocation-'));
const devices: { d: Device; cert: Certificate; serial: string }[] = [];

async function enrolled(subject: string): Promise<{ d: Device; cert: Certificate; serial: string }> {
  const d = await device(server.url, subject);
  const rep = await exchange(server.url, d, await request(d));
  if (rep.status !== 'SUCCESS') throw new Error(`enrollment of ${subject}: ${rep.status}`);
  const cert = rep.certificates[0];
  return { d, cert, serial: serialHex(cert.tbsCertificate.serialNumber) };
}

/** A RenewalReq signed by `e`'s certificate, without a challenge (so only the certificate can authorize it). */
async function renew(e: { d: Device; cert: Certificate }): Promise<string> {
  const payload = await buildCsr({ subject: e.d.subject, key: e.d.key }, clientRegistry);
  const req = await request(e.d, { messageType: 'RenewalReq', payload, signer: { certificate: e.cert, key: e.d.key } });
  const rep = await exchange(server.url, e.d, req, { certificate: e.cert, key: e.d.key });
  return rep.status === 'FAILURE' ? `FAILURE:${rep.failInfo}` : rep.status;
}

async function api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${server.admin!.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.admin!.token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

async function crl(fleet: string): Promise<{ der: Uint8Array; list: CertificateList; serials: string[] }> {
  const res = await fetch(`${base}/crl/${fleet}.crl`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/pkix-crl');
  const der = new Uint8Array(await res.arrayBuffer());
  const list = AsnConvert.parse(der, CertificateList);
  const serials = (list.tbsCertList.revokedCertificates ?? []).map((r) => serialHex(new Uint8Array(r.userCertificate)));
  return { der, list, serials };
}

/** The DER of the first element of a SEQUENCE (tbsCertList inside CertificateList, RFC 5280 §5.1). */
function firstElement(der: Uint8Array): Uint8Array {
  const headerLength = (at: number) => (der[at + 1] < 0x80 ? 2 : 2 + (der[at + 1] & 0x7f));
  const contentLength = (at: number) => {
    if (der[at + 1] < 0x80) return der[at + 1];
    let n = 0;
    for (let i = 0; i < (der[at + 1] & 0x7f); i++) n = n * 256 + der[at + 2 + i];
    return n;
  };
  const start = headerLength(0);
  return der.subarray(start, start + headerLength(start) + contentLength(start));
}

beforeAll(async () => {
  server = await testServer();
  base = server.url.replace(/\/scep$/, '');
  devices.push(await enrolled('CN=revoke-cli,O=Test'), await enrolled('CN=revoke-api,O=Test'));
});
afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('certificate inventory', () => {
  it('cert list --format json (--data) lists both devices with serial, subject, algorithm, notAfter and status', async () => {
    const rows = JSON.parse(await ok(['cert', 'list', '--data', server.dataDir, '--format', 'json'])) as CertificateView[];
    for (const { serial, cert } of devices) {
      const row = rows.find((r) => r.serial === serial);
      expect(row, serial).toMatchObject({ algorithm: 'rsa-2048', fleet: 'default', status: 'valid', notAfter: new Date(cert.tbsCertificate.validity.notAfter.getTime()).toISOString() });
      expect(row!.serial).toMatch(/^[0-9a-f]+$/);
    }
    expect((await crl('default')).serials).toEqual([]); // cached now: the revocations below must rebuild it
    expect(rows.map((r) => r.subject)).toEqual(expect.arrayContaining([expect.stringContaining('CN=revoke-cli'), expect.stringContaining('CN=revoke-api')]));
  });

  it('csv and table formats start with a header line; filters narrow the list', async () => {
    const csv = (await ok(['cert', 'list', '--data', server.dataDir, '--format', 'csv'])).split(/\r?\n/).filter(Boolean);
    expect(csv[0]).toBe('serial,subject,algorithm,fleet,notBefore,notAfter,status,revokedAt,reason');
    expect(csv.slice(1).some((l) => l.startsWith(`${devices[0].serial},"CN=revoke-cli`) || l.startsWith(`${devices[0].serial},`))).toBe(true);
    const table = (await ok(['cert', 'list', '--data', server.dataDir])).split('\n').filter(Boolean);
    expect(table[0]).toMatch(/^SERIAL\s+SUBJECT\s+ALGORITHM\s+FLEET\s+NOTBEFORE\s+NOTAFTER\s+STATUS/);
    expect(table.length).toBeGreaterThanOrEqual(3);
    expect(JSON.parse(await ok(['cert', 'list', '--data', server.dataDir, '--format', 'json', '--alg', 'ml-dsa-65']))).toEqual([]);
    expect(JSON.parse(await ok(['cert', 'list', '--data', server.dataDir, '--format', 'json', '--expiring', '30d']))).toEqual([]);
    const a = await api('GET', '/certificates?fleet=default&alg=rsa-2048');
    expect(a.status).toBe(200);
    expect((a.json as CertificateView[]).map((r) => r.serial)).toEqual(expect.arrayContaining(devices.map((d) => d.serial)));
  });
});

describe('revocation', () => {
  it('revokes one certificate through the CLI (--data) and one through the admin API', async () => {
    const [cli, viaApi] = devices;
    expect(await ok(['cert', 'revoke', cli.serial, '--reason', 'keyCompromise', '--data', server.dataDir])).toMatch(new RegExp(`^certificate ${cli.serial} .*revoked: keyCompromise`));
    const a = await api('POST', `/certificates/${viaApi.serial.toUpperCase()}/revoke`, { reason: 'superseded' });
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({ serial: viaApi.serial, status: 'revoked', reason: 'superseded' });
    const revoked = JSON.parse(await ok(['cert', 'list', '--data', server.dataDir, '--format', 'json', '--revoked'])) as CertificateView[];
    expect(revoked.map((r) => [r.serial, r.status, r.reason]).sort()).toEqual([[cli.serial, 'revoked', 'keyCompromise'], [viaApi.serial, 'revoked', 'superseded']].sort());
  });

  it('GET /crl/default.crl lists both serials at once and verifies with openssl crl -CAfile <data>/ca.pem', async () => {
    const { der, serials } = await crl('default');
    expect(serials.sort()).toEqual(devices.map((d) => d.serial).sort());
    const file = join(work, 'default.crl');
    writeFileSync(file, der);
    // OpenSSL prints "verify OK" (or "verify failure") on stderr and exits 0 either way.
    const r = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', file, '-CAfile', join(server.dataDir, 'ca.pem'), '-noout'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('verify OK');
  });

  it('RFC 5280 §5.1.2.4-5: the CRL is served from cache until halfway to nextUpdate, then re-signed with a higher cRLNumber', async () => {
    const t0 = new Date(Date.now() + 3 * 86_400_000); // past any CRL cached by the tests above
    const first = await currentCrl(server.env.ca, server.env, t0);
    const hours = server.env.crlValidityHours;
    expect(first.tbsCertList.nextUpdate?.getTime().getTime()).toBe(t0.getTime() - (t0.getTime() % 1000) + hours * 3_600_000);
    expect(await currentCrl(server.env.ca, server.env, new Date(t0.getTime() + (hours / 2 - 1) * 3_600_000))).toBe(first);
    const later = new Date(t0.getTime() + (hours / 2 + 1) * 3_600_000);
    const second = await currentCrl(server.env.ca, server.env, later);
    expect(second).not.toBe(first);
    expect(second.tbsCertList.thisUpdate.getTime().getTime()).toBe(later.getTime() - (later.getTime() % 1000));
    expect(crlNumberOf(second)).toBeGreaterThan(crlNumberOf(first));
    expect(second.tbsCertList.revokedCertificates?.map((r) => serialHex(r.userCertificate)).sort()).toEqual(devices.map((d) => d.serial).sort());
  });

  it('a RenewalReq signed by a revoked certificate gets FAILURE badRequest; a valid one still renews', async () => {
    expect(await renew(devices[0])).toBe('FAILURE:badRequest');
    expect(await renew(devices[1])).toBe('FAILURE:badRequest');
    expect(await renew(await enrolled('CN=still-valid,O=Test'))).toBe('SUCCESS');
  });

  it('the audit log records both revocations with serial, reason and actor', async () => {
    const records = JSON.parse(await ok(['audit', 'list', '--json', '--data', server.dataDir])) as AuditView[];
    const revokes = records.filter((r) => r.action === 'certificate.revoke');
    expect(revokes.map((r) => [r.subject, r.details?.serial, r.details?.reason, r.actor])).toEqual([
      [devices[0].serial, devices[0].serial, 'keyCompromise', 'cli'],
      [devices[1].serial, devices[1].serial, 'superseded', 'admin-api@127.0.0.1'],
    ]);
    await ok(['audit', 'verify', '--data', server.dataDir]);
  });

  it('mistakes are one-line errors (exit 1 in the CLI, JSON errors in the API)', async () => {
    expect(await fails(['cert', 'revoke', 'abcdef0123', '--reason', 'keyCompromise', '--data', server.dataDir])).toMatch(/no certificate with serial abcdef0123/);
    expect(await fails(['cert', 'revoke', devices[0].serial, '--reason', 'lostIt', '--data', server.dataDir])).toMatch(/invalid reason "lostIt": use one of unspecified, keyCompromise/);
    expect(await fails(['cert', 'revoke', devices[0].serial, '--reason', 'keyCompromise', '--data', server.dataDir])).toMatch(/already revoked/);
    expect(await fails(['cert', 'revoke', 'not-hex', '--data', server.dataDir])).toMatch(/invalid serial/);
    expect(await fails(['cert', 'list', '--format', 'xml', '--data', server.dataDir])).toMatch(/xml/);
    expect(await fails(['cert', 'list', '--fleet', 'nosuch', '--data', server.dataDir])).toMatch(/no fleet named "nosuch"/);
    expect(await fails(['cert', 'revoke', 'abcdef0123', '--admin', server.admin!.url, '--token', server.admin!.token])).toMatch(/no certificate with serial/);
    expect((await api('POST', '/certificates/abcdef0123/revoke', { reason: 'keyCompromise' })).status).toBe(404);
    expect((await api('POST', `/certificates/${devices[0].serial}/revoke`, { reason: 'nope' })).status).toBe(400);
    expect((await api('POST', `/certificates/${devices[0].serial}/revoke`, {})).status).toBe(409);
    expect((await api('GET', '/certificates?revoked=maybe')).status).toBe(400);
    expect((await fetch(`${base}/crl/nosuch.crl`)).status).toBe(404);
  });

  it('cert list through --admin prints what --data prints', async () => {
    const args = ['cert', 'list', '--format', 'json', '--revoked'];
    expect(await ok([...args, '--admin', server.admin!.url, '--token', server.admin!.token])).toBe(await ok([...args, '--data', server.dataDir]));
  });
});

describe('ML-DSA CRL', () => {
  it.skipIf(!hasReferenceNode)(`an ML-DSA-65 fleet serves an ML-DSA-65-signed CRL that OpenSSL 3.5 verifies${hasReferenceNode ? '' : ` (skipped: ${referenceMissingReason})`}`, async () => {
    createFleet({ store: server.env.store, profiles: server.fleets.profiles }, 'pq', 'pq-ml-dsa-65', 'test');
    await server.fleets.refresh();
    const env = server.fleets.env('pq')!;
    const { der, list } = await crl('pq');
    expect(list.signatureAlgorithm.algorithm).toBe('2.16.840.1.101.3.4.3.18'); // id-ml-dsa-65, FIPS 204 / RFC 9881
    const spki = AsnConvert.serialize(env.ca.certificate.tbsCertificate.subjectPublicKeyInfo);
    const script = `
      const { createPublicKey, verify } = require('node:crypto');
      const [tbs, spki, sig] = process.argv.slice(1).map((h) => Buffer.from(h, 'hex'));
      const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      process.stdout.write(key.asymmetricKeyType + ' ' + verify(null, tbs, key, sig));`;
    const hex = (b: ArrayBuffer | Uint8Array) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('hex');
    const run = (tbs: Uint8Array) => execFileSync(REFERENCE_NODE, ['-e', script, hex(tbs), hex(spki), hex(list.signature)], { encoding: 'utf8' });
    const tbs = firstElement(der);
    expect(run(tbs)).toBe('ml-dsa-65 true');
    const tampered = Uint8Array.from(tbs);
    tampered[tampered.length - 1] ^= 1;
    expect(run(tampered)).toBe('ml-dsa-65 false');
  });
});
