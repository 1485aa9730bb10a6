/**
 * Plain-text tables for `fleet status` and `fleet dry-run`: columns padded to their widest
 * cell, two spaces apart, no trailing blanks. Leaves out: wrapping, colour, terminal width.
 * @module
 */

/** Rows of cells (the first row is usually the header) as lines indented by `indent`. */
export function table(rows: readonly (readonly string[])[], indent = '  '): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd());
}

/** A count map as table rows, largest first, then by name. */
export const countRows = (counts: Readonly<Record<string, number>>): string[][] =>
  Object.entries(counts).sort(([a, x], [b, y]) => y - x || a.localeCompare(b)).map(([name, n]) => [name, String(n)]);

/** ISO 8601 of a date, or of its JSON form (a value that crossed the admin API). */
export const iso = (d: Date | string): string => new Date(d).toISOString();

/** 'YYYY-MM-DD' (UTC) of a date or its JSON form. */
export const day = (d: Date | string): string => iso(d).slice(0, 10);
