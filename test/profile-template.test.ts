/**
 * Profile fields for the reply digest and the issued-certificate SAN rules (issue: profiles):
 * `preferredDigest` sets the CertRep digest, `certificate.sanTypes` limits the SAN kinds a CSR
 * may request (RFC 5280 §4.2.1.6).
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSignedData } from '../src/cms/signed-data.ts';
import { DEFAULT_PROFILES_DIR } from '../src/server.ts';
import { device, exchange, request, testServer, type TestServer } from './helpers/server.ts';

describe('profile template: preferredDigest and certificate.sanTypes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pqscep-profiles-'));
  let server: TestServer;
  beforeAll(async () => {
    copyFileSync(join(DEFAULT_PROFILES_DIR, 'classic-rsa.json'), join(dir, 'classic-rsa.json'));
    writeFileSync(join(dir, 'dns-only.json'), JSON.stringify({
      description: 'RSA, DNS names only, SHA-384 replies',
      ca: { algorithm: 'rsa-2048' }, ra: ['rsa-2048'], clientKeys: ['rsa-2048'],
      signatures: ['sha256WithRSAEncryption', 'rsaEncryption'], ciphers: { allowed: ['AES-128-CBC', 'AES-256-CBC'] },
      digests: ['SHA-256', 'SHA-384'], preferredDigest: 'SHA-384',
      certificate: { sanTypes: ['DNS'] },
    }));
    server = await testServer({ profilesDir: dir, profile: 'dns-only' });
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs CertReps with the preferred digest while the request used SHA-256', async () => {
    const d = await device(server.url);
    const reply = await exchange(server.url, d, await request(d, { digest: 'SHA-256', sans: ['DNS:a.example'] }));
    expect(reply.status).toBe('SUCCESS');
    const signer = parseSignedData(reply.der).signedData.signerInfos[0];
    expect(signer.digestAlgorithm.algorithm).toBe('2.16.840.1.101.3.4.2.2'); // id-sha384
  });

  it('refuses a CSR asking for a SAN kind the profile does not allow (badRequest), accepts DNS', async () => {
    const d = await device(server.url);
    expect(await exchange(server.url, d, await request(d, { sans: ['IP:10.0.0.1'] }))).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect(await exchange(server.url, d, await request(d, { sans: ['email:x@example.com'] }))).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect((await exchange(server.url, d, await request(d, { sans: ['DNS:b.example'] }))).status).toBe('SUCCESS');
  });

  it('rejects a preferredDigest that the profile does not allow, naming the field', async () => {
    writeFileSync(join(dir, 'bad-digest.json'), JSON.stringify({
      ca: { algorithm: 'rsa-2048' }, ra: ['rsa-2048'], clientKeys: ['rsa-2048'], signatures: ['rsaEncryption'],
      ciphers: { allowed: ['AES-128-CBC'] }, digests: ['SHA-256'], preferredDigest: 'SHA-512',
    }));
    await expect(testServer({ profilesDir: dir, profile: 'dns-only' })).rejects.toThrow(/bad-digest\.json: preferredDigest: "SHA-512" is not one of SHA-256/);
    rmSync(join(dir, 'bad-digest.json'));
  });
});
