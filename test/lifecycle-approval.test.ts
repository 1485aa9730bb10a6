/**
 * Manual approval (RFC 8894 §3.3.3 PENDING and CertPoll; issue: lifecycle) as operators and
 * devices meet it: `pqscep enroll` against a fleet that requires approval polls with backoff
 * while `pqscep requests list|approve|reject` (over --data and over the admin API) decide; the
 * approved device gets its certificate, the rejected one a FAILURE with exit 1; every step is
 * in the audit log.
 * Leaves out: the CertPoll wire details (rfc8894-pki-operation.test.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestView } from '../src/fleet/lifecycle-ops.ts';
import { baseEnv, BIN, cliFails, cliOk, ROOT, type CliResult } from './helpers/cli.ts';
import { CHALLENGE, testServer, type TestServer } from './helpers/server.ts';

let server: TestServer;
let work: string;
beforeAll(async () => {
  server = await testServer({ approval: 'manual' });
  work = mkdtempSync(join(tmpdir(), 'pqscep-approval-'));
});
afterAll(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Starts `pqscep enroll` in the background; resolves when it exits. */
function enrollInBackground(subject: string, out: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'enroll', '--url', server.url, '--challenge', CHALLENGE, '--subject', subject, '--out', out, '--timeout', '60'],
      { cwd: ROOT, env: baseEnv(), timeout: 90_000, encoding: 'utf8' }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
      });
  });
}

/** Waits until `subject` has a pending request (the enroll got PENDING and polls). */
async function pendingFor(subject: string, via: string[]): Promise<RequestView> {
  for (let i = 0; i < 200; i++) {
    const rows = JSON.parse(await cliOk(['requests', 'list', '--json', ...via])) as RequestView[];
    const found = rows.find((r) => r.subject === subject);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`no pending request for ${subject}`);
}

describe('RFC 8894 §3.3.3 manual approval with pqscep requests', () => {
  it('enroll polls until pqscep requests approve (--data); then it has its certificate', async () => {
    const out = join(work, 'approved');
    const running = enrollInBackground('CN=needs-approval', out);
    const pending = await pendingFor('CN=needs-approval', ['--data', server.dataDir]);
    expect(pending).toMatchObject({ status: 'pending', fleet: 'default' });
    expect(await cliOk(['requests', 'approve', pending.id.slice(0, 8), '--data', server.dataDir])).toMatch(/approved/);
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/pending approval \(poll 1\)/);
    expect(existsSync(join(out, 'cert.pem'))).toBe(true);
    const all = JSON.parse(await cliOk(['requests', 'list', '--status', 'all', '--json', '--data', server.dataDir])) as RequestView[];
    expect(all.find((x) => x.id === pending.id)).toMatchObject({ status: 'issued', certSerial: expect.stringMatching(/^[0-9a-f]+$/) });
    const actions = server.env.store.audit().filter((a) => [a.subject, a.details?.transactionId].includes(pending.id) || a.details?.transactionId === pending.transactionId).map((a) => a.action);
    expect(actions).toEqual(['request.pending', 'request.approve', 'certificate.issue']);
    expect(server.env.store.audit().find((a) => a.action === 'certificate.issue' && a.details?.transactionId === pending.transactionId)?.details?.authorization).toBe(`approval:${pending.id}`);
  });

  it('reject over the admin API: the polling enroll ends with exit 1; the reason is audited', async () => {
    const via = ['--admin', server.admin!.url, '--token', server.admin!.token];
    const running = enrollInBackground('CN=to-reject', join(work, 'rejected'));
    const pending = await pendingFor('CN=to-reject', via);
    expect(await cliFails(['requests', 'reject', pending.id, ...via])).toMatch(/required option '--reason <reason>'/);
    expect(await cliOk(['requests', 'reject', pending.id, '--reason', 'unknown device', ...via])).toMatch(/rejected: unknown device/);
    const r = await running;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/badRequest/);
    expect(server.env.store.audit().filter((a) => a.action === 'request.reject' && a.subject === pending.id).at(-1)?.details).toMatchObject({ reason: 'unknown device' });
    expect(await cliFails(['requests', 'approve', pending.id, ...via])).toMatch(/already rejected/);
    expect(await cliFails(['requests', 'approve', 'no-such-request', '--data', server.dataDir])).toMatch(/no request "no-such-request"/);
  });
});
