/** The README's algorithm table is generated from the registry and must match it (`npm run docs:algorithms`). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALGORITHMS } from '../algorithms/index.ts';
import { algorithmTable, withAlgorithmTable } from '../src/cli/algorithms.ts';

describe('README algorithm table', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it('is the one the registry generates (run npm run docs:algorithms after adding an algorithm)', () => {
    expect(withAlgorithmTable(readme)).toBe(readme);
  });

  it('has one row per registered algorithm', () => {
    const rows = algorithmTable().split('\n').slice(2);
    expect(rows).toHaveLength(ALGORITHMS.length);
    for (const a of ALGORITHMS) expect(rows.some((r) => r.includes(`| ${a.name} |`)), a.name).toBe(true);
  });
});
