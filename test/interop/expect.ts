/**
 * Assertions shared by the interop tests (no tests here): a client's exit code with its own
 * output on failure, and "the issued certificate verifies with `openssl verify` against the
 * server's CA and carries the client's key".
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import type { TestServer } from '../helpers/server.ts';
import type { RunResult } from './clients.ts';

const exec = promisify(execFile);

export async function openssl(...args: string[]): Promise<string> {
  return (await exec('openssl', args, { encoding: 'utf8' })).stdout;
}

/** Fails with the client's own output, so a red test says what the client printed. */
export function expectExit(r: RunResult, code: number): void {
  expect(r.timedOut, `timed out: ${r.command.join(' ')}`).toBe(false);
  expect(r.code, `${r.command.join(' ')}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(code);
}

/** `openssl verify` against the server's CA (data/ca.pem), and the certificate's key equals `keyPath`'s. */
export async function expectIssuedTo(server: TestServer, certPath: string, keyPath: string): Promise<void> {
  expect((await openssl('verify', '-CAfile', join(server.dataDir, 'ca.pem'), certPath)).trim()).toBe(`${certPath}: OK`);
  const certKey = await openssl('x509', '-pubkey', '-noout', '-in', certPath);
  expect(certKey).toContain('-----BEGIN PUBLIC KEY-----');
  expect(certKey).toBe(await openssl('pkey', '-pubout', '-in', keyPath));
}
