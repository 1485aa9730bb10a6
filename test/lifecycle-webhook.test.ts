/**
 * Webhook challenge validation (the Intune/Jamf/step-ca pattern; exchange documented in
 * src/policy/webhook.ts) against the reference receiver in examples/webhook-receiver.ts: a
 * fleet whose profile names the webhook follows its allow/deny, the request carries the CSR
 * facts and an HMAC signature, and an unreachable, failing or slow webhook fails closed after
 * its retries (or open, when the profile says onError: allow).
 * Leaves out: TLS to the webhook (fetch's own https handling).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../examples/webhook-receiver.ts';
import { DEFAULT_PROFILES_DIR } from '../src/server.ts';
import type { ChallengeRequest } from '../src/policy/challenge.ts';
import { webhookValidator, type WebhookSettings } from '../src/policy/webhook.ts';
import { freePort } from './helpers/cli.ts';
import { device, exchange, request, silentLog, testServer, type TestServer } from './helpers/server.ts';

const SECRET_ENV = 'PQSCEP_TEST_WEBHOOK_SECRET';
const decisions: { allow: boolean; reason?: string; subject?: string }[] = [];
let receiver: Receiver;
let server: TestServer;
let profilesDir: string;

beforeAll(async () => {
  process.env[SECRET_ENV] = 'webhook-secret-for-tests';
  receiver = await startReceiver({ secret: 'webhook-secret-for-tests', challenges: ['mdm-issued-1', 'mdm-issued-2'], subjectPattern: 'CN=[a-z0-9-]+,O=Test', onDecision: (d) => decisions.push(d) });
  profilesDir = mkdtempSync(join(tmpdir(), 'pqscep-profiles-'));
  const classic = JSON.parse(readFileSync(join(DEFAULT_PROFILES_DIR, 'classic-rsa.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(profilesDir, 'mdm.json'), JSON.stringify({ ...classic, challenge: { validators: ['webhook'], webhook: { url: receiver.url, timeoutMs: 2000, retries: 1, secretEnv: SECRET_ENV } } }));
  server = await testServer({ profilesDir, profile: 'mdm' });
});
afterAll(async () => {
  await server.stop();
  await receiver.close();
  rmSync(profilesDir, { recursive: true, force: true });
  delete process.env[SECRET_ENV];
});

const lastReject = () => server.env.store.audit().filter((a) => a.action === 'request.reject').at(-1);

describe('webhook validation through a running server', () => {
  it('an allowed request is issued; the audit record names the webhook', async () => {
    const d = await device(server.url, 'CN=laptop-1,O=Test');
    expect((await exchange(server.url, d, await request(d, { challenge: 'mdm-issued-1' }))).status).toBe('SUCCESS');
    expect(decisions.at(-1)).toMatchObject({ allow: true, subject: 'CN=laptop-1,O=Test' });
    expect(server.env.store.audit().filter((a) => a.action === 'certificate.issue').at(-1)?.details).toMatchObject({ authorization: 'webhook' });
  });

  it('a denial is FAILURE badRequest, with the webhook\'s reason audited; the static challenge does not apply', async () => {
    const d = await device(server.url, 'CN=Laptop_2,O=Test');
    expect(await exchange(server.url, d, await request(d, { challenge: 'mdm-issued-2' }))).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect(String(lastReject()?.details?.reason)).toMatch(/webhook denied: subject CN=Laptop_2,O=Test is not allowed/);
    const s = await device(server.url, 'CN=static,O=Test');
    expect(await exchange(server.url, s, await request(s))).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' }); // helpers' static CHALLENGE
    expect(String(lastReject()?.details?.reason)).toMatch(/unknown challenge/);
  });
});

describe('webhook validator (src/policy/webhook.ts)', () => {
  const req: ChallengeRequest = {
    fleet: 'default', transactionId: 'tx-1', messageType: 'PKCSReq', subject: 'CN=dev,O=Test', sans: ['DNS:dev.example'],
    keyAlgorithm: 'ml-dsa-65', keyHash: 'ab', csr: new Uint8Array([0x30, 0x00]),
  };
  const settings = (o: Partial<WebhookSettings>): WebhookSettings => ({ url: receiver.url, timeoutMs: 1000, retries: 0, onError: 'deny', ...o });

  it('posts the documented JSON with an HMAC-SHA256 signature; a wrong secret is refused by the receiver (401 → deny, no retry)', async () => {
    let seen: { body?: Record<string, unknown>; signature?: string } = {};
    const spy = createServer((r, res) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
        seen = { body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>, signature: r.headers['x-pqscep-signature'] as string };
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"allow":true}');
      });
    });
    await new Promise<void>((resolve) => spy.listen(0, '127.0.0.1', resolve));
    const port = (spy.address() as { port: number }).port;
    try {
      expect(await webhookValidator(settings({ url: `http://127.0.0.1:${port}/`, secretEnv: SECRET_ENV }), silentLog).validate('c-1', req)).toEqual({ ok: true, by: 'webhook' });
      expect(seen.body).toEqual({ version: 1, fleet: 'default', transactionId: 'tx-1', messageType: 'PKCSReq', subject: 'CN=dev,O=Test', sans: ['DNS:dev.example'], keyAlgorithm: 'ml-dsa-65', challenge: 'c-1', csr: 'MAA=' });
      expect(seen.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    } finally {
      spy.close();
    }
    const before = decisions.length;
    process.env.PQSCEP_TEST_WRONG_SECRET = 'not-the-secret';
    const r = await webhookValidator(settings({ secretEnv: 'PQSCEP_TEST_WRONG_SECRET', retries: 2 }), silentLog).validate('mdm-issued-1', req);
    delete process.env.PQSCEP_TEST_WRONG_SECRET;
    expect(r).toMatchObject({ ok: false, reason: 'webhook answered HTTP 401' });
    expect(decisions.length - before).toBe(1);
  });

  it('fails closed after its retries when nothing listens, and open only when told to', async () => {
    const url = `http://127.0.0.1:${await freePort()}/`;
    expect(await webhookValidator(settings({ url, retries: 2 }), silentLog).validate('x', req)).toMatchObject({ ok: false, reason: expect.stringMatching(/webhook unavailable \(ECONNREFUSED\); failing closed/) });
    expect(await webhookValidator(settings({ url, onError: 'allow' }), silentLog).validate('x', req)).toEqual({ ok: true, by: 'webhook' });
  });

  it('retries a 5xx and a timeout, and follows the answer that finally comes', async () => {
    let calls = 0;
    const flaky = createServer((_r, res) => {
      calls += 1;
      if (calls === 1) return void res.writeHead(503).end('busy');
      if (calls === 2) return; // never answers: the timeout cuts it
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"allow":false,"reason":"device retired"}');
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    const port = (flaky.address() as { port: number }).port;
    try {
      const r = await webhookValidator(settings({ url: `http://127.0.0.1:${port}/`, timeoutMs: 300, retries: 2 }), silentLog).validate('x', req);
      expect(r).toMatchObject({ ok: false, reason: 'webhook denied: device retired' });
      expect(calls).toBe(3);
    } finally {
      flaky.closeAllConnections();
      flaky.close();
    }
  });

  it('a malformed answer is an error, not an allow', async () => {
    const odd = createServer((_r, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"allowed":"yes"}'));
    await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
    const port = (odd.address() as { port: number }).port;
    try {
      expect(await webhookValidator(settings({ url: `http://127.0.0.1:${port}/` }), silentLog).validate('x', req)).toMatchObject({ ok: false, reason: expect.stringMatching(/no boolean "allow"/) });
    } finally {
      odd.close();
    }
  });
});
