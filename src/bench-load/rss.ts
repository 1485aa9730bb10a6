/**
 * Peak resident memory of a server process and everything it started (cluster workers, child
 * processes; threads are part of their process), from Linux /proc: every `interval` ms the
 * VmRSS of the process tree is summed, and the peak kept. VmHWM of each process is read as
 * well; for one process it is the kernel's exact peak, for a tree the sampled sum is the figure
 * (peaks of different processes need not coincide).
 * Leaves out: other operating systems (no /proc: the figure is undefined), shared pages
 * counted once (RSS sums count shared library pages per process, so the sum is an upper bound).
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';

const kib = (status: string, field: string): number | undefined => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) : undefined;
};

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** `pid` and its descendants, from /proc/<pid>/task/<tid>/children. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${all[i]}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      const children = read(`/proc/${all[i]}/task/${tid}/children`)?.trim();
      if (children) for (const c of children.split(/\s+/)) if (!all.includes(Number(c))) all.push(Number(c));
    }
  }
  return all;
}

export interface MemorySample {
  /** Sum of VmRSS over the tree, MiB. */
  readonly rssMiB: number;
  /** Sum of VmHWM over the tree, MiB. */
  readonly hwmMiB: number;
  readonly processes: number;
}

export function sampleTree(pid: number): MemorySample | undefined {
  let rss = 0;
  let hwm = 0;
  let processes = 0;
  for (const p of processTree(pid)) {
    const status = read(`/proc/${p}/status`);
    if (!status) continue;
    rss += kib(status, 'VmRSS') ?? 0;
    hwm += kib(status, 'VmHWM') ?? 0;
    processes++;
  }
  return processes ? { rssMiB: Math.round(rss / 102.4) / 10, hwmMiB: Math.round(hwm / 102.4) / 10, processes } : undefined;
}

/** Samples the tree of `pid` until stop(); stop() returns the peak summed RSS seen (MiB). */
export function watchPeakRss(pid: number, intervalMs = 50): { stop(): MemorySample | undefined } {
  let peak: MemorySample | undefined;
  const tick = () => {
    const s = sampleTree(pid);
    if (s && (!peak || s.rssMiB > peak.rssMiB)) peak = { ...s, hwmMiB: Math.max(s.hwmMiB, peak?.hwmMiB ?? 0) };
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      tick();
      return peak;
    },
  };
}
