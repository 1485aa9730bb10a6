/**
 * The admin API (src/http/admin.ts) in process: its own loopback listener, never the SCEP port;
 * the bearer token (generated once into <data>/admin-token.txt with mode 0600, or configured),
 * compared after hashing both sides; every endpoint's JSON, and its one-line JSON errors (400,
 * 401, 404, 409, 413, never a stack); changes applied to the running server before the response
 * (GetCACaps of /scep/<fleet> follows at once) and audited as admin-api@<address> with from/to.
 * Leaves out: the CLI over the API (fleet-cli.test.ts).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerMatches } from '../src/http/admin.ts';
import type { AuditView, FleetView, ProfileView } from '../src/fleet/admin-ops.ts';
import { device, exchange, request, testServer, type TestServer } from './helpers/server.ts';

let server: TestServer;
let token: string;

interface Answer {
  status: number;
  type: string;
  text: string;
  json: unknown;
}

/** One admin request; `auth` replaces the Authorization header (null: none). */
async function api(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, auth: string | null = `Bearer ${token}`): Promise<Answer> {
  const res = await fetch(`${server.admin!.url}${path}`, {
    method,
    headers: { ...(auth !== null && { authorization: auth }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, json };
}

/** A refused request: the status, a one-line JSON {error}, no stack trace. Returns the reason. */
function expectError(a: Answer, status: number): string {
  expect(a.status, a.text).toBe(status);
  expect(a.type).toMatch(/^application\/json/);
  expect(a.text.trim().split('\n')).toHaveLength(1);
  expect(a.text).not.toMatch(/\bat .*\.ts:\d+/);
  expect(Object.keys(a.json as object)).toEqual(['error']);
  return (a.json as { error: string }).error;
}

const caps = async (path: string): Promise<{ status: number; lines: string[] }> => {
  const res = await fetch(`${server.url.replace(/\/scep$/, '')}${path}?operation=GetCACaps`);
  return { status: res.status, lines: (await res.text()).split('\n').filter(Boolean) };
};

beforeAll(async () => {
  server = await testServer();
  token = server.admin!.token;
});
afterAll(() => server?.stop());

describe('admin API listener and token', () => {
  it('listens on loopback, on a port of its own; the token was generated into admin-token.txt (0600)', () => {
    expect(server.admin).toBeDefined();
    expect(server.admin!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.admin!.port).not.toBe(server.port);
    const file = join(server.dataDir, 'admin-token.txt');
    expect(server.admin!.tokenFile).toBe(file);
    expect(readFileSync(file, 'utf8').trim()).toBe(token);
    expect(token.length).toBeGreaterThanOrEqual(43); // 256 bits, base64url
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('is not reachable on the SCEP port, even with the token', async () => {
    const res = await fetch(`${server.url.replace(/\/scep$/, '')}/fleets`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(404);
    expect(await res.text()).not.toMatch(/default/);
  });

  it.each([
    ['no Authorization header', null],
    ['a wrong token', 'Bearer wrong-token-0123456789'],
    ['the token with one character changed', () => `Bearer ${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`],
    ['a prefix of the token', () => `Bearer ${token.slice(0, 10)}`],
    ['the token plus one character', () => `Bearer ${token}x`],
    ['the token under another scheme', () => `Basic ${token}`],
    ['an empty bearer', 'Bearer '],
  ] as const)('%s: 401 with a one-line JSON error, on every path', async (_, auth) => {
    const header = typeof auth === 'function' ? auth() : auth;
    for (const [method, path] of [['GET', '/fleets'], ['POST', '/fleets'], ['GET', '/audit'], ['GET', '/no-such-endpoint']] as const) {
      const a = await api(method, path, method === 'POST' ? { name: 'sneaky', profile: 'classic-rsa' } : undefined, header);
      expect(expectError(a, 401)).toMatch(/bearer token/);
    }
    expect(server.fleets.env('sneaky')).toBeUndefined();
  });

  it('bearerMatches hashes both sides: tokens of any length compare without throwing', () => {
    // node:crypto timingSafeEqual throws on unequal lengths; hashing first makes them equal.
    expect(bearerMatches(`Bearer ${'a'.repeat(16)}`, 'a'.repeat(16))).toBe(true);
    expect(bearerMatches('Bearer a', 'a'.repeat(16))).toBe(false);
    expect(bearerMatches(`Bearer ${'a'.repeat(1000)}`, 'a'.repeat(16))).toBe(false);
    expect(bearerMatches(undefined, 'a'.repeat(16))).toBe(false);
    expect(bearerMatches(`bearer ${'a'.repeat(16)}`, 'a'.repeat(16))).toBe(true); // the scheme is case-insensitive (RFC 9110 §11.1)
  });

  it('keeps the generated token across restarts; a configured token is used as is and not written', async () => {
    const again = await testServer({ dataDir: server.dataDir, port: 0 }).catch((err) => err as Error);
    // The first server still holds the database; a second one on the same folder is fine for SQLite (WAL).
    expect(again).not.toBeInstanceOf(Error);
    const second = again as TestServer;
    try {
      expect(second.admin!.token).toBe(token);
    } finally {
      await second.close();
    }
    const configured = await testServer({ adminToken: 'configured-token-0123456789' });
    try {
      expect(configured.admin!.token).toBe('configured-token-0123456789');
      expect(configured.admin!.tokenFile).toBeUndefined();
      expect(existsSync(join(configured.dataDir, 'admin-token.txt'))).toBe(false);
      const res = await fetch(`${configured.admin!.url}/fleets`, { headers: { authorization: 'Bearer configured-token-0123456789' } });
      expect(res.status).toBe(200);
    } finally {
      await configured.stop();
    }
  });

  it('admin: false starts no admin listener', async () => {
    const s = await testServer({ admin: false });
    try {
      expect(s.admin).toBeUndefined();
      expect(existsSync(join(s.dataDir, 'admin-token.txt'))).toBe(false);
    } finally {
      await s.stop();
    }
  });
});

describe('admin API fleet operations', () => {
  it('GET /fleets lists the default fleet at /scep', async () => {
    const a = await api('GET', '/fleets');
    expect(a.status).toBe(200);
    expect(a.json).toEqual([expect.objectContaining({ name: 'default', endpoint: '/scep', profile: 'flags' })]);
  });

  it('GET /profiles lists the loaded profiles, without their file paths', async () => {
    const a = await api('GET', '/profiles');
    expect(a.status).toBe(200);
    const profiles = a.json as ProfileView[];
    expect(profiles.map((p) => p.name)).toEqual(expect.arrayContaining(['classic-rsa', 'pq-ml-dsa-65', 'flags']));
    expect(profiles.find((p) => p.name === 'pq-ml-dsa-65')).toMatchObject({ ca: { algorithm: 'ml-dsa-65' }, ra: ['ml-kem-768'] });
    expect(a.text).not.toMatch(/"source"/);
  });

  it('POST /fleets creates a fleet that answers GetCACaps with its profile before the response returns', async () => {
    expect((await caps('/scep/routers')).status).toBe(404);
    const a = await api('POST', '/fleets', { name: 'routers', profile: 'pq-ml-dsa-65' });
    expect(a.status, a.text).toBe(201);
    expect(a.json).toMatchObject({ name: 'routers', endpoint: '/scep/routers', profile: 'pq-ml-dsa-65' });
    for (const path of ['/scep/routers', '/scep/routers/pkiclient.exe']) {
      const c = await caps(path);
      expect(c.status).toBe(200);
      expect(c.lines).toEqual(expect.arrayContaining(['ML-DSA-65', 'ML-KEM-768', 'AES']));
      expect(c.lines).not.toContain('DES3');
      expect(c.lines).not.toContain('SHA-1');
    }
    expect((await caps('/scep/unknown-fleet')).status).toBe(404);
  });

  it('POST /fleets/:name/profile switches before the response returns, and the audit log says who, from, to', async () => {
    const a = await api('POST', '/fleets/routers/profile', { profile: 'classic-rsa' });
    expect(a.status, a.text).toBe(200);
    expect(a.json).toMatchObject({ name: 'routers', profile: 'classic-rsa', previousProfile: 'pq-ml-dsa-65' });
    expect(server.fleets.env('routers')!.profile).toBe('classic-rsa');
    const c = await caps('/scep/routers');
    expect(c.lines).not.toContain('ML-DSA-65');
    expect(c.lines).toEqual(expect.arrayContaining(['AES', 'SHA-256', 'SCEPStandard']));
    const audit = (await api('GET', '/audit')).json as AuditView[];
    const last = audit.at(-1)!;
    expect(last).toMatchObject({ actor: 'admin-api@127.0.0.1', action: 'fleet.switch', subject: 'routers', details: { from: 'pq-ml-dsa-65', to: 'classic-rsa' } });
    expect(Date.now() - Date.parse(last.at)).toBeLessThan(60_000);
  });

  it('POST /fleets/:name/rollback returns to the previous profile the same way', async () => {
    const a = await api('POST', '/fleets/routers/rollback');
    expect(a.status, a.text).toBe(200);
    expect(a.json).toMatchObject({ name: 'routers', profile: 'pq-ml-dsa-65', previousProfile: 'classic-rsa' });
    expect((await caps('/scep/routers')).lines).toContain('ML-DSA-65');
    const last = ((await api('GET', '/audit')).json as AuditView[]).at(-1)!;
    expect(last).toMatchObject({ actor: 'admin-api@127.0.0.1', subject: 'routers', details: { from: 'classic-rsa', to: 'pq-ml-dsa-65' } });
  });

  it('a switch at a future time with an overlap is pending in GET /fleets; rollback cancels it', async () => {
    const at = new Date(Date.now() + 86_400_000);
    const a = await api('POST', '/fleets/routers/profile', { profile: 'classic-rsa', at: at.toISOString(), overlap: '15m' });
    expect(a.status, a.text).toBe(200);
    const routers = ((await api('GET', '/fleets')).json as FleetView[]).find((f) => f.name === 'routers')!;
    expect(routers).toMatchObject({
      profile: 'pq-ml-dsa-65',
      next: { profile: 'classic-rsa', announceAt: at.toISOString(), effectiveAt: new Date(at.getTime() + 15 * 60_000).toISOString(), announcing: false },
    });
    expect(server.fleets.env('routers')!.profile).toBe('pq-ml-dsa-65');
    const r = await api('POST', '/fleets/routers/rollback', {});
    expect(r.json).toMatchObject({ profile: 'pq-ml-dsa-65', cancelled: 'classic-rsa' });
    expect((r.json as FleetView).next).toBeUndefined();
  });

  it('GET /audit?from=N starts at N; the records chain', async () => {
    const all = (await api('GET', '/audit')).json as AuditView[];
    const tail = (await api('GET', '/audit?from=2')).json as AuditView[];
    expect(tail).toEqual(all.slice(1));
    expect(tail[0].prevHash).toBe(all[0].hash);
  });
});

describe('admin API status and dry-run (src/fleet/status.ts, dry-run.ts)', () => {
  beforeAll(async () => {
    // One RSA device enrolled through a classic fleet: a certificate and a client record.
    expect((await api('POST', '/fleets', { name: 'printers', profile: 'classic-rsa' })).status).toBe(201);
    const url = `${server.url}/printers`;
    const d = await device(url, 'CN=printer-1,O=Test');
    expect((await exchange(url, d, await request(d))).status).toBe('SUCCESS');
  });

  it('GET /fleets/:name/status: JSON, and format=text as the CLI prints it', async () => {
    const a = await api('GET', '/fleets/printers/status?expiringDays=400');
    expect(a.status, a.text).toBe(200);
    expect(a.json).toMatchObject({ fleet: 'printers', profile: 'classic-rsa', certificates: { active: 1, migrated: 1, expiringWithinDays: 400 } });
    expect((a.json as { certificates: { expiring: unknown[] } }).certificates.expiring).toHaveLength(1);
    const t = await api('GET', '/fleets/printers/status?expiringDays=400&format=text');
    expect(t.type).toMatch(/^text\/plain/);
    expect(t.text).toMatch(/^fleet printers: profile classic-rsa\n/);
    expect(t.text).toMatch(/expiring within 400 days: 1/);
  });

  it('GET /fleets/:name/dry-run?profile=P: the recorded client would break on a post-quantum profile', async () => {
    const a = await api('GET', '/fleets/printers/dry-run?profile=pq-ml-dsa-65');
    expect(a.status, a.text).toBe(200);
    expect(a.json).toMatchObject({ fleet: 'printers', profile: 'classic-rsa', candidate: 'pq-ml-dsa-65', summary: { total: 1, breaks: 1 } });
    const t = await api('GET', '/fleets/printers/dry-run?profile=pq-ml-dsa-65&format=text');
    expect(t.text).toMatch(/^fleet printers: dry run of pq-ml-dsa-65/);
    expect(t.text).toMatch(/summary: 0 ok, 1 would break/);
    expect(expectError(await api('GET', '/fleets/printers/dry-run?profile=nope'), 400)).toMatch(/^no profile named "nope"/);
    expect(expectError(await api('GET', '/fleets/printers/dry-run?profile=classic-rsa&format=xml'), 400)).toMatch(/format/);
  });
});

describe('admin API errors', () => {
  it.each([
    ['malformed JSON', 'POST', '/fleets', '{"name": "x",', 400, /not valid JSON/],
    ['a missing field', 'POST', '/fleets', { name: 'x' }, 400, /profile/],
    ['an unknown field', 'POST', '/fleets', { name: 'x', profile: 'classic-rsa', colour: 'red' }, 400, /colour/],
    ['an invalid fleet name', 'POST', '/fleets', { name: 'Bad_Name', profile: 'classic-rsa' }, 400, /fleet names are lowercase/],
    ['a new fleet with an unknown profile', 'POST', '/fleets', { name: 'fresh', profile: 'nope' }, 400, /^no profile named "nope"/],
    ['an existing fleet', 'POST', '/fleets', { name: 'routers', profile: 'classic-rsa' }, 409, /exists/],
    ['an unknown profile', 'POST', '/fleets/routers/profile', { profile: 'nope' }, 400, /^no profile named "nope"; profiles: .*classic-rsa/],
    ['an unknown fleet', 'POST', '/fleets/nope/profile', { profile: 'classic-rsa' }, 404, /^no fleet named "nope"/],
    ['the current profile again', 'POST', '/fleets/routers/profile', { profile: 'pq-ml-dsa-65' }, 409, /already runs pq-ml-dsa-65/],
    ['a malformed time', 'POST', '/fleets/routers/profile', { profile: 'classic-rsa', at: 'tomorrow' }, 400, /invalid time "tomorrow"/],
    ['a malformed overlap', 'POST', '/fleets/routers/profile', { profile: 'classic-rsa', overlap: '5 minutes' }, 400, /invalid duration/],
    ['rollback of an unknown fleet', 'POST', '/fleets/nope/rollback', undefined, 404, /no fleet named/],
    ['rollback without an earlier profile', 'POST', '/fleets/default/rollback', undefined, 409, /no earlier profile/],
    ['status of an unknown fleet', 'GET', '/fleets/nope/status', undefined, 404, /no fleet named/],
    ['a malformed expiringDays', 'GET', '/fleets/routers/status?expiringDays=soon', undefined, 400, /expiringDays/],
    ['dry-run without a profile', 'GET', '/fleets/routers/dry-run', undefined, 400, /profile/],
    ['a malformed audit position', 'GET', '/audit?from=0', undefined, 400, /audit position/],
    ['an unknown endpoint', 'GET', '/nothing-here', undefined, 404, /no admin endpoint/],
    ['a wrong method', 'DELETE', '/fleets', undefined, 405, /not allowed/],
  ] as const)('%s: %s %s → %i', async (_, method, path, body, status, reason) => {
    const before = (await api('GET', '/audit')).json as AuditView[];
    expect(expectError(await api(method, path, body), status)).toMatch(reason);
    expect(((await api('GET', '/audit')).json as AuditView[]).length).toBe(before.length);
  });

  it('a body over 64 KiB is refused with 413 (RFC 9110 §15.5.14), naming the limit', async () => {
    expect(expectError(await api('POST', '/fleets', { name: 'x', profile: 'y'.repeat(70_000) }), 413)).toMatch(/exceeds the 65536-byte limit/);
  });
});
