/**
 * Servers for the HTTP load benchmark (bench/load.ts), each a child process on loopback in the
 * private network namespace the benchmark runs in: pqscep (`pqscep serve`, RSA-2048 CA and RA)
 * and micromdm's `scepserver` (Debian package `scep`, RSA-2048 CA from `scepserver ca -init`).
 * scepserver binds every interface and has no flag to change that, which is why the
 * benchmark never starts it outside a namespace that holds only loopback.
 * Leaves out: measuring (src/bench-load), TLS, other CA key types for scepserver.
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const LOAD_CHALLENGE = 'bench-load-challenge-0123';

export interface LoadServer {
  readonly label: string;
  readonly url: string;
  readonly pid: number;
  readonly version: string;
  stop(): Promise<void>;
}

async function until(ok: () => Promise<boolean>, what: string, child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not answer within ${timeoutMs / 1000} s`);
}

const answers = (url: string) => async () => (await fetch(`${url}?operation=GetCACaps`)).ok;

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * `pqscep serve` with an RSA-2048 CA and RA; `workers` is passed as --workers when given. It logs
 * at its default level (a line per request, as in production), to nowhere, as scepserver does.
 */
export async function startPqscep(port: number, workers?: number): Promise<LoadServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pqscep-load-'));
  const args = [join(ROOT, 'bin', 'pqscep.js'), 'serve', '--port', String(port), '--host', '127.0.0.1', '--data', dir, '--challenge', LOAD_CHALLENGE,
    '--ca-alg', 'rsa-2048', '--ra-alg', 'rsa-2048', '--no-admin', ...(workers ? ['--workers', String(workers)] : [])];
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PQSCEP_')));
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}/scep`;
  await until(answers(url), 'pqscep serve', child);
  return { label: 'pqscep', url, pid: child.pid!, version: `pqscep (Node ${process.version}${workers ? `, --workers ${workers}` : ''})`, stop: stopper(child, dir) };
}

/** True when micromdm's scepserver is on the PATH. */
export const hasScepserver = (): boolean => spawnSync('scepserver', ['-version'], { encoding: 'utf8' }).status === 0;

/** micromdm's scepserver with a fresh RSA-2048 CA. */
export async function startScepserver(port: number): Promise<LoadServer> {
  const dir = mkdtempSync(join(tmpdir(), 'scepserver-load-'));
  const depot = join(dir, 'depot');
  const init = spawnSync('scepserver', ['ca', '-init', '-depot', depot, '-keySize', '2048', '-organization', 'pqscep load bench'], { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`scepserver ca -init failed: ${init.stderr.trim()}`);
  const version = spawnSync('scepserver', ['-version'], { encoding: 'utf8' }).stdout.trim().split('\n')[0] ?? 'unknown';
  const child = spawn('scepserver', ['-depot', depot, '-port', String(port), '-challenge', LOAD_CHALLENGE], { cwd: dir, stdio: ['ignore', 'ignore', 'ignore'] });
  const url = `http://127.0.0.1:${port}/scep`;
  await until(answers(url), 'scepserver', child);
  return { label: 'scepserver', url, pid: child.pid!, version: `micromdm scepserver ${version}`, stop: stopper(child, dir) };
}
