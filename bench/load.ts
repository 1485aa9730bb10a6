/**
 * `npm run bench:load`: the HTTP end-to-end benchmark of issue 5. Runs itself again inside a
 * private network namespace with only loopback (`unshare -n`, needs root), starts pqscep and
 * micromdm's `scepserver` there (load-servers.ts; both RSA-2048 CAs), drives each with
 * `pqscep bench load`'s engine (src/bench-load/run.ts) at every concurrency level, RSA-2048
 * suite, and writes bench/results/load-latest.{json,md} and load.svg (load-report.ts), printing
 * the markdown. The servers run one after the other, never at the same time.
 *
 *   npm run bench:load [-- --quick] [--requests N] [--concurrency 1,4,16] [--workers N] [--out DIR]
 *
 * Without scepserver (package `scep` absent) or without a namespace (not root, no unshare),
 * the scepserver part is skipped with the reason; pqscep alone then runs on loopback.
 * Leaves out: asserting anything about the figures (they are printed, never tested).
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { progressWriter } from '../src/cli/bench.ts';
import { runLoad, type LoadResult } from '../src/bench-load/run.ts';
import { hasScepserver, LOAD_CHALLENGE, startPqscep, startScepserver, type LoadServer } from './load-servers.ts';
import { loadMarkdown, targets, writeLoadReport, type LoadBench } from './load-report.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const INSIDE = 'BENCH_LOAD_IN_NETNS';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    requests: { type: 'string' },
    concurrency: { type: 'string' },
    workers: { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results') },
  },
  strict: true,
});

const say = (line: string) => process.stderr.write(`[load] ${line}\n`);

/** Re-runs this script under `unshare -n`; undefined when it ran, else why it could not. */
async function inNamespace(): Promise<string | undefined> {
  const probe = spawnSync('unshare', ['-n', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return `no private network namespace (unshare -n: ${probe.error?.message ?? probe.stderr.trim()})`;
  const child = spawn('unshare', ['-n', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    cwd: ROOT, env: { ...process.env, [INSIDE]: '1' }, stdio: 'inherit',
  });
  const code = await new Promise<number | null>((r) => child.on('close', r));
  process.exit(code ?? 1);
}

async function measure(server: LoadServer, requests: number, concurrency: readonly number[]): Promise<LoadResult> {
  try {
    return await runLoad({ url: server.url, suite: 'rsa-2048', concurrency, requests, challenge: LOAD_CHALLENGE, pid: server.pid, label: server.label, progress: progressWriter() });
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  let skipped: string | undefined;
  if (process.env[INSIDE]) {
    const lo = spawnSync('ip', ['link', 'set', 'lo', 'up'], { encoding: 'utf8' });
    if (lo.status !== 0) throw new Error(`ip link set lo up: ${lo.stderr.trim()}`);
  } else {
    skipped = await inNamespace(); // returns only when no namespace could be made
    say(`${skipped}: running pqscep alone on loopback`);
  }
  if (!skipped && !hasScepserver()) skipped = 'scepserver not found: install the Debian package `scep` (micromdm scepserver 2.1.0) to compare';
  const quick = flags.quick;
  const requests = Number(flags.requests ?? (quick ? 20 : 1000));
  const concurrency = (flags.concurrency ?? (quick ? '1,4' : '1,4,16')).split(',').map(Number);
  if (!Number.isInteger(requests) || requests < 1 || concurrency.some((c) => !Number.isInteger(c) || c < 1)) throw new RangeError('--requests and --concurrency take positive integers');
  const workers = flags.workers ? Number(flags.workers) : undefined;
  say(`RSA-2048 suite, ${requests} requests per level, concurrency ${concurrency.join(',')}${skipped ? `; scepserver skipped: ${skipped}` : ''}`);

  const loadStart = loadavg()[0];
  const pqscep = await measure(await startPqscep(18080, workers), requests, concurrency);
  let scepserver: LoadResult | undefined;
  let version: string | undefined;
  if (!skipped) {
    const s = await startScepserver(18090);
    version = s.version;
    scepserver = await measure(s, requests, concurrency);
  }
  const bench: LoadBench = {
    version: 1, date: new Date().toISOString(), quick, requests, concurrency, ...(workers && { workers }), loadAverage: { start: loadStart, end: loadavg()[0] },
    servers: { pqscep, ...(scepserver && { scepserver }) },
    versions: { pqscep: `pqscep ${process.env.npm_package_version ?? ''} on Node ${process.version} (OpenSSL ${process.versions.openssl})${workers ? `, --workers ${workers}` : ''}`.replace('  ', ' '), ...(version && { scepserver: version }) },
    ...(skipped && { skipped }),
  };
  const files = writeLoadReport(bench, flags.out);
  for (const t of targets(bench)) say(`${t.met === undefined ? 'n/a ' : t.met ? 'MET ' : 'MISS'} ${t.name}: ${t.measured} (wanted ${t.want})`);
  say(`wrote ${files.join(', ')}`);
  process.stdout.write(loadMarkdown(bench));
}

await main();
