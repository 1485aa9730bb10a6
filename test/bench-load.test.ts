/**
 * Smoke test of `pqscep bench load --quick` as CI runs it, against an in-process pqscep server:
 * exit 0, a JSON result (--json on stdout, the same in --out) with one level per quick
 * concurrency (1 and 2), every request counted as an enrollment (the load generator verified
 * and opened each CertRep), positive sizes, and the server's peak RSS read from /proc for
 * --pid. No timing is asserted: benchmarks print figures, they do not pass or fail on them.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadResult } from '../src/bench-load/run.ts';
import { pqscep } from './helpers/cli.ts';
import { CHALLENGE, testServer, type TestServer } from './helpers/server.ts';

let server: TestServer;
const dir = mkdtempSync(join(tmpdir(), 'pqscep-bench-load-'));
beforeAll(async () => {
  server = await testServer({ caKeyType: 'rsa-2048', raKeyTypes: ['rsa-2048'] });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('pqscep bench load --quick', () => {
  it('measures each concurrency level and writes the JSON result', { timeout: 90_000 }, async () => {
    const out = join(dir, 'load.json');
    const run = await pqscep(['bench', 'load', '--url', server.url, '--suite', 'rsa-2048', '--challenge', CHALLENGE, '--quick', '--json', '--out', out, '--pid', String(process.pid), '--label', 'smoke'], undefined, 80_000);
    expect(run.code, run.stderr).toBe(0);
    const printed = JSON.parse(run.stdout) as LoadResult;
    const written = JSON.parse(readFileSync(out, 'utf8')) as LoadResult;
    expect(written).toEqual(printed);
    expect(printed).toMatchObject({ version: 1, label: 'smoke', suite: 'rsa-2048', keyType: 'rsa-2048', method: 'POST', url: server.url });
    expect(printed.levels.map((l) => l.concurrency)).toEqual([1, 2]);
    for (const l of printed.levels) {
      expect(l.requests).toBe(4);
      expect(l.ok, JSON.stringify(l.errorKinds)).toBe(4);
      expect(l.httpErrors + l.failures + l.invalid + l.pending).toBe(0);
      expect(l.enrollmentsPerSec).toBeGreaterThan(0);
      expect(l.latencyMs.p50).toBeGreaterThan(0);
      expect(l.latencyMs.p99).toBeGreaterThanOrEqual(l.latencyMs.p50);
      expect(l.requestBytes.mean).toBeGreaterThan(1000);
      expect(l.responseBytes.mean).toBeGreaterThan(1000);
      expect(l.serverPeakRssMiB).toBeGreaterThan(0);
    }
  });

  it('refuses a concurrency that is no positive integer, with one line', async () => {
    const run = await pqscep(['bench', 'load', '--url', server.url, '--concurrency', '1,x']);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toMatch(/^pqscep: --concurrency must be a positive integer/);
  });
});
