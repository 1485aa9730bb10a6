/**
 * `npm run bench`: sizes, primitive costs and in-process throughput per suite, written to
 * bench/results (report.ts) and printed as markdown on stdout; progress goes to stderr, one
 * line per step. This Node runs everything with the noble backend; when the reference runtime
 * (Node 26 with OpenSSL 3.5, test/helpers/openssl35.ts) is installed, the primitives and
 * throughput of the post-quantum suites run again there with the native backend, in a child
 * process (`--child`) whose JSON is merged; a full run adds a control there (noble in the
 * reference runtime, headline suite only) so backend and Node version can be told apart.
 *
 *   npm run bench [-- --quick] [--suites ml-dsa-65,profile:pq-cnsa2|profiles] [--no-native] [--no-load] [--out DIR] [--data DIR]
 *
 * --quick: the CI smoke selection (a few suites, tiny N, short benny runs; well under a minute).
 * --out: where results go (default bench/results). --data: where the servers' data folders
 * (SQLite store, committed with fsync) are created (default: the OS temp folder).
 * --render FILE: measure nothing; rewrite the markdown and charts from a result JSON.
 * A full run ends with the HTTP load benchmark (bench/load.ts, `npm run bench:load`: pqscep and
 * micromdm's scepserver over HTTP, each alone in a private network namespace) writing into the
 * same folder; --quick and --no-load leave it out (CI smoke-tests it through `pqscep bench load
 * --quick`, test/bench-load.test.ts).
 * Leaves out: asserting timings.
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pqBackend, setPqBackend } from '../src/crypto/backend.ts';
import { hasReferenceNode, REFERENCE_NODE } from '../test/helpers/openssl35.ts';
import { enrollmentOps, type EnrollmentOps } from './operations.ts';
import { limitMarginPct, limitPerSec, measurePrimitives, type PrimitiveResult } from './primitives.ts';
import { markdown, PHASES, writeReport, type BackendRun, type BenchResult, type Phase, type SuiteRun } from './report.ts';
import { measureSizes, type SuiteSizes } from './sizes.ts';
import { clientRegistry, HEADLINE_SUITE, selectSuites, startSuiteServer, type Suite } from './suites.ts';
import { measureThroughput } from './throughput.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const started = performance.now();

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    suites: { type: 'string' },
    'no-native': { type: 'boolean', default: false },
    'no-load': { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, 'bench', 'results') },
    data: { type: 'string', default: tmpdir() },
    /** Internal: run as the reference-runtime child, reading and writing in this folder. */
    child: { type: 'string' },
    backend: { type: 'string', default: 'native' },
    render: { type: 'string' },
  },
  strict: true,
});

