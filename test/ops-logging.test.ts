/**
 * Issue 6 structured logs: `pqscep serve` writes pino JSON lines; every PKIOperation line
 * carries transactionId, fleet, messageType and outcome; one access line per request without
 * the `message` query parameter; and secrets never appear: enrollments with a known challenge
 * (right and wrong), admin calls with a known token (right and wrong), then the whole log is
 * searched for them and for private key material. `redact` is checked on its own too.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.ts';
import { freePort, pqscep, spawnServe, stopServe } from './helpers/cli.ts';

const CHALLENGE = 'log-check-challenge-5b2e91';
const WRONG_CHALLENGE = 'log-check-wrong-challenge-77c4';
const TOKEN = 'log-check-admin-token-0d9f3a6e';
const WRONG_TOKEN = 'log-check-wrong-token-a81c55e2';

type Line = Record<string, unknown>;

describe('pqscep serve logs', () => {
  const work = mkdtempSync(join(tmpdir(), 'pqscep-logs-'));
  let stdout = '';
  let lines: Line[] = [];
  let keyBase64 = '';

  beforeAll(async () => {
    const adminPort = await freePort();
    const served = await spawnServe(['--port', '0', '--admin-port', String(adminPort), '--data', join(work, 'data'),
      '--challenge', CHALLENGE, '--admin-token', TOKEN, '--log-level', 'debug']);
    const enroll = (name: string, challenge: string, extra: string[] = []) =>
      pqscep(['enroll', '--url', served.url, '--challenge', challenge, '--subject', `CN=${name}`, '--out', join(work, name), ...extra]);
    expect((await enroll('post-device', CHALLENGE)).code).toBe(0);
    expect((await enroll('get-device', CHALLENGE, ['--get'])).code).toBe(0);
    expect((await enroll('refused-device', WRONG_CHALLENGE)).code).not.toBe(0);
    const admin = `http://127.0.0.1:${adminPort}`;
    expect((await fetch(`${admin}/fleets`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${admin}/fleets`, { headers: { Authorization: `Bearer ${WRONG_TOKEN}` } })).status).toBe(401);
    expect((await stopServe(served)).code).toBe(0);
    stdout = served.stdout();
    // The start-up banner prints the challenge on purpose (for the operator); the log is the JSON lines.
    lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
    keyBase64 = readFileSync(join(work, 'post-device', 'key.pem'), 'utf8').split('\n')[1];
  }, 120_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('never logs the challenge password, the admin token (right or wrong) or private key material', () => {
    expect(lines.length).toBeGreaterThan(5);
    const log = lines.map((l) => JSON.stringify(l)).join('\n');
    for (const secret of [CHALLENGE, WRONG_CHALLENGE, TOKEN, WRONG_TOKEN, 'PRIVATE KEY', keyBase64]) expect(log).not.toContain(secret);
  });

  it('gives every PKIOperation line its transactionId, fleet, messageType and outcome', () => {
    const pki = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('PKIOperation'));
    expect(pki.filter((l) => l.outcome === 'SUCCESS')).toHaveLength(2);
    expect(pki.filter((l) => l.outcome === 'FAILURE').length).toBeGreaterThanOrEqual(1);
    for (const l of pki) {
      expect(l).toMatchObject({ fleet: 'default', messageType: expect.any(String), outcome: expect.stringMatching(/^(SUCCESS|FAILURE|PENDING)$/) });
      expect(l.transactionId).toMatch(/^\S+$/);
    }
    expect(lines.filter((l) => l.msg === 'certificate issued').every((l) => l.fleet === 'default' && typeof l.transactionId === 'string')).toBe(true);
  });

  it('writes one access line per request, without the message query parameter', () => {
    const access = lines.filter((l) => l.msg === 'request');
    expect(access.length).toBeGreaterThanOrEqual(6);
    for (const l of access) {
      expect(l).toMatchObject({ method: expect.any(String), path: expect.any(String), status: expect.any(Number), ms: expect.any(Number), bytes: expect.any(Number) });
      expect(l.path).not.toMatch(/[?&]message=/i);
    }
    expect(access.some((l) => l.method === 'GET' && l.path === '/scep?operation=PKIOperation' && l.status === 200)).toBe(true);
    expect(access.some((l) => l.method === 'POST' && l.path === '/scep?operation=PKIOperation' && l.status === 200)).toBe(true);
    expect(stdout).not.toMatch(/"path":"[^"]*message=/);
  });
});

describe('createLogger redact', () => {
  it('replaces secrets under obvious names, at the top level and one level down', () => {
    let out = '';
    const sink = new Writable({ write: (chunk, _enc, done) => void ((out += String(chunk)), done()) });
    const log = createLogger('info', sink);
    log.info({ challenge: 'sekrit-1', headers: { authorization: 'Bearer sekrit-2' }, config: { adminToken: 'sekrit-3' }, csr: { challengePassword: 'sekrit-4' }, keep: 'visible' }, 'x');
    expect(out).not.toMatch(/sekrit/);
    expect(out).toContain('[redacted]');
    expect(JSON.parse(out)).toMatchObject({ keep: 'visible', challenge: '[redacted]' });
  });
});
