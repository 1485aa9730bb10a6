/**
 * Enrollment authorization (RFC 8894 §2.3 challengePassword; issue: lifecycle): one-time
 * challenges from `pqscep challenge issue` (stored hashed, single use, expiring, bound to a
 * fleet and optionally a subject pattern; a reuse is refused with badRequest and audited), the
 * resend rule of RFC 8894 §3.3.3 (the same transaction and key may present its challenge
 * again), the static challenge's rotation with an overlap, a fleet whose profile does not
 * accept a kind of challenge, and the validator combinators and per-challenge rate limit.
 * Leaves out: webhooks (lifecycle-webhook.test.ts), renewals (lifecycle-renewal.test.ts).
 */
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditView } from '../src/fleet/admin-ops.ts';
import type { ChallengeView } from '../src/fleet/lifecycle-ops.ts';
import { DEFAULT_PROFILES_DIR } from '../src/server.ts';
import type { ChallengeRequest, ChallengeResult, ChallengeValidator } from '../src/policy/challenge.ts';
import { combineValidators, rateLimited } from '../src/policy/validators.ts';
import { cliFails, cliOk } from './helpers/cli.ts';
import { CHALLENGE, device, exchange, request, testServer, type TestServer } from './helpers/server.ts';

const HEX32 = /^[0-9a-f]{32}$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: TestServer;
let profilesDir: string;
const data = () => ['--data', server.dataDir, '--profiles', profilesDir];

