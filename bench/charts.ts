/**
 * Two hand-written SVG bar charts for the README (no charting dependency):
 *  - sizes: per suite, PKCSReq and CertRep as stacked bars of signatures, public keys, KEM
 *    ciphertexts, wrapped keys and structure (linear scale);
 *  - throughput: per suite, server enrollments/s of each backend on a log scale, with the
 *    crypto-bound limit marked on each bar.
 * Leaves out: interactivity, fonts beyond the generic sans-serif, responsive layout.
 * @module
 */
import type { Anatomy } from './anatomy.ts';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const text = (x: number, y: number, s: string, attrs = '') => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attrs ? ` ${attrs}` : ''}>${esc(s)}</text>`;
const rect = (x: number, y: number, w: number, h: number, fill: string, title?: string) =>
  `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(0, w).toFixed(1)}" height="${h}" fill="${fill}">${title ? `<title>${esc(title)}</title>` : ''}</rect>`;
const svg = (width: number, height: number, body: string[]) =>
  [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
const kb = (n: number) => (n >= 10240 ? `${(n / 1024).toFixed(0)} KiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

const PARTS = [
  ['signatures', 'signatures', '#4e79a7'],
  ['publicKeys', 'public keys', '#f28e2b'],
  ['kemCiphertexts', 'KEM ciphertexts', '#59a14f'],
  ['wrappedKeys', 'wrapped keys', '#e15759'],
  ['structure', 'CMS / X.509 structure', '#bab0ac'],
] as const;

export interface SizeRow {
  readonly label: string;
  readonly pkcsReq: Anatomy;
  readonly certRep: Anatomy;
}

export function sizesChart(rows: readonly SizeRow[]): string {
  const left = 290;
  const width = 1000;
  const plot = 540;
  const bar = 13;
  const top = 56;
  const rowHeight = 2 * bar + 14;
  const max = Math.max(...rows.flatMap((r) => [r.pkcsReq.total, r.certRep.total]));
  const body: string[] = [text(10, 20, 'pqscep: PKCSReq and CertRep size per suite (bytes), by content', 'font-size="14" font-weight="bold"')];
  PARTS.forEach(([, name, color], i) => body.push(rect(10 + i * 170, 32, 10, 10, color), text(24 + i * 170, 41, name)));
  rows.forEach((r, i) => {
    const y = top + i * rowHeight;
    body.push(text(10, y + bar + 4, r.label, 'font-weight="bold"'));
    (['pkcsReq', 'certRep'] as const).forEach((m, j) => {
      const a = r[m];
      const by = y + j * (bar + 2);
      let x = left;
      body.push(text(left - 6, by + bar - 3, m === 'pkcsReq' ? 'PKCSReq' : 'CertRep', 'text-anchor="end" fill="#555"'));
      for (const [key, name, color] of PARTS) {
        const w = (a[key] / max) * plot;
        body.push(rect(x, by, w, bar, color, `${r.label} ${m}: ${name} ${a[key]} B`));
        x += w;
      }
      body.push(text(x + 6, by + bar - 3, `${kb(a.total)} · ${a.overheadPct}% structure`));
    });
  });
  return svg(width, top + rows.length * rowHeight + 10, body);
}

export interface ThroughputRow {
  readonly label: string;
  /** Per backend: server enrollments/s and the crypto-bound limit. */
  readonly bars: readonly { readonly backend: string; readonly perSec: number; readonly limit: number }[];
}

const BACKEND_COLORS: Readonly<Record<string, string>> = { noble: '#4e79a7', native: '#f28e2b' };

export function throughputChart(rows: readonly ThroughputRow[], subtitle: string): string {
  const left = 290;
  const width = 1000;
  const plot = 540;
  const bar = 13;
  const top = 70;
  const values = rows.flatMap((r) => r.bars.flatMap((b) => [b.perSec, b.limit])).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  const xOf = (v: number) => left + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plot;
  const rowHeight = (r: ThroughputRow) => r.bars.length * (bar + 2) + 12;
  const height = top + rows.reduce((a, r) => a + rowHeight(r), 0) + 24;
  const body: string[] = [
    text(10, 20, 'pqscep: in-process enrollments per second, server side (one core, log scale)', 'font-size="14" font-weight="bold"'),
    text(10, 36, subtitle, 'fill="#555"'),
  ];
  Object.entries(BACKEND_COLORS).forEach(([name, color], i) => body.push(rect(10 + i * 120, 46, 10, 10, color), text(24 + i * 120, 55, name)));
  body.push(rect(left, 45, 2, 12, '#000'), text(left + 8, 55, 'crypto-bound limit (1 / Σ primitive costs)'));
  for (let v = lo; v <= hi; v *= 10) {
    const x = xOf(v);
    body.push(`<line x1="${x.toFixed(1)}" y1="${top - 6}" x2="${x.toFixed(1)}" y2="${height - 20}" stroke="#ddd"/>`, text(x, height - 8, String(v), 'text-anchor="middle" fill="#555"'));
  }
  let y = top;
  for (const r of rows) {
    body.push(text(10, y + bar - 2, r.label, 'font-weight="bold"'));
    r.bars.forEach((b, j) => {
      const by = y + j * (bar + 2);
      const color = BACKEND_COLORS[b.backend] ?? '#76b7b2';
      body.push(text(left - 6, by + bar - 3, b.backend, 'text-anchor="end" fill="#555"'));
      body.push(rect(left, by, xOf(b.perSec) - left, bar, color, `${r.label} ${b.backend}: ${b.perSec.toFixed(1)}/s`));
      body.push(rect(xOf(b.limit) - 1, by - 1, 2, bar + 2, '#000', `crypto-bound limit ${b.limit.toFixed(1)}/s`));
      const pct = b.limit > 0 ? ` (${Math.round((100 * b.perSec) / b.limit)}% of limit)` : '';
      body.push(text(Math.max(xOf(b.perSec), xOf(b.limit)) + 6, by + bar - 3, `${b.perSec.toFixed(b.perSec < 10 ? 2 : 0)}/s${pct}`));
    });
    y += rowHeight(r);
  }
  return svg(width, height, body);
}
