/**
 * The HTTP load benchmark's result document and renderings: bench/results/load-latest.json
 * (both servers' runs, ratios, targets), load-latest.md (tables, the issue's targets met or
 * not, the machine) and load.svg (successful enrollments/s and p99 latency per concurrency,
 * pqscep beside micromdm's scepserver).
 * Leaves out: measuring (src/bench-load), starting servers (load-servers.ts).
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadResult } from '../src/bench-load/run.ts';
import { levelsTable, type LevelResult } from '../src/bench-load/stats.ts';

export interface LoadBench {
  readonly version: 1;
  readonly date: string;
  readonly quick: boolean;
  readonly requests: number;
  readonly concurrency: readonly number[];
  readonly workers?: number;
  /** 1-minute load average of the machine before and after (other work on it shows here). */
  readonly loadAverage: { readonly start: number; readonly end: number };
  readonly servers: { readonly pqscep: LoadResult; readonly scepserver?: LoadResult };
  readonly versions: Readonly<Record<string, string>>;
  /** Why the scepserver run is missing. */
  readonly skipped?: string;
}

export interface Target {
  readonly name: string;
  readonly want: string;
  readonly measured: string;
  readonly met: boolean | undefined;
}

const at = (r: LoadResult | undefined, c: number): LevelResult | undefined => r?.levels.find((l) => l.concurrency === c);
const x = (n: number) => `${n.toFixed(2)}x`;
const MB = (mib: number) => (mib * 2 ** 20) / 1e6;

export function targets(b: LoadBench): Target[] {
  const top = Math.max(...b.concurrency);
  const low = Math.min(...b.concurrency);
  const pq = at(b.servers.pqscep, top);
  const pq1 = at(b.servers.pqscep, low);
  const mm = at(b.servers.scepserver, top);
  const out: Target[] = [];
  if (pq && mm) {
    const ratio = pq.enrollmentsPerSec / Math.max(mm.enrollmentsPerSec, 1e-9);
    out.push({ name: `enrollments/s at concurrency ${top}, pqscep / scepserver`, want: '≥ 2.5x', measured: `${pq.enrollmentsPerSec} / ${mm.enrollmentsPerSec} = ${x(ratio)}`, met: ratio >= 2.5 });
    const p99 = pq.latencyMs.p99 / Math.max(mm.latencyMs.p99, 1e-9);
    out.push({ name: `p99 latency at concurrency ${top}, pqscep / scepserver`, want: '≤ 0.5x', measured: `${pq.latencyMs.p99} ms / ${mm.latencyMs.p99} ms = ${x(p99)}`, met: p99 <= 0.5 });
  } else out.push({ name: 'pqscep / scepserver', want: '≥ 2.5x enrollments/s, ≤ 0.5x p99', measured: `not measured: ${b.skipped ?? 'no scepserver run'}`, met: undefined });
  if (pq) {
    const failed = pq.requests - pq.ok;
    out.push({ name: `pqscep failed requests at concurrency ${top}`, want: '0', measured: `${failed} of ${pq.requests}`, met: failed === 0 });
    if (pq1 && low !== top) {
      const s = pq.enrollmentsPerSec / Math.max(pq1.enrollmentsPerSec, 1e-9);
      out.push({ name: `pqscep enrollments/s, concurrency ${top} / ${low} (both cores)`, want: '≥ 1.6x', measured: `${pq.enrollmentsPerSec} / ${pq1.enrollmentsPerSec} = ${x(s)}`, met: s >= 1.6 });
    }
    if (pq.serverPeakRssMiB !== undefined)
      out.push({ name: `pqscep peak RSS at concurrency ${top} (all processes)`, want: '≤ 200 MB', measured: `${MB(pq.serverPeakRssMiB).toFixed(1)} MB (${pq.serverPeakRssMiB} MiB, ${pq.serverProcesses} processes)`, met: MB(pq.serverPeakRssMiB) <= 200 });
  }
  return out;
}

/**
 * Server CPU time per enrollment side by side: unlike enrollments/s it does not depend on how
 * much of the machine other work left to the servers.
 */
function cpuLine(b: LoadBench): string[] {
  const top = Math.max(...b.concurrency);
  const pq = at(b.servers.pqscep, top)?.serverCpuMsPerEnrollment;
  const mm = at(b.servers.scepserver, top)?.serverCpuMsPerEnrollment;
  if (pq === undefined || mm === undefined) return [];
  return [`Server CPU time per enrollment at concurrency ${top} (all threads): pqscep ${pq} ms, scepserver ${mm} ms (${x(pq / mm)}).`, ''];
}

