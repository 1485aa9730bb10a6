/**
 * Issue 6 graceful shutdown: `pqscep serve` with a slow CA (SLH-DSA-SHA2-256f takes a few
 * hundred ms per certificate; the 's' variants take seconds, long enough for Node's 5 s
 * keep-alive timer to drop requests queued behind them) gets several enrollments at once and SIGTERM while they are being answered. It must
 * let them finish: every request that got a response got a valid SUCCESS CertRep (signature,
 * nonces and transactionID checked by our client), every certificate so acknowledged is in the
 * store after the exit (`pqscep cert list --data DIR --format json`), and the exit code is 0.
 * SIGTERM comes after every request was sent (while the first is being answered), so every
 * one must get its answer: shutdown lets requests already sent start before it stops accepting.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serialHex } from '../src/ca/certificate.ts';
import { pqscep, spawnServe, stopServe, type ServeProcess } from './helpers/cli.ts';
import { CHALLENGE, device, exchange, request } from './helpers/server.ts';

const work = mkdtempSync(join(tmpdir(), 'pqscep-shutdown-'));
let served: ServeProcess | undefined;
afterAll(async () => {
  if (served) await stopServe(served, 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

const ENROLLMENTS = 6;

describe('SIGTERM while enrollments are in flight', () => {
  it('answers every accepted request, stores every acknowledged certificate and exits 0', async () => {
    const data = join(work, 'data');
    served = await spawnServe(['--port', '0', '--no-admin', '--data', data, '--challenge', CHALLENGE, '--ca-alg', 'slh-dsa-sha2-256f',
      '--shutdown-timeout', '120s', '--log-level', 'info']);
    const url = served.url;
    // Everything but the PKIOperations happens first, so only those are in flight at SIGTERM.
    const devices = await Promise.all(Array.from({ length: ENROLLMENTS }, (_, i) => device(url, `CN=drain-${i}`)));
    const requests = await Promise.all(devices.map((d) => request(d)));
    const answers = devices.map((d, i) => exchange(url, d, requests[i]).then((r) => ({ ok: r }), (err: Error) => ({ error: err })));

    // The first "certificate issued" line comes after all requests were sent (SLH-DSA signing)
    // and before that request's reply: every request is sent, one is being answered.
    const deadline = Date.now() + 90_000;
    while (!served.stdout().includes('"msg":"certificate issued"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    served.child.kill('SIGTERM');

    const results = await Promise.all(answers);
    const exit = await served.exited;
    const log = `server output:\n${served.stdout()}\n${served.stderr()}\nclient errors: ${results.map((r) => ('error' in r ? String(r.error) : 'ok')).join('; ')}`;
    expect(exit, log).toEqual({ code: 0, signal: null });

    const answered = results.flatMap((r) => ('ok' in r ? [r.ok] : []));
    // Each was sent before SIGTERM, so each must have its answer.
    expect(answered.length, log).toBe(ENROLLMENTS);
    const serials = answered.map((r) => {
      expect(r.status).toBe('SUCCESS');
      if (r.status !== 'SUCCESS') return '';
      return serialHex(r.certificates[0].tbsCertificate.serialNumber);
    });

    const list = await pqscep(['cert', 'list', '--data', data, '--format', 'json']);
    expect(list.code).toBe(0);
    const stored = new Set((JSON.parse(list.stdout) as { serial: string }[]).map((c) => c.serial));
    for (const serial of serials) expect(stored.has(serial)).toBe(true);
  }, 180_000);
});
