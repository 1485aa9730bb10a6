/**
 * `pqscep bench load`, step 3: what one concurrency level amounts to: successful enrollments
 * per second of wall time, latency percentiles (nearest rank), the count of each kind of error
 * and the message sizes.
 * Leaves out: confidence intervals (one run per level; repeat the run to see the spread).
 * @module
 */
import type { Sent, Verdict } from './drive.ts';
import type { MemorySample } from './rss.ts';

export interface LevelResult {
  readonly concurrency: number;
  readonly requests: number;
  /** CertRep SUCCESS that verified and opened to a certificate for our key. */
  readonly ok: number;
  /** Non-200 answers and connection errors. */
  readonly httpErrors: number;
  /** CertRep FAILURE. */
  readonly failures: number;
  readonly pending: number;
  /** 200 answers that were no valid CertRep for the request. */
  readonly invalid: number;
  /** Error detail (failInfo, HTTP status, reason) -> count. */
  readonly errorKinds: Readonly<Record<string, number>>;
  readonly wallSec: number;
  /** ok / wallSec */
  readonly enrollmentsPerSec: number;
  readonly latencyMs: { readonly mean: number; readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
  readonly requestBytes: { readonly mean: number; readonly max: number };
  readonly responseBytes: { readonly mean: number; readonly max: number };
  /** Peak summed RSS of the server's process tree during this level (with --pid). */
  readonly serverPeakRssMiB?: number;
  readonly serverProcesses?: number;
  /** Server CPU time (all threads and processes) per successful enrollment, ms (with --pid). */
  readonly serverCpuMsPerEnrollment?: number;
  /** Server CPU time / wall time: how many cores the server kept busy on average (with --pid). */
  readonly serverCores?: number;
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;

/** Nearest-rank percentile of ascending `sorted`. */
export const percentile = (sorted: readonly number[], q: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] : 0);

export function levelResult(concurrency: number, requestSizes: readonly number[], sent: readonly Sent[], verdicts: readonly { verdict: Verdict; detail?: string }[], wallMs: number, memory?: MemorySample & { readonly cpuSec: number }): LevelResult {
  const count = (v: Verdict) => verdicts.filter((x) => x.verdict === v).length;
  const errorKinds: Record<string, number> = {};
  for (const v of verdicts) if (v.verdict !== 'ok') errorKinds[`${v.verdict}: ${v.detail ?? ''}`] = (errorKinds[`${v.verdict}: ${v.detail ?? ''}`] ?? 0) + 1;
  const ms = sent.map((s) => s.ms).sort((a, b) => a - b);
  const bodies = sent.map((s) => s.body?.length ?? 0);
  const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : 0);
  const ok = count('ok');
  return {
    concurrency, requests: sent.length, ok, httpErrors: count('http'), failures: count('failure'), pending: count('pending'), invalid: count('invalid'), errorKinds,
    wallSec: r2(wallMs / 1000), enrollmentsPerSec: r1((ok * 1000) / wallMs),
    latencyMs: { mean: r1(mean(ms)), p50: r1(percentile(ms, 0.5)), p90: r1(percentile(ms, 0.9)), p99: r1(percentile(ms, 0.99)), max: r1(ms.at(-1) ?? 0) },
    requestBytes: { mean: Math.round(mean(requestSizes)), max: Math.max(0, ...requestSizes) },
    responseBytes: { mean: Math.round(mean(bodies)), max: Math.max(0, ...bodies) },
    ...(memory && {
      serverPeakRssMiB: memory.rssMiB, serverProcesses: memory.processes,
      serverCpuMsPerEnrollment: ok ? r2((memory.cpuSec * 1000) / ok) : undefined, serverCores: r2((memory.cpuSec * 1000) / wallMs),
    }),
  };
}

/** One markdown table row per level. */
export function levelsTable(levels: readonly LevelResult[]): string {
  const head = '| concurrency | requests | enrollments/s | p50 ms | p90 ms | p99 ms | errors (HTTP / FAILURE / other) | request B | response B | server peak RSS MiB | server CPU ms / enrollment | server cores busy |\n|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|';
  const rows = levels.map((l) =>
    `| ${l.concurrency} | ${l.requests} | ${l.enrollmentsPerSec} | ${l.latencyMs.p50} | ${l.latencyMs.p90} | ${l.latencyMs.p99} | ${l.httpErrors} / ${l.failures} / ${l.invalid + l.pending} | ${l.requestBytes.mean} | ${l.responseBytes.mean} | ${l.serverPeakRssMiB ?? '-'} | ${l.serverCpuMsPerEnrollment ?? '-'} | ${l.serverCores ?? '-'} |`);
  return [head, ...rows].join('\n');
}
