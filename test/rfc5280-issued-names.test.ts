/**
 * What the CA refuses to certify (RFC 5280 §4.1.2.6 subject, §4.2.1.6 subjectAltName), and the
 * transactionID echo for IDs outside PrintableString (RFC 8894 §3.2.1.1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { device, exchange, request, testServer, type TestServer } from './helpers/server.ts';

describe('RFC 5280 §4.1.2.6 / §4.2.1.6 names in issued certificates', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer();
  });
  afterAll(() => server.stop());

  it('refuses a dNSName that is not a hostname with FAILURE badRequest', async () => {
    const d = await device(server.url);
    for (const san of ['DNS:bad name.example', 'DNS:evil.com\u0000.good.example', 'DNS:-lead.example']) {
      const reply = await exchange(server.url, d, await request(d, { sans: [san] }));
      expect(reply, san).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    }
  });

  it('accepts hostnames and a leading wildcard label', async () => {
    const d = await device(server.url);
    const reply = await exchange(server.url, d, await request(d, { sans: ['DNS:*.fleet.example', 'DNS:host-1.fleet.example'] }));
    expect(reply.status).toBe('SUCCESS');
  });

  it('refuses an empty subject without subjectAltName', async () => {
    const d = await device(server.url, '');
    const reply = await exchange(server.url, d, await request(d));
    expect(reply).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
  });

  it('issues for an empty subject when a subjectAltName names the device', async () => {
    const d = await device(server.url, '');
    const reply = await exchange(server.url, d, await request(d, { sans: ['DNS:device.example'] }));
    expect(reply.status).toBe('SUCCESS');
  });
});

describe('RFC 8894 §3.2.1.1 transactionID echo', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer();
  });
  afterAll(() => server.stop());

  it('echoes an ID with characters outside PrintableString unchanged', async () => {
    const d = { ...(await device(server.url)), transactionId: 'tx-設備-1' };
    const reply = await exchange(server.url, d, await request(d)); // exchange checks the echo
    expect(reply.status).toBe('SUCCESS');
  });
});
