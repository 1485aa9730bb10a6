/**
 * RFC 8894 §3.5 / §4 operations other than PKIOperation, through HTTP: GetCACaps (§3.5.2),
 * GetCACert (§4.2), GetNextCACert (§4.7), both SCEP paths, and operation-name errors
 * (missing/unknown → 400, wrong method → 405, unknown fleet → 404), plus /healthz.
 * Leaves out: PKIOperation (rfc8894-pki-operation.test.ts) and malformed transport
 * (rfc8894-bad-input.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALGORITHMS } from '../algorithms/index.ts';
import { equalBytes, serialize } from '../src/cms/der.ts';
import { parseSignedData, spkiOf, verifySignerInfo } from '../src/cms/signed-data.ts';
import { createRegistry } from '../src/crypto/registry.ts';
import { setProfile } from '../src/fleet/fleet-ops.ts';
import { testServer, type TestServer } from './helpers/server.ts';

interface Answer {
  status: number;
  type: string;
  body: Uint8Array;
  text: string;
}

async function get(url: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(url, init);
  const body = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type') ?? '', body, text: Buffer.from(body).toString('utf8') };
}

/** A one-line plain-text reason: what every transport error must look like. */
function expectOneLineReason(a: Answer): void {
  expect(a.type).toMatch(/^text\/plain/);
  expect(a.text.trim().length).toBeGreaterThan(0);
  expect(a.text).toMatch(/^[^\n]+\n?$/);
  expect(a.text).not.toMatch(/\bat .+:\d+/);
}

const capsOf = (a: Answer) => a.text.split('\n').filter((l, i, all) => !(l === '' && i === all.length - 1));

describe('RFC 8894 §3.5.2 GetCACaps', () => {
  let server: TestServer;
  let legacy: TestServer;
  beforeAll(async () => {
    [server, legacy] = await Promise.all([testServer(), testServer({ allowLegacy: true })]);
  });
  afterAll(async () => {
    await Promise.all([server.stop(), legacy.stop()]);
  });

  it('answers text/plain with one keyword per line', async () => {
    const a = await get(`${server.url}?operation=GetCACaps`);
    expect(a.status).toBe(200);
    expect(a.type).toMatch(/^text\/plain(;|$)/);
    const lines = capsOf(a);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^[A-Za-z0-9-]+$/);
    expect(new Set(lines).size).toBe(lines.length);
  });

  it('advertises AES, POSTPKIOperation, Renewal, SHA-256 and SCEPStandard', async () => {
    const caps = capsOf(await get(`${server.url}?operation=GetCACaps`));
    for (const k of ['AES', 'POSTPKIOperation', 'Renewal', 'SHA-256', 'SCEPStandard']) expect(caps).toContain(k);
  });

  it('leaves out DES3 and SHA-1 by default', async () => {
    const caps = capsOf(await get(`${server.url}?operation=GetCACaps`));
    expect(caps).not.toContain('DES3');
    expect(caps).not.toContain('SHA-1');
  });

  it('adds DES3 and SHA-1 when legacy algorithms are allowed', async () => {
    const caps = capsOf(await get(`${legacy.url}?operation=GetCACaps`));
    expect(caps).toContain('DES3');
    expect(caps).toContain('SHA-1');
    expect(caps).toContain('AES');
  });

  it('does not advertise GetNextCACert when no next CA is staged', async () => {
    const caps = capsOf(await get(`${server.url}?operation=GetCACaps`));
    expect(caps).not.toContain('GetNextCACert');
  });
});

describe('RFC 8894 §4.2 GetCACert', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer();
  });
  afterAll(() => server.stop());

  it('returns application/x-x509-ca-ra-cert: a certs-only SignedData with the RA, then the CA', async () => {
    const a = await get(`${server.url}?operation=GetCACert`);
    expect(a.status).toBe(200);
    expect(a.type).toBe('application/x-x509-ca-ra-cert');
    const sd = parseSignedData(a.body);
    expect(sd.signedData.signerInfos).toHaveLength(0);
    expect(sd.content).toBeUndefined();
    expect(sd.certificates).toHaveLength(2);
    expect(equalBytes(serialize(sd.certificates[0]), server.env.ras[0].der)).toBe(true);
    expect(equalBytes(serialize(sd.certificates[1]), server.env.ca.der)).toBe(true);
  });

  it.each(['0', 'CAIdentifier', 'pqscep%20CA', ''])('tolerates message=%j', async (message) => {
    const a = await get(`${server.url}?operation=GetCACert&message=${message}`);
    expect(a.status).toBe(200);
    expect(a.type).toBe('application/x-x509-ca-ra-cert');
    expect(parseSignedData(a.body).certificates).toHaveLength(2);
  });
});