const progress = (line: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
const allOps = (o: EnrollmentOps) => [...o.clientBuild, ...o.server, ...o.clientOpen];
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function runtime(): BackendRun['runtime'] {
  return { node: process.version, openssl: process.versions.openssl, pq: { 'ml-dsa': pqBackend('ml-dsa'), 'ml-kem': pqBackend('ml-kem'), 'slh-dsa': pqBackend('slh-dsa') } };
}

/** Primitives and throughput of `suites` on `backend` in this process. */
async function measureBackend(backend: 'noble' | 'native', suites: readonly Suite[], ops: Readonly<Record<string, EnrollmentOps>>, quick: boolean, sizes?: Record<string, SuiteSizes>): Promise<BackendRun> {
  setPqBackend(backend);
  const known = new Map<string, PrimitiveResult>();
  const runs: Record<string, SuiteRun> = {};
  for (const [i, s] of suites.entries()) {
    const step = `${backend} ${i + 1}/${suites.length} ${s.name}`;
    const server = await startSuiteServer(s, backend, flags.data);
    try {
      if (sizes) {
        const m = await measureSizes(server, s);
        sizes[s.name] = m.sizes;
        (ops as Record<string, EnrollmentOps>)[s.name] = enrollmentOps(m.captured, server.env, s.clientKey, clientRegistry);
        progress(`${step}: sizes PKCSReq ${m.sizes.pkcsReq.total} B (${m.sizes.pkcsReq.overheadPct}% structure), CertRep ${m.sizes.certRep.total} B (${m.sizes.certRep.overheadPct}%)`);
      }
      const fresh = await measurePrimitives(`${backend} ${s.name}`, allOps(ops[s.name]), known, { quick, registry: clientRegistry });
      progress(`${step}: ${fresh.length} new primitives measured`);
      const throughput = await measureThroughput(server, s, { quick });
      const limits = Object.fromEntries(PHASES.map((p) => [p, limitPerSec(ops[s.name][p], known)])) as Record<Phase, number>;
      const pctOfLimit = Object.fromEntries(PHASES.map((p) => [p, Math.round((1000 * throughput[p].perSec) / limits[p]) / 10])) as Record<Phase, number>;
      const limitsCpu = Object.fromEntries(PHASES.map((p) => [p, limitPerSec(ops[s.name][p], known, 'cpu')])) as Record<Phase, number>;
      const pctOfLimitCpu = Object.fromEntries(PHASES.map((p) => [p, Math.round((1000 * (1000 / throughput[p].cpuMs)) / limitsCpu[p]) / 10])) as Record<Phase, number>;
      const pctOfLimitMargin = Object.fromEntries(PHASES.map((p) =>
        [p, Math.round(pctOfLimit[p] * Math.hypot(limitMarginPct(ops[s.name][p], known), throughput[p].rme ?? 0)) / 100])) as Record<Phase, number>;
      runs[s.name] = { throughput, limits, limitsCpu, pctOfLimit, pctOfLimitCpu, pctOfLimitMargin };
      progress(`${step}: server ${fmt(throughput.server.perSec)}/s (limit ${fmt(limits.server)}/s, ${pctOfLimit.server}% ± ${pctOfLimitMargin.server}; by CPU time ${pctOfLimitCpu.server}%), client build ${fmt(throughput.clientBuild.perSec)}/s, open ${fmt(throughput.clientOpen.perSec)}/s, N=${throughput.n}`);
    } finally {
      await server.stop();
    }
  }
  return { backend, runtime: runtime(), primitives: [...known.values()], suites: runs };
}

/** Runs this script in the reference runtime as `--child`; resolves to its BackendRun. */
async function referenceRun(backend: 'native' | 'noble', suites: readonly Suite[], ops: Readonly<Record<string, EnrollmentOps>>, quick: boolean): Promise<BackendRun> {
  const dir = mkdtempSync(join(tmpdir(), 'pqscep-bench-child-'));
  try {
    writeFileSync(join(dir, 'ops.json'), JSON.stringify(Object.fromEntries(suites.map((s) => [s.name, ops[s.name]]))));
    const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', dir, '--backend', backend, '--suites', suites.map((s) => s.name).join(','), '--data', flags.data, ...(quick ? ['--quick'] : [])];
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PQSCEP_')));
    const child = spawn(REFERENCE_NODE, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    createInterface({ input: child.stderr }).on('line', (line) => process.stderr.write(`         ${backend}@reference | ${line}\n`));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (code !== 0) throw new Error(`reference runtime exited with ${code}`);
    return JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as BackendRun;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function child(dir: string): Promise<void> {
  const backend = flags.backend === 'noble' ? 'noble' : 'native';
  const ops = JSON.parse(readFileSync(join(dir, 'ops.json'), 'utf8')) as Record<string, EnrollmentOps>;
  const suites = selectSuites(Object.keys(ops), false);
  progress(`${backend} backend on Node ${process.version} (OpenSSL ${process.versions.openssl}): ${suites.length} suites`);
  const run = await measureBackend(backend, suites, ops, flags.quick);
  writeFileSync(join(dir, 'result.json'), JSON.stringify(run));
}

async function main(): Promise<void> {
  const quick = flags.quick;
  const suites = selectSuites(flags.suites?.split(',').map((x) => x.trim()).filter(Boolean), quick);
  const loadStart = loadavg()[0];
  const native = flags['no-native'] ? '--no-native' : hasReferenceNode ? undefined : `no reference runtime at ${REFERENCE_NODE} (npm run setup:reference)`;
  progress(`pqscep bench${quick ? ' --quick' : ''}: ${suites.length} suites; noble on Node ${process.version}${native ? `; native skipped (${native})` : '; native in the reference runtime'}; load average ${loadStart.toFixed(2)}`);

  const sizes: Record<string, SuiteSizes> = {};
  const ops: Record<string, EnrollmentOps> = {};
  const noble = await measureBackend('noble', suites, ops, quick, sizes);

  let nativeRun: BackendRun | undefined;
  let control: BackendRun | undefined;
  let nativeSkipped = native;
  const pq = suites.filter((s) => s.pq);
  if (!native && pq.length) {
    progress(`native: ${pq.length} post-quantum suites in ${REFERENCE_NODE}`);
    try {
      nativeRun = await referenceRun('native', pq, ops, quick);
      // Control: noble on the reference runtime, so "native vs noble" is also seen on one Node.
      const headline = pq.filter((s) => s.name === HEADLINE_SUITE);
      if (!quick && headline.length) {
        progress(`control: noble backend in the reference runtime for ${HEADLINE_SUITE}`);
        control = await referenceRun('noble', headline, ops, quick);
      }
    } catch (err) {
      nativeSkipped = `the reference run failed: ${(err as Error).message}`;
      progress(nativeSkipped);
    }
  } else if (!native) nativeSkipped = 'no post-quantum suite selected';

  const cpu = cpus();
  const result: BenchResult = {
    version: 1,
    date: new Date().toISOString(),
    quick,
    durationSec: Math.round((performance.now() - started) / 100) / 10,
    machine: {
      cpu: cpu[0]?.model.trim() ?? 'unknown', cores: cpu.length, memoryGiB: Math.round(totalmem() / 2 ** 30), os: `${type()} ${release()}`,
      loadAverage: { start: loadStart, end: loadavg()[0] },
    },
    suites,
    sizes,
    ops,
    dataDir: flags.data,
    backends: { noble, ...(nativeRun && { native: nativeRun }), ...(control && { nobleReference: control }) },
    ...(nativeSkipped && !nativeRun && { nativeSkipped }),
  };
  const written = writeReport(result, flags.out);
  progress(`wrote ${written.latest}, ${written.markdown}, ${written.charts.join(', ')} (and ${written.json})`);
  process.stdout.write(`${markdown(result)}\n`);
  if (quick || flags['no-load']) progress(`HTTP load benchmark skipped (${quick ? '--quick' : '--no-load'}); run it with npm run bench:load`);
  else await loadBenchmark();
}

/** The HTTP load benchmark (bench/load.ts) as a child process; its markdown follows ours on stdout. */
async function loadBenchmark(): Promise<void> {
  progress('HTTP load: pqscep and micromdm scepserver (bench/load.ts)');
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'load.ts'), '--out', flags.out], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) progress(`HTTP load benchmark failed (exit ${code}); the other results are written`);
}

/** --render: the markdown and charts again from a saved result (after a change to report.ts). */
function render(file: string): void {
  const result = JSON.parse(readFileSync(file, 'utf8')) as BenchResult;
  const written = writeReport(result, flags.out);
  progress(`wrote ${written.latest}, ${written.markdown}, ${written.charts.join(', ')} from ${file}`);
  process.stdout.write(`${markdown(result)}\n`);
}

if (flags.render) render(flags.render);
else await (flags.child ? child(flags.child) : main());
