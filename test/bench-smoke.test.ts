/**
 * Smoke test of the benchmark as CI runs it: `npm run bench -- --quick --out <tmp>` must exit 0
 * and write the JSON (timestamped and latest), the markdown summary and both SVG charts, each
 * covering every --quick suite with positive sizes. No timing is asserted: benchmarks print
 * figures, they do not pass or fail on them (bench/run.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../bench/report.ts';
import { selectSuites } from '../bench/suites.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'pqscep-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const env = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PQSCEP_')));

function npmBench(): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('npm', ['run', '--silent', 'bench', '--', '--quick', '--out', out], { cwd: ROOT, env: env(), timeout: 170_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe('npm run bench -- --quick (CI smoke)', () => {
  it('writes JSON, markdown and SVG charts covering every quick suite', { timeout: 180_000 }, async () => {
    const run = await npmBench();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('# pqscep benchmark (quick)');

    const files = readdirSync(out);
    for (const f of ['latest.json', 'latest.md', 'sizes.svg', 'throughput.svg']) expect(files).toContain(f);
    expect(files.some((f) => /^\d{4}-\d\d-\d\dT.*\.json$/.test(f))).toBe(true);

    const result = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchResult;
    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    const sizesSvg = readFileSync(join(out, 'sizes.svg'), 'utf8');
    const throughputSvg = readFileSync(join(out, 'throughput.svg'), 'utf8');
    expect(sizesSvg.startsWith('<svg')).toBe(true);
    expect(throughputSvg.startsWith('<svg')).toBe(true);

    const quick = selectSuites(undefined, true);
    expect(quick.length).toBeGreaterThan(0);
    expect(result.quick).toBe(true);
    for (const s of quick) {
      const z = result.sizes[s.name];
      expect(z, s.name).toBeDefined();
      for (const m of ['getCaCert', 'pkcsReq', 'certRep', 'certificate', 'caCertificate', 'crl'] as const) {
        expect(z[m].total, `${s.name} ${m}`).toBeGreaterThan(0);
        expect(z[m].signatures, `${s.name} ${m} signatures`).toBeGreaterThan(0);
        expect(z[m].structure, `${s.name} ${m} structure`).toBeGreaterThanOrEqual(0);
      }
      expect(z.getUrl.url).toBeGreaterThan(z.pkcsReq.total);
      expect(result.backends.noble?.suites[s.name]?.throughput.server.perSec, s.name).toBeGreaterThan(0);
      expect(md).toContain(s.label);
      expect(sizesSvg).toContain(s.label.replace(/&/g, '&amp;'));
      expect(throughputSvg).toContain(s.label.replace(/&/g, '&amp;'));
    }
    // The native re-run happens only where the reference runtime is installed.
    if (result.backends.native) for (const s of quick.filter((q) => q.pq)) expect(result.backends.native.suites[s.name], s.name).toBeDefined();
    else expect(result.nativeSkipped).toBeTruthy();
  });
});
