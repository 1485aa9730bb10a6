/**
 * Fixtures for tests that run the `pqscep` command as a user would: the bin path, an environment
 * without PQSCEP_* settings, a runner that never rejects, a free port, a `pqscep serve` in the
 * background, and cliOk/cliFails, which assert the exit code and the one-line error form.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'pqscep.js');

/** The caller's environment without PQSCEP_* settings, so only what a test sets applies. */
export const baseEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PQSCEP_')));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `pqscep ...args` to completion; never rejects on a non-zero exit. Killed (SIGTERM) after
 * `timeoutMs`, so a `serve` that should have refused to start cannot hang the run.
 */
export function pqscep(args: string[], env: NodeJS.ProcessEnv = baseEnv(), timeoutMs = 45_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Runs `pqscep ...args`, expecting exit 0; returns stdout. */
export async function cliOk(args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await pqscep(args, env);
  expect(r.code, `pqscep ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Runs `pqscep ...args`, expecting exit 1 with exactly one `pqscep: <reason>` line and no stack; returns the reason. */
export async function cliFails(args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await pqscep(args, env);
  expect(r.code, `pqscep ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(1);
  expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  expect(r.stderr).toMatch(/^pqscep: \S/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return r.stderr.slice('pqscep: '.length).trim();
}

export interface ServeProcess {
  readonly child: ChildProcess;
  /** The SCEP URL it printed (`listening on ...`). */
  readonly url: string;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Spawns `pqscep serve ...args`; resolves after its last start-up line (`store: ...`), or kills
 * it and rejects if it exits or stays silent for `timeoutMs`. `stderrTail` keeps only that many
 * characters of stderr (a fuzzed server warns about every rejected request).
 */
export async function spawnServe(args: readonly string[], env: NodeJS.ProcessEnv = baseEnv(), o: { timeoutMs?: number; stderrTail?: number } = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = o.stderrTail === undefined ? err + d : (err + d).slice(-o.stderrTail)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  while (!/^store: /m.test(out)) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`pqscep serve did not start:\n${out}\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /^listening on (\S+)$/m.exec(out)![1];
  return { child, url, stdout: () => out, stderr: () => err, exited };
}

/** Sends `signal` unless it has exited, and waits for the exit. */
export async function stopServe(s: ServeProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill(signal);
  return s.exited;
}
