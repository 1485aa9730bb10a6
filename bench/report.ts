/**
 * The benchmark's result document and its renderings: bench/results/<timestamp>.json and
 * latest.json (everything measured), latest.md (tables: sizes with their split and structure
 * share, throughput per suite and backend against the crypto-bound limit, native/noble ratio,
 * the issue's targets, the machine), and the SVG charts sizes.svg and throughput.svg.
 * Leaves out: measuring (sizes.ts, primitives.ts, throughput.ts) and judging beyond the
 * issue's stated targets.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Anatomy } from './anatomy.ts';
import { sizesChart, throughputChart } from './charts.ts';
import type { EnrollmentOps } from './operations.ts';
import type { PrimitiveResult } from './primitives.ts';
import type { SuiteSizes } from './sizes.ts';
import { HEADLINE_SUITE, type Suite } from './suites.ts';
import type { Throughput } from './throughput.ts';

export type Phase = 'clientBuild' | 'server' | 'clientOpen';
export const PHASES: readonly Phase[] = ['clientBuild', 'server', 'clientOpen'];

export interface SuiteRun {
  readonly throughput: Throughput;
  /** Crypto-bound rate per phase (per second): 1 / Σ primitive costs (wall clock). */
  readonly limits: Readonly<Record<Phase, number>>;
  /** The same from the primitives' CPU time. */
  readonly limitsCpu: Readonly<Record<Phase, number>>;
  /** Measured rate / limit, percent. */
  readonly pctOfLimit: Readonly<Record<Phase, number>>;
  /**
   * CPU time against CPU time: (1000 / server CPU ms) / limitsCpu. Robust to other processes on
   * the machine; excludes I/O waits (fsync), includes GC and helper threads.
   */
  readonly pctOfLimitCpu: Readonly<Record<Phase, number>>;
  /** 95% margin of pctOfLimit, in points: the primitives' and the phase timing's relative margins in quadrature (absent in older results). */
  readonly pctOfLimitMargin?: Readonly<Record<Phase, number>>;
}

export interface Runtime {
  readonly node: string;
  readonly openssl: string;
  /** Backend per post-quantum family as the process used it. */
  readonly pq: Readonly<Record<string, string>>;
}

export interface BackendRun {
  readonly backend: 'noble' | 'native';
  readonly runtime: Runtime;
  readonly primitives: readonly PrimitiveResult[];
  readonly suites: Readonly<Record<string, SuiteRun>>;
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  /** 1-minute load average at start and end: other work on the machine skews every timing. */
  readonly loadAverage: { readonly start: number; readonly end: number };
}

export interface BenchResult {
  readonly version: 1;
  readonly date: string;
  readonly quick: boolean;
  readonly durationSec: number;
  readonly machine: Machine;
  readonly suites: readonly Suite[];
  readonly sizes: Readonly<Record<string, SuiteSizes>>;
  readonly ops: Readonly<Record<string, EnrollmentOps>>;
  /** Where the servers' data folders (SQLite store, fsync on commit) lived. */
  readonly dataDir: string;
  /**
   * noble: this Node; native: the reference runtime; nobleReference: noble in the reference
   * runtime for the headline suite, a control separating the backend from the Node version.
   */
  readonly backends: { readonly noble?: BackendRun; readonly native?: BackendRun; readonly nobleReference?: BackendRun };
  /** Why native figures are missing, when they are. */
  readonly nativeSkipped?: string;
}

// ---- targets (from the benchmark issue) ----

export interface TargetCheck {
  readonly target: string;
  readonly subject: string;
  readonly value: string;
  readonly met: boolean | null;
}

export const TARGET_PCT_OF_LIMIT = 80;
export const TARGET_NATIVE_RATIO = 5;
export const TARGET_OVERHEAD_PCT = 15;