describe('RFC 8894 §4.7 GetNextCACert', () => {
  it('is 404 with a one-line reason when no next CA is staged', async () => {
    const server = await testServer();
    try {
      const a = await get(`${server.url}?operation=GetNextCACert`);
      expect(a.status).toBe(404);
      expectOneLineReason(a);
    } finally {
      await server.stop();
    }
  });

  describe('with a next CA announced by a scheduled fleet switch (profile modern-ecc, 1 h overlap)', () => {
    let server: TestServer;
    let nextCaDer: Uint8Array;
    beforeAll(async () => {
      server = await testServer();
      setProfile({ store: server.env.store, profiles: server.fleets.profiles }, 'default', 'modern-ecc', { overlapMs: 3_600_000 }, 'test');
      await server.fleets.refresh();
      nextCaDer = server.env.nextCa!.ca.der;
    });
    afterAll(() => server.stop());

    it('returns application/x-x509-next-ca-cert signed by the current CA, holding the next CA', async () => {
      const a = await get(`${server.url}?operation=GetNextCACert`);
      expect(a.status).toBe(200);
      expect(a.type).toBe('application/x-x509-next-ca-cert');
      const sd = parseSignedData(a.body);
      expect(sd.signedData.signerInfos).toHaveLength(1);
      const registry = createRegistry(ALGORITHMS);
      // Throws if the signature or the message digest does not verify with the current CA key.
      verifySignerInfo(sd, sd.signedData.signerInfos[0], spkiOf(server.env.ca.certificate), registry);
      expect(() => verifySignerInfo(sd, sd.signedData.signerInfos[0], spkiOf(server.env.ras[0].certificate), registry)).toThrow();
      expect(sd.content).toBeDefined();
      const inner = parseSignedData(sd.content!);
      expect(inner.signedData.signerInfos).toHaveLength(0);
      expect(inner.certificates.some((c) => equalBytes(serialize(c), nextCaDer))).toBe(true);
      expect(inner.certificates.some((c) => equalBytes(serialize(c), server.env.ca.der))).toBe(false);
    });

    it('advertises GetNextCACert in GetCACaps', async () => {
      expect(capsOf(await get(`${server.url}?operation=GetCACaps`))).toContain('GetNextCACert');
    });
  });
});

describe('RFC 8894 §4.1 HTTP binding: paths and operation names', () => {
  let server: TestServer;
  let origin: string;
  beforeAll(async () => {
    server = await testServer();
    origin = new URL(server.url).origin;
  });
  afterAll(() => server.stop());

  it.each(['/scep', '/cgi-bin/pkiclient.exe'])('serves GetCACaps and GetCACert at %s', async (path) => {
    const caps = await get(`${origin}${path}?operation=GetCACaps`);
    expect(caps.status).toBe(200);
    expect(capsOf(caps)).toContain('SCEPStandard');
    const cert = await get(`${origin}${path}?operation=GetCACert`);
    expect(cert.status).toBe(200);
    expect(cert.type).toBe('application/x-x509-ca-ra-cert');
  });

  it('answers a missing operation with 400', async () => {
    const a = await get(server.url);
    expect(a.status).toBe(400);
    expectOneLineReason(a);
  });

  it('answers an unknown operation with 400', async () => {
    const a = await get(`${server.url}?operation=GetCoffee`);
    expect(a.status).toBe(400);
    expectOneLineReason(a);
  });

  it('answers GetCACert via POST with 405', async () => {
    const a = await get(`${server.url}?operation=GetCACert`, { method: 'POST', body: new Uint8Array([0x30, 0x00]) });
    expect(a.status).toBe(405);
    expectOneLineReason(a);
  });

  it('answers an unknown fleet with 404', async () => {
    const a = await get(`${origin}/scep/nope?operation=GetCACaps`);
    expect(a.status).toBe(404);
    expectOneLineReason(a);
  });

  it('answers /healthz with 200', async () => {
    const a = await get(`${origin}/healthz`);
    expect(a.status).toBe(200);
  });
});
