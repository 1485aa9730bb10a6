/**
 * Fixtures for tests that need a real server process (no assertions): spawns
 * `node bin/pqscep.js serve` on a free loopback port with a given data folder, waits for its
 * start-up lines, and can read its resident memory (VmRSS from /proc/<pid>/status, Linux) and
 * stop it with SIGTERM or SIGKILL. Used by the reliability tests (fuzzing a running server,
 * killing it mid-enrollment).
 */
import { readFileSync } from 'node:fs';
import { baseEnv, freePort, spawnServe, stopServe, type ServeProcess as Served } from './cli.ts';

export interface ServeProcess extends Served {
  readonly pid: number;
  readonly port: number;
  /** Sends `signal` (unless it already exited) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `pqscep serve --port <free> --data <dataDir> --no-admin --log-level warn ...args`
 * (spawnServe in cli.ts). `port` reuses a port across restarts (clients keep their URL).
 */
export async function serveProcess(dataDir: string, args: readonly string[] = [], opts: { port?: number; timeoutMs?: number; logLevel?: string } = {}): Promise<ServeProcess> {
  const port = opts.port ?? (await freePort());
  const served = await spawnServe(['--port', String(port), '--data', dataDir, '--no-admin', '--log-level', opts.logLevel ?? 'warn', ...args], baseEnv(),
    { timeoutMs: opts.timeoutMs ?? 30_000, stderrTail: 64 * 1024 });
  return { ...served, pid: served.child.pid!, port, stop: (signal) => stopServe(served, signal) };
}

/** Resident set size of process `pid` in bytes (VmRSS in /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}