export function targets(r: BenchResult): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const s of r.suites.filter((x) => x.pq)) {
    for (const run of [r.backends.noble, r.backends.native]) {
      const sr = run?.suites[s.name];
      if (!run || !sr) continue;
      out.push({ target: `server ≥ ${TARGET_PCT_OF_LIMIT}% of crypto-bound limit`, subject: `${s.name} (${run.backend})`, value: `${sr.pctOfLimit.server}%${margin(sr, 'server')}`, met: sr.pctOfLimit.server >= TARGET_PCT_OF_LIMIT });
    }
  }
  const noble = r.backends.noble?.suites[HEADLINE_SUITE];
  const native = r.backends.native?.suites[HEADLINE_SUITE];
  out.push({
    target: `native ≥ ${TARGET_NATIVE_RATIO}x noble (server enrollments/s)`, subject: HEADLINE_SUITE,
    value: noble && native ? ratio(native, noble) : 'not measured',
    met: noble && native ? native.throughput.server.perSec / noble.throughput.server.perSec >= TARGET_NATIVE_RATIO : null,
  });
  for (const s of r.suites.filter((x) => x.pq)) {
    const z = r.sizes[s.name];
    if (!z) continue;
    for (const m of ['pkcsReq', 'certRep'] as const) {
      out.push({ target: `${m === 'pkcsReq' ? 'PKCSReq' : 'CertRep'} structure ≤ ${TARGET_OVERHEAD_PCT}%`, subject: s.name, value: `${z[m].overheadPct}%`, met: z[m].overheadPct <= TARGET_OVERHEAD_PCT });
    }
  }
  return out;
}

/** `a`'s server rate over `b`'s, with its 95% margin when both timings have one (their relative margins in quadrature). */
function ratio(a: SuiteRun, b: SuiteRun): string {
  const x = a.throughput.server.perSec / b.throughput.server.perSec;
  const ea = a.throughput.server.rme;
  const eb = b.throughput.server.rme;
  return `${x.toFixed(1)}x${ea !== undefined && eb !== undefined ? ` ± ${((x * Math.hypot(ea, eb)) / 100).toFixed(1)}` : ''}`;
}

/** ` ± m` (the 95% margin of a % of limit, points), or nothing for results from before it was kept. */
const margin = (sr: SuiteRun, phase: Phase): string => (sr.pctOfLimitMargin ? ` ± ${sr.pctOfLimitMargin[phase].toFixed(sr.pctOfLimitMargin[phase] < 1 ? 1 : 0)}` : '');

// ---- markdown ----

