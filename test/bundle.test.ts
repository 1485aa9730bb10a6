/**
 * The bundle scripts/build.js writes (what bin/pqscep.js runs after `npm install`) behaves as
 * the TypeScript sources do: same output for the same command, and a bundled server with a
 * PKIOperation worker thread (the second bundle) enrolls devices. The bundle is built into a
 * folder of this test's own, so a concurrent test never sees dist/ half written.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, freePort, ROOT } from './helpers/cli.ts';

const run = promisify(execFile);
const OUT = `.bundle-test-${process.pid}`;
const BUNDLE = join(ROOT, OUT, 'pqscep.js');
const data = mkdtempSync(join(tmpdir(), 'pqscep-bundle-'));

/** `node <entry> ...args` (the bundle, or bin/pqscep.js forced onto the sources). */
const node = (entry: string, args: string[], env: NodeJS.ProcessEnv = baseEnv()) =>
  run(process.execPath, [entry, ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
const sources = (args: string[]) => node(join(ROOT, 'bin', 'pqscep.js'), args, { ...baseEnv(), PQSCEP_SOURCES: '1' });

beforeAll(async () => {
  await run(process.execPath, [join(ROOT, 'scripts', 'build.js'), '--outdir', OUT], { cwd: ROOT });
}, 60_000);
afterAll(() => {
  rmSync(join(ROOT, OUT), { recursive: true, force: true });
  rmSync(data, { recursive: true, force: true });
});

describe('the esbuild bundle', () => {
  it('prints the same algorithm table and help as the sources', async () => {
    for (const args of [['algorithms'], ['--help']]) {
      const [bundled, fromSources] = await Promise.all([node(BUNDLE, args), sources(args)]);
      expect(bundled.stdout.length).toBeGreaterThan(100);
      expect(bundled.stdout).toBe(fromSources.stdout);
    }
  }, 60_000);

  it('serves with --workers 2 (its worker thread runs the second bundle) and issues certificates', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [BUNDLE, 'serve', '--port', String(port), '--host', '127.0.0.1', '--data', data, '--challenge', 'bundle-test-secret', '--workers', '2', '--no-admin'],
      { cwd: ROOT, env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      for (let i = 0; i < 100 && !/^store: /m.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toMatch(/^PKIOperation threads: 2/m);
      const url = `http://127.0.0.1:${port}/scep`;
      // Concurrent enrollments: the pool sends the second to the worker while the first runs here.
      const enrolled = await Promise.all([0, 1, 2, 3].map((i) =>
        node(BUNDLE, ['enroll', '--url', url, '--subject', `CN=bundle-${i}`, '--challenge', 'bundle-test-secret', '--out', join(data, `device-${i}`)])));
      for (const [i, r] of enrolled.entries()) expect(r.stdout).toMatch(new RegExp(`^issued CN=bundle-${i} serial [0-9a-f]+`));
      const list = JSON.parse((await node(BUNDLE, ['cert', 'list', '--data', data, '--format', 'json'])).stdout) as { subject: string }[];
      expect(list.map((c) => c.subject).sort()).toEqual([0, 1, 2, 3].map((i) => `CN=bundle-${i}`));
    } finally {
      child.kill('SIGTERM');
    }
  }, 90_000);
});
