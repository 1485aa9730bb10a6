/**
 * The bundle scripts/build.js writes (what bin/pqscep.js runs after `npm install`) behaves as
 * the TypeScript sources do: same output for the same command, and a bundled server with a
 * PKIOperation worker thread (the second bundle) enrolls devices. The bundle is built into a
 * folder of this test's own, so a concurrent test never sees dist/ half written.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleEntry, bundleIsFresh, sourceListing, writeManifest } from '../scripts/bundle-sources.js';
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

describe('when bin/pqscep.js runs the bundle (scripts/bundle-sources.js)', () => {
  /** A project of its own: tsconfig.json, a source in src/ and one in algorithms/, a bundle built from them. */
  function project(): string {
    const root = mkdtempSync(join(tmpdir(), 'pqscep-fresh-'));
    for (const dir of ['src/cms', 'algorithms', 'dist']) mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, 'tsconfig.json'), '{}');
    writeFileSync(join(root, 'src/cms/der.ts'), 'export const a = 1;');
    writeFileSync(join(root, 'algorithms/rsa.ts'), 'export const b = 2;');
    const listing = sourceListing(root);
    const bundle = ['pqscep.js', 'pki-worker-boot.js'].map((name) => {
      writeFileSync(join(root, 'dist', name), `// built from a = 1 (${name})`);
      return bundleEntry(name, statSync(join(root, 'dist', name)));
    });
    writeManifest(root, 'dist', listing, bundle);
    return root;
  }

  it('runs it while the sources are those it was built from, and not without its record', () => {
    const root = project();
    try {
      expect(bundleIsFresh(root)).toBe(true);
      rmSync(join(root, 'dist', 'sources.json'));
      expect(bundleIsFresh(root)).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('treats an entry that is gone when looked at (an editor lock file, a file removed while listing) as no source', () => {
    // Emacs marks a modified buffer with `.#name`, a symlink to nowhere; the check and the build must not throw on it.
    const root = project();
    try {
      symlinkSync('user@host.4242:1700000000', join(root, 'src/cms/.#der.ts'));
      expect(bundleIsFresh(root)).toBe(true);
      expect(sourceListing(root).some((line) => line.includes('.#der.ts'))).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('runs the sources after an edit, an added or removed file, an older copy put back (cp -p), or another build\'s bundle put in place', () => {
    const cases: ((root: string) => void)[] = [
      (root) => writeFileSync(join(root, 'src/cms/der.ts'), 'export const a = 10;'),
      (root) => writeFileSync(join(root, 'algorithms/ml-kem.ts'), ''),
      (root) => rmSync(join(root, 'algorithms/rsa.ts')),
      (root) => {
        // The same size, an hour older: a newer bundle must not shadow it (the old rule did).
        const file = join(root, 'src/cms/der.ts');
        writeFileSync(file, 'export const a = 9;');
        const t = statSync(file).mtime.getTime() / 1000 - 3600;
        utimesSync(file, t, t);
      },
      // Two builds at once: the other one's bundle renamed over this record's (its own record still to
      // come, or already overwritten by this one): the record describes sources, not that bundle.
      (root) => {
        writeFileSync(join(root, 'dist/pqscep.js.other.tmp'), '// built from a = 0');
        renameSync(join(root, 'dist/pqscep.js.other.tmp'), join(root, 'dist/pqscep.js'));
      },
      (root) => rmSync(join(root, 'dist/pki-worker-boot.js')),
    ];
    for (const change of cases) {
      const root = project();
      try {
        change(root);
        expect(bundleIsFresh(root)).toBe(false);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    }
  });
});