const n = (x: number) => x.toLocaleString('en-US');
const rate = (x: number | undefined) => (x === undefined ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const table = (head: readonly string[], rows: readonly (readonly string[])[]) =>
  [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const split = (a: Anatomy) => [n(a.total), n(a.signatures), n(a.publicKeys), n(a.kemCiphertexts), n(a.wrappedKeys), n(a.structure), `${a.overheadPct}%`];

function runtimeLine(run: BackendRun): string {
  const pq = Object.entries(run.runtime.pq).map(([f, b]) => `${f} ${b}`).join(', ');
  return `**${run.backend}**: Node ${run.runtime.node}, OpenSSL ${run.runtime.openssl} (${pq})`;
}

export function markdown(r: BenchResult): string {
  const out: string[] = [];
  const runs = [r.backends.noble, r.backends.native].filter((x): x is BackendRun => x !== undefined);
  const allRuns = [...runs, ...(r.backends.nobleReference ? [r.backends.nobleReference] : [])];
  const label = (name: string) => r.suites.find((s) => s.name === name)?.label ?? name;
  out.push(`# pqscep benchmark${r.quick ? ' (quick)' : ''}`, '');
  out.push(`${r.date}, ${r.durationSec.toFixed(0)} s. Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.os}; load average ${r.machine.loadAverage.start.toFixed(2)} at start, ${r.machine.loadAverage.end.toFixed(2)} at end.`, '');
  for (const run of allRuns) out.push(`- ${runtimeLine(run)}${run === r.backends.nobleReference ? ' — control: noble in the reference runtime, headline suite only' : ''}`);
  if (r.nativeSkipped) out.push(`- **native**: not measured (${r.nativeSkipped})`);
  out.push('', `Produced by \`npm run bench\` (bench/run.ts); figures, not assertions. Throughput is in-process and sequential on one core; HTTP load is measured elsewhere. Server data folders (SQLite, fsync on every commit) under \`${r.dataDir}\`.`, '');

  out.push('## Targets', '');
  out.push(table(['target', 'suite', 'measured', 'met'], targets(r).map((t) => [t.target, t.subject, t.value, t.met === null ? '–' : t.met ? 'yes' : '**no**'])), '');

  out.push('## Sizes (bytes)', '');
  out.push('One real enrollment per suite through HTTP (pqscep client and server). GET URL: the PKCSReq as `?operation=PKIOperation&message=<base64>` on `https://scep.example.com/scep`.', '');
  out.push(table(['suite', 'GetCACert', 'PKCSReq', 'GET URL', 'CertRep', 'issued cert', 'CA cert', 'CRL'], r.suites.filter((s) => r.sizes[s.name]).map((s) => {
    const z = r.sizes[s.name];
    return [s.label, n(z.getCaCert.total), n(z.pkcsReq.total), n(z.getUrl.url), n(z.certRep.total), n(z.certificate.total), n(z.caCertificate.total), n(z.crl.total)];
  })), '');
  out.push('### PKCSReq and CertRep: crypto material vs structure', '');
  out.push('Material: signature values, public keys, KEM ciphertexts, wrapped content-encryption keys (also inside the encrypted CSR / certificate). Structure: everything else (CMS and X.509 framing, names, extensions, attributes, nonces, digests, IVs, padding).', '');
  out.push(table(['suite', 'message', 'total', 'signatures', 'public keys', 'KEM ct', 'wrapped keys', 'structure', 'structure share'], r.suites.filter((s) => r.sizes[s.name]).flatMap((s) => {
    const z = r.sizes[s.name];
    return [[s.label, 'PKCSReq', ...split(z.pkcsReq)], [s.label, 'CertRep', ...split(z.certRep)]];
  })), '');
  out.push('### Structure share of every message', '');
  out.push(table(['suite', 'GetCACert', 'PKCSReq', 'CertRep', 'issued cert', 'CA cert', 'CRL'], r.suites.filter((s) => r.sizes[s.name]).map((s) => {
    const z = r.sizes[s.name];
    return [s.label, ...[z.getCaCert, z.pkcsReq, z.certRep, z.certificate, z.caCertificate, z.crl].map((a) => `${a.overheadPct}%`)];
  })), '');

  out.push('## Throughput (in-process, per second, one core)', '');
  out.push('client build = CSR, signer and reply certificates, envelope, SignerInfo; server = `pkiOperation` end to end (decode, verify, decrypt, policy, issue, SQLite store, reply); client open = verify and decrypt the CertRep. Limit = 1 / Σ primitive costs of the phase (primitives below). Rates are 1000 / mean wall-clock ms; ± is the 95% margin of the % of limit, from the primitives\' and the server timing\'s spread (ML-DSA signing repeats a random number of rounds, so its cost varies from call to call), not from what moves both alike (other load on the machine, CPU clock); \"by CPU time\" compares the process CPU time per request with the primitives\' CPU time instead (robust to other processes on the machine; excludes fsync waits; includes GC and helper threads).', '');
  const rows: string[][] = [];
  for (const s of r.suites) {
    for (const run of allRuns) {
      const sr = run.suites[s.name];
      if (!sr) continue;
      const t = sr.throughput;
      rows.push([
        s.label, run === r.backends.nobleReference ? `noble (Node ${run.runtime.node})` : run.backend, String(t.n), rate(t.clientBuild.perSec), rate(t.server.perSec), rate(sr.limits.server),
        `**${sr.pctOfLimit.server}%**${margin(sr, 'server')}`, t.server.medianMs.toFixed(2), t.server.cpuMs.toFixed(2), `${sr.pctOfLimitCpu.server}%`, rate(t.clientOpen.perSec), `${sr.pctOfLimit.clientBuild}% / ${sr.pctOfLimit.clientOpen}%`,
      ]);
    }
  }
  out.push(table(['suite', 'backend', 'N', 'client build/s', 'server/s', 'server limit/s', 'server % of limit', 'server median ms', 'server CPU ms', 'server % of limit by CPU time', 'client open/s', 'client build / open % of limit'], rows), '');

  if (r.backends.noble && r.backends.native) {
    const noble = r.backends.noble;
    const native = r.backends.native;
    out.push('### Native vs noble', '');
    const control = r.backends.nobleReference;
    out.push(`Server enrollments/s. Crypto-limit ratio: the same ratio for 1 / Σ primitive costs.${control ? ` Control: noble on Node ${control.runtime.node}, so the backend is compared on one runtime too.` : ''}`, '');
    out.push(table(['suite', 'noble server/s', 'native server/s', 'ratio', 'crypto-limit ratio', ...(control ? [`noble on Node ${control.runtime.node}`, 'native / that'] : [])], r.suites.filter((s) => noble.suites[s.name] && native.suites[s.name]).map((s) => {
      const a = noble.suites[s.name];
      const b = native.suites[s.name];
      const c = control?.suites[s.name];
      return [
        label(s.name), rate(a.throughput.server.perSec), rate(b.throughput.server.perSec), ratio(b, a), `${(b.limits.server / a.limits.server).toFixed(1)}x`,
        ...(control ? (c ? [rate(c.throughput.server.perSec), `${(b.throughput.server.perSec / c.throughput.server.perSec).toFixed(1)}x`] : ['–', '–']) : []),
      ];
    })), '');
  }

  out.push('## Primitives (ms per operation)', '');
  const ids = [...new Set(runs.flatMap((run) => run.primitives.map((p) => p.id)))];
  const byId = runs.map((run) => new Map(run.primitives.map((p) => [p.id, p])));
  const ms = (x: number) => (x < 0.01 ? x.toFixed(4) : x.toFixed(3));
  out.push('Wall-clock mean (benny, ± relative margin of error) and process CPU time per operation. Signatures over 1 KiB; hashes and ciphers at the size shown, scaled linearly to the real input.', '');
  out.push(table(['primitive', ...runs.map((run) => `${run.backend} ms (±%) / CPU ms`), ...(runs.length === 2 ? ['noble/native'] : [])], ids.map((id) => {
    const cells = byId.map((m) => {
      const p = m.get(id);
      return p ? `${ms(p.meanMs)} (±${p.rme.toFixed(0)}) / ${ms(p.cpuMs)}` : '–';
    });
    const [a, b] = byId.map((m) => m.get(id));
    return [id, ...cells, ...(runs.length === 2 ? [a && b ? `${(a.meanMs / b.meanMs).toFixed(1)}x` : '–'] : [])];
  })), '');
  return out.join('\n');
}

// ---- files ----

export interface Written {
  readonly json: string;
  readonly latest: string;
  readonly markdown: string;
  readonly charts: readonly string[];
}

export function writeReport(r: BenchResult, dir: string): Written {
  mkdirSync(dir, { recursive: true });
  const stamp = r.date.replace(/[:.]/g, '-');
  const json = `${JSON.stringify(r, null, 2)}\n`;
  const files = { json: join(dir, `${stamp}.json`), latest: join(dir, 'latest.json'), markdown: join(dir, 'latest.md') };
  writeFileSync(files.json, json);
  writeFileSync(files.latest, json);
  writeFileSync(files.markdown, `${markdown(r)}\n`);
  const sizeRows = r.suites.filter((s) => r.sizes[s.name]).map((s) => ({ label: s.label, pkcsReq: r.sizes[s.name].pkcsReq, certRep: r.sizes[s.name].certRep }));
  const runs = [r.backends.noble, r.backends.native].filter((x): x is BackendRun => x !== undefined);
  const tpRows = r.suites
    .map((s) => ({ label: s.label, bars: runs.filter((run) => run.suites[s.name]).map((run) => ({ backend: run.backend, perSec: run.suites[s.name].throughput.server.perSec, limit: run.suites[s.name].limits.server })) }))
    .filter((row) => row.bars.length);
  const subtitle = runs.map((run) => `${run.backend}: Node ${run.runtime.node}`).join('; ') + `; ${r.machine.cpu}`;
  const charts = [join(dir, 'sizes.svg'), join(dir, 'throughput.svg')];
  if (sizeRows.length) writeFileSync(charts[0], sizesChart(sizeRows));
  if (tpRows.length) writeFileSync(charts[1], throughputChart(tpRows, subtitle));
  return { ...files, charts };
}
