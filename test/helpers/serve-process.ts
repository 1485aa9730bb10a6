/**
 * Fixtures for tests that need a real server process (no assertions): spawns
 * `node bin/pqscep.js serve` on a free loopback port with a given data folder, waits for its
 * challenge line, and can read its resident memory (VmRSS from /proc/<pid>/status, Linux) and
 * stop it with SIGTERM or SIGKILL. Used by the reliability tests (fuzzing a running server,
 * killing it mid-enrollment); cli.test.ts keeps its own copy for its output assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BIN, ROOT, baseEnv, freePort } from './cli.ts';

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** SCEP URL, e.g. http://127.0.0.1:PORT/scep */
  readonly url: string;
  readonly port: number;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (unless it already exited) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `pqscep serve --port <free> --data <dataDir> --no-admin --log-level warn ...args`.
 * `port` reuses a port across restarts (clients keep their URL). Rejects (after killing the
 * child) if the server exits early or prints no challenge line within `timeoutMs`.
 */
export async function serveProcess(dataDir: string, args: readonly string[] = [], opts: { port?: number; timeoutMs?: number; logLevel?: string } = {}): Promise<ServeProcess> {
  const port = opts.port ?? (await freePort());
  const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port), '--data', dataDir, '--no-admin', '--log-level', opts.logLevel ?? 'warn', ...args], {
    cwd: ROOT, env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  // Keep only the tail of stderr: the fuzz run makes the server warn about every rejected request.
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-64 * 1024)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  while (!/^challenge password: .*$/m.test(out)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`pqscep serve exited early:\n${out}\n${err}`);
    if (Date.now() > deadline) {
      await stop('SIGKILL');
      throw new Error(`pqscep serve did not start:\n${out}\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { child, pid: child.pid!, url: `http://127.0.0.1:${port}/scep`, port, stdout: () => out, stderr: () => err, exited, stop };
}

/** Resident set size of process `pid` in bytes (VmRSS in /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}
