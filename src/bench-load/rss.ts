/**
 * Peak resident memory and CPU time of a server process and everything it started (child
 * processes; threads are part of their process), from Linux /proc: every `interval` ms the
 * VmRSS of the process tree is summed, and the peak kept. VmHWM of each process is read as
 * well; for one process it is the kernel's exact peak, for a tree the sampled sum is the figure
 * (peaks of different processes need not coincide). CPU time is utime + stime of
 * /proc/<pid>/stat (all threads), summed over the tree, between start and stop.
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

/** utime + stime of the tree, seconds (clock ticks of 1/100 s, the Linux USER_HZ). */
export function treeCpuSec(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    const stat = read(`/proc/${p}/stat`);
    if (!stat) continue;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(rest[11]) + Number(rest[12]);
  }
  return ticks / 100;
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

/** Samples the tree of `pid` until stop(); stop() returns the peak summed RSS seen (MiB) and the CPU seconds used meanwhile. */
export function watchPeakRss(pid: number, intervalMs = 50): { stop(): (MemorySample & { readonly cpuSec: number }) | undefined } {
  let peak: MemorySample | undefined;
  const cpu0 = treeCpuSec(pid);
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
      return peak && { ...peak, cpuSec: treeCpuSec(pid) - cpu0 };
    },
  };
}