export function loadMarkdown(b: LoadBench): string {
  const m = b.servers.pqscep.machine;
  const lines = [
    `# pqscep HTTP load benchmark${b.quick ? ' (quick)' : ''}`, '',
    `${b.date}, ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), ${m.os}, Node ${m.node}. RSA-2048 suite (RSA-2048 CA and client keys), ${b.requests} pre-built PKCSReqs per concurrency level, load generator and servers on one machine in a private network namespace (loopback only). Load average ${b.loadAverage.start.toFixed(2)} before, ${b.loadAverage.end.toFixed(2)} after.`, '',
    ...Object.entries(b.versions).map(([k, v]) => `- ${k}: ${v}`), '',
  ];
  for (const [name, r] of Object.entries(b.servers)) {
    if (!r) continue;
    lines.push(`## ${name}`, '', `${r.method} PKIOperation, ${r.cipher}; GetCACaps: ${r.caps.join(' ')}`, '', levelsTable(r.levels), '');
    const kinds = r.levels.flatMap((l) => Object.entries(l.errorKinds).map(([k, n]) => `concurrency ${l.concurrency}: ${n} × ${k}`));
    if (kinds.length) lines.push(`Errors: ${kinds.join('; ')}`, '');
  }
  if (b.skipped) lines.push(`scepserver: skipped (${b.skipped})`, '');
  lines.push('## Targets (issue 5)', '', '| target | wanted | measured | met |', '|---|---|---|---|',
    ...targets(b).map((t) => `| ${t.name} | ${t.want} | ${t.measured} | ${t.met === undefined ? 'not measured' : t.met ? 'yes' : 'no'} |`), '',
    ...cpuLine(b),
    'Reproduce: `npm run bench:load` (as root for the network namespace; `-- --quick` for a smoke run, `-- --requests N --concurrency 1,4,16`).', '');
  return lines.join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS: Readonly<Record<string, string>> = { pqscep: '#f28e2b', scepserver: '#4e79a7' };

/** Two panels of grouped bars: enrollments/s (left) and p99 latency (right) per concurrency. */
export function loadChart(b: LoadBench): string {
  const runs = Object.entries(b.servers).filter((e): e is [string, LoadResult] => e[1] !== undefined);
  const W = 1000, panel = 440, top = 64, bar = 14, group = runs.length * (bar + 2) + 14;
  const H = top + b.concurrency.length * group + 30;
  const body: string[] = [
    `<text x="10" y="20" font-size="14" font-weight="bold">HTTP load, RSA-2048 suite: successful enrollments/s and p99 latency per concurrency</text>`,
    `<text x="10" y="36" fill="#555">${esc(`${b.servers.pqscep.machine.cpu}, ${b.servers.pqscep.machine.cores} cores; ${b.requests} requests per level; ${b.date.slice(0, 10)}`)}</text>`,
  ];
  runs.forEach(([name], i) => body.push(`<rect x="${10 + i * 130}" y="44" width="10" height="10" fill="${COLORS[name] ?? '#999'}"/><text x="${24 + i * 130}" y="53">${esc(name)}</text>`));
  const panels = [['enrollments/s', (l: LevelResult) => l.enrollmentsPerSec], ['p99 latency, ms', (l: LevelResult) => l.latencyMs.p99]] as const;
  panels.forEach(([title, value], p) => {
    const left = 90 + p * (panel + 60);
    const max = Math.max(1, ...runs.flatMap(([, r]) => r.levels.map(value)));
    body.push(`<text x="${left}" y="${top - 4}" font-weight="bold">${title}</text>`);
    b.concurrency.forEach((c, g) => {
      const y = top + 4 + g * group;
      if (p === 0) body.push(`<text x="10" y="${y + bar}">concurrency ${c}</text>`);
      runs.forEach(([name, r], j) => {
        const l = r.levels.find((q) => q.concurrency === c);
        if (!l) return;
        const w = (value(l) / max) * (panel - 90);
        const by = y + j * (bar + 2);
        body.push(`<rect x="${left}" y="${by}" width="${Math.max(0, w).toFixed(1)}" height="${bar}" fill="${COLORS[name] ?? '#999'}"><title>${esc(`${name} c=${c}: ${value(l)}`)}</title></rect>`,
          `<text x="${(left + w + 5).toFixed(1)}" y="${by + bar - 3}">${value(l)}${p === 0 && l.requests !== l.ok ? ` (${l.requests - l.ok} failed)` : ''}</text>`);
      });
    });
  });
  return [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`, `<rect width="${W}" height="${H}" fill="#ffffff"/>`, ...body, '</svg>', ''].join('\n');
}

export function writeLoadReport(b: LoadBench, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files = [join(dir, 'load-latest.json'), join(dir, 'load-latest.md'), join(dir, 'load.svg')];
  writeFileSync(files[0], `${JSON.stringify(b, null, 2)}\n`);
  writeFileSync(files[1], loadMarkdown(b));
  writeFileSync(files[2], loadChart(b));
  return files;
}
