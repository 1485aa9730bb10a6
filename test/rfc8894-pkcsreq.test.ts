import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spkiOf } from '../src/cms/signed-data.ts';
import { equalBytes } from '../src/cms/der.ts';
import { device, exchange, request, testServer, type TestServer } from './helpers/server.ts';

describe('RFC 8894 §3.3.1 PKCSReq', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer();
  });
  afterAll(() => server.stop());

  it('issues a certificate for the CSR key with the challenge password', async () => {
    const d = await device(server.url);
    const reply = await exchange(server.url, d, await request(d, { sans: ['DNS:a.example', 'IP:10.0.0.7'] }));
    expect(reply.status).toBe('SUCCESS');
    if (reply.status !== 'SUCCESS') return;
    expect(reply.certificates).toHaveLength(1);
    expect(equalBytes(spkiOf(reply.certificates[0]), d.key.spki)).toBe(true);
  });

  it('answers a wrong challenge with FAILURE badRequest', async () => {
    const d = await device(server.url);
    const reply = await exchange(server.url, d, await request(d, { challenge: 'wrong' }));
    expect(reply).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
  });
});