beforeAll(async () => {
  // The shipped profiles, plus one that accepts only the static challenge.
  profilesDir = mkdtempSync(join(tmpdir(), 'pqscep-profiles-'));
  for (const f of readdirSync(DEFAULT_PROFILES_DIR)) copyFileSync(join(DEFAULT_PROFILES_DIR, f), join(profilesDir, f));
  const classic = JSON.parse(readFileSync(join(DEFAULT_PROFILES_DIR, 'classic-rsa.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(profilesDir, 'static-only.json'), JSON.stringify({ ...classic, challenge: { validators: ['static'] } }));
  server = await testServer({ profilesDir });
  await cliOk(['fleet', 'create', 'lab', '--profile', 'classic-rsa', ...data()]);
  await cliOk(['fleet', 'create', 'legacy-static', '--profile', 'static-only', ...data()]);
  await server.fleets.refresh();
});
afterAll(async () => {
  await server.stop();
  rmSync(profilesDir, { recursive: true, force: true });
});

const issue = async (...args: string[]) => (await cliOk(['challenge', 'issue', ...data(), ...args])).trim().split('\n');
const audit = () => server.env.store.audit() as unknown as AuditView[];
const lastAudit = (action: string) => audit().filter((a) => a.action === action).at(-1);

async function enroll(challenge: string, subject = 'CN=one-time,O=Test', url = server.url) {
  const d = await device(url, subject);
  const req = await request(d, { challenge });
  return { d, req, reply: await exchange(url, d, req) };
}

describe('one-time challenges (pqscep challenge issue)', () => {
  it('prints --count challenges of 128 random bits; the database keeps only their hashes', async () => {
    const challenges = await issue('--count', '3', '--ttl', '2h');
    expect(challenges).toHaveLength(3);
    for (const c of challenges) expect(c).toMatch(HEX32);
    expect(new Set(challenges).size).toBe(3);
    const db = readFileSync(join(server.dataDir, 'pqscep.db')).toString('latin1') + readFileSync(join(server.dataDir, 'pqscep.db-wal')).toString('latin1');
    for (const c of challenges) expect(db).not.toContain(c);
    expect(lastAudit('challenge.issue')).toMatchObject({ actor: 'cli', subject: 'default', details: { count: 3, fleet: 'default' } });
  });

  it('a challenge enrolls once; a second device using it gets FAILURE badRequest, and both are audited', async () => {
    const [c] = await issue();
    const first = await enroll(c, 'CN=first,O=Test');
    expect(first.reply.status).toBe('SUCCESS');
    const issued = lastAudit('certificate.issue')!;
    expect(issued.details).toMatchObject({ authorization: 'one-time', transactionId: first.d.transactionId, subjectDn: 'CN=first,O=Test' });
    expect(lastAudit('challenge.use')!.details).toMatchObject({ transactionId: first.d.transactionId });

    const second = await enroll(c, 'CN=second,O=Test');
    expect(second.reply).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    const rejected = lastAudit('request.reject')!;
    expect(rejected.subject).toBe(second.d.transactionId);
    expect(String(rejected.details?.reason)).toMatch(/already used by transaction/);
    expect(server.env.store.certificatesByTransaction(second.d.transactionId)).toHaveLength(0);
    expect(JSON.stringify(audit())).not.toContain(c); // the audit log never holds a challenge
  });

  it('RFC 8894 §3.3.3: the same transaction and key may resend its request with the challenge', async () => {
    const [c] = await issue();
    const first = await enroll(c, 'CN=resend,O=Test');
    expect(first.reply.status).toBe('SUCCESS');
    const again = await exchange(server.url, first.d, await request(first.d, { challenge: c })); // new nonce, same transaction
    expect(again.status).toBe('SUCCESS');
  });

  it('an expired challenge is refused with the reason in the audit log', async () => {
    const [c] = await issue('--ttl', '1s');
    await sleep(1100);
    const r = await enroll(c, 'CN=late,O=Test');
    expect(r.reply).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect(String(lastAudit('request.reject')!.details?.reason)).toMatch(/expired at/);
  });

  it('--subject-pattern binds a challenge to matching subjects (in full)', async () => {
    const [c] = await issue('--subject-pattern', 'CN=printer-[0-9]+');
    expect((await enroll(c, 'CN=printer-7,O=Evil')).reply).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect(String(lastAudit('request.reject')!.details?.reason)).toMatch(/does not match the pattern/);
    expect((await enroll(c, 'CN=printer-7')).reply.status).toBe('SUCCESS');
  });

  it('a challenge issued for one fleet does not enroll into another', async () => {
    const [c] = await issue('--fleet', 'lab');
    expect((await enroll(c, 'CN=wrong-fleet')).reply).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect(String(lastAudit('request.reject')!.details?.reason)).toMatch(/issued for fleet lab/);
    expect((await enroll(c, 'CN=right-fleet', `${server.url}/lab`)).reply.status).toBe('SUCCESS');
  });

  it('pqscep challenge list shows states and ids, never the challenges; the admin API says the same', async () => {
    const rows = JSON.parse(await cliOk(['challenge', 'list', ...data(), '--json'])) as ChallengeView[];
    const states = new Set(rows.map((r) => r.status));
    expect(states).toEqual(new Set(['used', 'unused', 'expired']));
    for (const r of rows) expect(r.id).toMatch(/^[0-9a-f]{12}$/);
    const viaApi = JSON.parse(await cliOk(['challenge', 'list', '--admin', server.admin!.url, '--token', server.admin!.token, '--json'])) as ChallengeView[];
    expect(viaApi).toEqual(rows);
  });

  it('refuses what would be unusable or malformed, with one line', async () => {
    expect(await cliFails(['challenge', 'issue', ...data(), '--fleet', 'legacy-static'])).toMatch(/static-only.*do not include one-time/);
    expect(await cliFails(['challenge', 'issue', ...data(), '--fleet', 'nope'])).toMatch(/no fleet named "nope"/);
    expect(await cliFails(['challenge', 'issue', ...data(), '--ttl', 'soon'])).toMatch(/invalid duration/);
    expect(await cliFails(['challenge', 'issue', ...data(), '--count', '0'])).toMatch(/invalid --count/);
    expect(await cliFails(['challenge', 'issue', ...data(), '--subject-pattern', '(['])).toMatch(/invalid --subject-pattern/);
  });
});

describe('static challenge rotation (pqscep challenge rotate)', () => {
  it('the old secret stays valid for the overlap, then only the newest works', async () => {
    const [fresh] = (await cliOk(['challenge', 'rotate', ...data(), '--overlap', '1h'])).trim().split('\n');
    expect(fresh).toMatch(HEX32);
    expect((await enroll(CHALLENGE, 'CN=old-secret')).reply.status).toBe('SUCCESS');
    expect((await enroll(fresh, 'CN=new-secret')).reply.status).toBe('SUCCESS');

    const [newest] = (await cliOk(['challenge', 'rotate', ...data(), '--overlap', '0s'])).trim().split('\n');
    expect((await enroll(CHALLENGE, 'CN=old-secret-2')).reply).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect((await enroll(fresh, 'CN=new-secret-2')).reply).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect((await enroll(newest, 'CN=newest')).reply.status).toBe('SUCCESS');
    expect(audit().filter((a) => a.action === 'challenge.static.rotate')).toHaveLength(2);
    // other fleets keep the server's configured secret
    expect((await enroll(CHALLENGE, 'CN=lab-static', `${server.url}/lab`)).reply.status).toBe('SUCCESS');
  });
});

describe('validator combinators (src/policy/validators.ts)', () => {
  const req: ChallengeRequest = { fleet: 'f', transactionId: 't', messageType: 'PKCSReq', subject: 'CN=x', sans: [], keyAlgorithm: 'rsa-2048', keyHash: 'h', csr: new Uint8Array() };
  const fixed = (name: string, result: ChallengeResult, calls: string[]): ChallengeValidator => ({
    name, validate: async () => (calls.push(name), result),
  });
  const allow = (by: string): ChallengeResult => ({ ok: true, by });
  const denyUnknown = (by: string): ChallengeResult => ({ ok: false, by, reason: `${by}: unknown` });
  const denyKnown = (by: string): ChallengeResult => ({ ok: false, by, reason: `${by}: reused`, known: true });

  it("'any' stops at the first that allows; its denial is the most telling one", async () => {
    const calls: string[] = [];
    expect(await combineValidators([fixed('a', denyUnknown('a'), calls), fixed('b', allow('b'), calls), fixed('c', allow('c'), calls)], 'any').validate('x', req)).toEqual(allow('b'));
    expect(calls).toEqual(['a', 'b']);
    expect(await combineValidators([fixed('a', denyUnknown('a'), []), fixed('b', denyKnown('b'), [])], 'any').validate('x', req)).toEqual(denyKnown('b'));
  });

  it("'all' stops at the first denial (so a later one-time challenge is not consumed)", async () => {
    const calls: string[] = [];
    const r = await combineValidators([fixed('a', allow('a'), calls), fixed('b', denyUnknown('b'), calls), fixed('c', allow('c'), calls)], 'all').validate('x', req);
    expect(r).toEqual(denyUnknown('b'));
    expect(calls).toEqual(['a', 'b']);
    expect(await combineValidators([fixed('a', allow('a'), []), fixed('c', allow('c'), [])], 'all').validate('x', req)).toMatchObject({ ok: true, by: 'a+c' });
  });

  it('the per-challenge rate limit counts attempts per challenge value in a sliding minute', async () => {
    let now = 0;
    const limited = rateLimited(fixed('s', allow('s'), []), 2, () => now);
    expect((await limited.validate('one', req)).ok).toBe(true);
    expect((await limited.validate('one', req)).ok).toBe(true);
    expect(await limited.validate('one', req)).toMatchObject({ ok: false, reason: expect.stringMatching(/too many requests with this challenge/) });
    expect((await limited.validate('two', req)).ok).toBe(true); // another challenge has its own budget
    now = 60_001;
    expect((await limited.validate('one', req)).ok).toBe(true);
  });
});
