/**
 * `pqscep bench load`: HTTP end-to-end load against any RFC 8894 server. Discovers the server
 * (prepare.ts), pre-builds `requests` distinct PKCSReqs per concurrency level plus a warm-up,
 * then per level sends them (drive.ts), checks every reply, and sums up (stats.ts), with the
 * server's peak RSS when its pid is given (rss.ts). Progress goes to `progress`, one line per
 * step (redrawn in place on a terminal).
 * Leaves out: printing and files (src/cli/bench.ts), starting servers (bench/load.ts).
 * @module
 */
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { sendAll, judge } from './drive.ts';
import { discover, loadRegistry, prepareRequests, type PreparedRequest } from './prepare.ts';
import { watchPeakRss } from './rss.ts';
import { levelResult, type LevelResult } from './stats.ts';

export interface LoadOptions {
  readonly url: string;
  /** A suite (client key) name: a key type such as rsa-2048 or ml-dsa-65, or slh-dsa-128s. */
  readonly suite: string;
  readonly concurrency: readonly number[];
  readonly requests: number;
  readonly warmup?: number;
  readonly challenge?: string;
  readonly pid?: number;
  /** A label for the server in reports, e.g. "pqscep" or "scepserver 2.1.0". */
  readonly label?: string;
  readonly progress?: (line: string, final: boolean) => void;
}

export interface LoadResult {
  readonly version: 1;
  readonly date: string;
  readonly label: string;
  readonly url: string;
  readonly suite: string;
  readonly keyType: string;
  readonly method: 'POST' | 'GET';
  readonly caps: readonly string[];
  readonly cipher: string;
  readonly warmup: number;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly memoryGiB: number; readonly os: string; readonly node: string; readonly loadAverage: number };
  readonly levels: readonly LevelResult[];
}

const ALIASES: Readonly<Record<string, string>> = { 'slh-dsa-128s': 'slh-dsa-sha2-128s', 'ecdsa-p256': 'ecdsa-p256' };

/** The client key type of a suite name. */
export function suiteKeyType(suite: string): string {
  const name = ALIASES[suite] ?? suite;
  if (!loadRegistry.list('key').some((k) => k.name === name && k.usages.includes('sign')))
    throw new RangeError(`unknown suite ${suite}: use a signing key type (${loadRegistry.list('key').filter((k) => k.usages.includes('sign')).map((k) => k.name).join(', ')})`);
  return name;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const say = o.progress ?? (() => {});
  const keyType = suiteKeyType(o.suite);
  const quantumSafe = loadRegistry.byName('key', keyType).quantumSafe;
  const target = await discover(o.url, quantumSafe);
  const label = o.label ?? o.url;
  say(`${label}: ${target.method} PKIOperation, ${target.cipher}, caps ${target.caps.join(' ')}`, true);
  const warmup = o.warmup ?? Math.min(32, Math.max(2, Math.ceil(o.requests / 10)));
  const total = warmup + o.requests * o.concurrency.length;
  const all = await prepareRequests(target, {
    url: o.url, keyType, challenge: o.challenge, count: total,
    onProgress: (done, n) => say(`${label}: building ${keyType} requests ${done}/${n}`, done === n),
  });
  // Warm-up (JIT, connection setup, the server's caches); its figures are not kept.
  await sendAll(target, all.slice(0, warmup), { concurrency: Math.max(...o.concurrency) });
  const levels: LevelResult[] = [];
  for (const [i, concurrency] of o.concurrency.entries()) {
    const batch: PreparedRequest[] = all.slice(warmup + i * o.requests, warmup + (i + 1) * o.requests);
    const memory = o.pid ? watchPeakRss(o.pid) : undefined;
    const started = performance.now();
    const { sent, wallMs } = await sendAll(target, batch, {
      concurrency,
      onProgress: (done, n) => say(`${label}: concurrency ${concurrency}: ${done}/${n} sent, ${((done * 1000) / Math.max(1, performance.now() - started)).toFixed(0)}/s`, false),
    });
    const peak = memory?.stop();
    const verdicts = [];
    for (const [j, s] of sent.entries()) verdicts.push(await judge(batch[j], s, target));
    const level = levelResult(concurrency, batch.map((p) => p.request.der.length), sent, verdicts, wallMs, peak);
    levels.push(level);
    say(`${label}: concurrency ${concurrency}: ${level.enrollmentsPerSec} enrollments/s, p50 ${level.latencyMs.p50} ms, p99 ${level.latencyMs.p99} ms, ${level.requests - level.ok} errors${peak ? `, server peak RSS ${peak.rssMiB} MiB, ${level.serverCpuMsPerEnrollment} ms CPU per enrollment on ${level.serverCores} cores` : ''}`, true);
  }
  const cpu = cpus();
  return {
    version: 1, date: new Date().toISOString(), label, url: o.url, suite: o.suite, keyType, method: target.method, caps: target.caps, cipher: target.cipher, warmup,
    machine: { cpu: cpu[0]?.model.trim() ?? 'unknown', cores: cpu.length, memoryGiB: Math.round(totalmem() / 2 ** 30), os: `${type()} ${release()}`, node: process.version, loadAverage: loadavg()[0] },
    levels,
  };
}
