/**
 * The ± the benchmark report prints (bench/report.ts) must mean the same for the server timing
 * as for the primitives: a 95% margin of error of the mean, relative, in percent. benny's is
 * benchmark.js's `rme`: Student's t critical value (two-tailed, 95%) for n - 1 degrees of
 * freedom times the standard error (NIST/SEMATECH e-Handbook §1.3.6.7.2, the table benchmark.js
 * copies), which is far above 1.96 for the few samples a slow suite gets (SLH-DSA: N = 2 to 4).
 */
import { describe, expect, it } from 'vitest';
import { relativeMarginPct } from '../bench/throughput.ts';

describe('bench: 95% margin of a mean (as benny gives for the primitives)', () => {
  it('uses the t critical value for few samples: n = 2 → 12.706, n = 5 → 2.776', () => {
    // [1, 3]: mean 2, sd √2, standard error 1 → 12.706 · 1 / 2 = 635.3%
    expect(relativeMarginPct([1, 3])).toBeCloseTo(635.3, 1);
    // [1, 2, 3, 4, 5]: mean 3, sd √2.5, standard error √0.5 → 2.776 · 0.7071 / 3 = 65.43%
    expect(relativeMarginPct([1, 2, 3, 4, 5])).toBeCloseTo(65.43, 1);
  });

  it('tends to 1.96 standard errors for many samples', () => {
    const xs = Array.from({ length: 400 }, (_, i) => 10 + (i % 2)); // mean 10.5, sd ≈ 0.5006
    const sem = Math.sqrt(xs.reduce((a, x) => a + (x - 10.5) ** 2, 0) / 399) / Math.sqrt(400);
    expect(relativeMarginPct(xs)).toBeCloseTo((196 * sem) / 10.5, 1);
  });

  it('is 0 for one sample (no spread to measure)', () => {
    expect(relativeMarginPct([4])).toBe(0);
  });
});
