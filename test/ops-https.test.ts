/**
 * Issue 6 HTTPS: given `tlsCert` and `tlsKey` the SCEP listener speaks TLS (RFC 8894 §4.1
 * allows SCEP over HTTPS); the URL it reports is https; a client trusting the certificate runs
 * GetCACaps and a whole enrollment (the `pqscep enroll` command, trusting it through
 * NODE_EXTRA_CA_CERTS); one file without the other, an unreadable file or a key that is not the
 * certificate's stop the server with one line. With `adminTls` the admin API speaks TLS too.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.ts';
import { baseEnv, pqscep, spawnServe, stopServe } from './helpers/cli.ts';
import { CHALLENGE, testServer, type TestServer } from './helpers/server.ts';

const work = mkdtempSync(join(tmpdir(), 'pqscep-https-'));
const cert = join(work, 'cert.pem');
const key = join(work, 'key.pem');
const otherKey = join(work, 'other-key.pem');

/** GET over https trusting only `ca`; resolves with status and body. */
function httpsGet(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

beforeAll(() => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', otherKey], { stdio: 'ignore' });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('HTTPS on the SCEP listener', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer({ tlsCert: cert, tlsKey: key });
  });
  afterAll(() => server.stop());

  it('reports an https URL and answers GetCACaps to a client trusting the certificate', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/scep$/);
    const res = await httpsGet(`${server.url}?operation=GetCACaps`, readFileSync(cert));
    expect(res.status).toBe(200);
    expect(res.body.split('\n')).toContain('POSTPKIOperation');
  });

  it('enrolls with pqscep enroll trusting the certificate through NODE_EXTRA_CA_CERTS', async () => {
    const out = join(work, 'device');
    const r = await pqscep(['enroll', '--url', server.url, '--challenge', CHALLENGE, '--subject', 'CN=tls-device', '--out', out], { ...baseEnv(), NODE_EXTRA_CA_CERTS: cert });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(out, 'cert.pem'), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it('is real TLS: a client that does not trust the certificate gets no answer', async () => {
    const r = await pqscep(['caps', '--url', server.url]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('POSTPKIOperation');
  });
});

describe('adminTls: the admin API over HTTPS', () => {
  it('serves the admin API with the same certificate, still behind the bearer token', async () => {
    const server = await testServer({ tlsCert: cert, tlsKey: key, adminTls: true });
    try {
      const admin = server.admin!;
      expect(admin.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect((await httpsGet(`${admin.url}/fleets`, readFileSync(cert))).status).toBe(401);
      const res = await httpsGet(`${admin.url}/fleets`, readFileSync(cert), { Authorization: `Bearer ${admin.token}` });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'default' })]));
    } finally {
      await server.stop();
    }
  });

  it('refuses adminTls without a certificate and key, with one line', async () => {
    await expect(testServer({ adminTls: true })).rejects.toThrow(/^invalid setting adminTls \(--admin-tls\): needs --tls-cert and --tls-key[^\n]*$/);
  });
});

describe('TLS settings are checked at start-up', () => {
  const refused: [string, Record<string, string>, RegExp][] = [
    ['a certificate without a key', { tlsCert: cert }, /^invalid setting tls: --tls-cert and --tls-key go together/],
    ['a key without a certificate', { tlsKey: key }, /^invalid setting tls: --tls-cert and --tls-key go together/],
    ['an unreadable certificate file', { tlsCert: join(work, 'missing.pem'), tlsKey: key }, /^invalid setting tls \(--tls-cert\): cannot read .*missing\.pem: ENOENT$/],
    ['a key that is not the certificate\'s', { tlsCert: cert, tlsKey: otherKey }, /^invalid setting tls \(--tls-cert .*, --tls-key .*\): .*values mismatch/],
  ];
  it.each(refused)('refuses %s with one line', async (_name, settings, message) => {
    const dataDir = mkdtempSync(join(work, 'data-'));
    const started = testServer({ ...settings, dataDir });
    await expect(started).rejects.toThrow(ConfigError);
    await expect(started).rejects.toThrow(message);
    expect(existsSync(join(dataDir, 'pqscep.db'))).toBe(false); // refused before anything was created
  });

  it('pqscep serve prints the https URL, and stops with one pqscep: line on a bad pair', async () => {
    const served = await spawnServe(['--port', '0', '--no-admin', '--data', join(work, 'serve-data'), '--tls-cert', cert, '--tls-key', key, '--log-level', 'warn']);
    expect(served.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/scep$/);
    expect((await stopServe(served)).code).toBe(0);
    const bad = await pqscep(['serve', '--port', '0', '--no-admin', '--data', join(work, 'bad-data'), '--tls-cert', cert]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^pqscep: invalid setting tls: --tls-cert and --tls-key go together[^\n]*\n$/);
  });
});
