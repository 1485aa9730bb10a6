/**
 * End-to-end enrollments per algorithm suite and per post-quantum backend: `pqscep serve` and
 * `pqscep enroll` as child processes talking real HTTP on loopback, in three pairings:
 *   (a) server and client on this Node (20: @noble/post-quantum),
 *   (b) client in the reference runtime (Node 26, OpenSSL 3.5: native node:crypto) against (a)'s server,
 *   (c) server in the reference runtime (native, node:sqlite store) with this Node's client,
 * so every post-quantum suite runs with each backend producing and the other consuming.
 *
 * Each enrollment is checked outside our code: exit 0, the public key of cert.pem equals the one
 * of key.pem, and the certificate verifies with the server's CA certificate, by node:crypto
 * (X509Certificate) in this Node for classical keys and CA, in the reference runtime (OpenSSL
 * 3.5) as soon as a post-quantum key or CA is involved. One renewal (ML-DSA-65, backend (a)).
 *
 * Leaves out: timing, GET PKIOperation, PENDING/CertPoll, failure paths (see cli.test.ts and
 * the rfc8894-*.test.ts files).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it } from 'vitest';
import { freePort } from './helpers/cli.ts';
import { hasReferenceNode, REFERENCE_NODE, referenceMissingReason } from './helpers/openssl35.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'pqscep.js');
const CHALLENGE = 'e2e-challenge-0123';
const work = mkdtempSync(join(tmpdir(), 'pqscep-e2e-'));

/** Where a pqscep process runs: this Node, or the reference runtime (tsx loaded explicitly). */
type Runtime = 'host' | 'reference';
const COMMAND: Readonly<Record<Runtime, { file: string; args: readonly string[] }>> = {
  host: { file: process.execPath, args: [BIN] },
  reference: { file: REFERENCE_NODE, args: ['--import', 'tsx', BIN] },
};
/** The start-up lines each runtime's server must print (host is Node 20: no native PQ, better-sqlite3). */
const EXPECTED_LINES: Readonly<Record<Runtime, readonly RegExp[]>> = {
  host: [/^post-quantum backend: ml-dsa noble, ml-kem noble, slh-dsa noble \(choice: auto\)$/m, /^store: SQLite \(better-sqlite3\)$/m],
  reference: [/^post-quantum backend: ml-dsa native, ml-kem native, slh-dsa native \(choice: auto\)$/m, /^store: SQLite \(node:sqlite\)$/m],
};

/** This environment without PQSCEP_* settings, so only the flags given here apply. */
const env = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PQSCEP_')));

interface Suite {
  readonly name: string;
  readonly server: readonly string[];
  /** Client --key-alg values enrolled against the same server. */
  readonly clients: readonly string[];
  /** True when the CA signs with a post-quantum algorithm (checked in the reference runtime). */
  readonly pqCa: boolean;
}

const SUITES: readonly Suite[] = [
  { name: 'RSA-2048', server: ['--ca-alg', 'rsa-2048', '--ra-alg', 'rsa-2048'], clients: ['rsa-2048'], pqCa: false },
  { name: 'ECDSA-P256 + ECDH-P256 envelope', server: ['--ca-alg', 'ecdsa-p256', '--ra-alg', 'ecdh-p256'], clients: ['ecdsa-p256'], pqCa: false },
  { name: 'ML-DSA-44 + ML-KEM-512', server: ['--ca-alg', 'ml-dsa-44', '--ra-alg', 'ml-kem-512'], clients: ['ml-dsa-44'], pqCa: true },
  { name: 'ML-DSA-65 + ML-KEM-768 + RSA-2048 (hybrid RA)', server: ['--ca-alg', 'ml-dsa-65', '--ra-alg', 'ml-kem-768', '--ra-alg', 'rsa-2048'], clients: ['ml-dsa-65', 'rsa-2048'], pqCa: true },
  { name: 'ML-DSA-87 + ML-KEM-1024', server: ['--ca-alg', 'ml-dsa-87', '--ra-alg', 'ml-kem-1024'], clients: ['ml-dsa-87'], pqCa: true },
  { name: 'SLH-DSA-SHA2-128s (ML-DSA-65 CA, ML-KEM-768 RA)', server: ['--ca-alg', 'ml-dsa-65', '--ra-alg', 'ml-kem-768'], clients: ['slh-dsa-sha2-128s'], pqCa: true },
];

const isPq = (keyAlg: string) => /^(ml-|slh-)/.test(keyAlg);
/** node:crypto's asymmetricKeyType for a --key-alg. */
const nodeKeyType = (keyAlg: string) => (keyAlg.startsWith('rsa-') ? 'rsa' : keyAlg.startsWith('ecdsa-') ? 'ec' : keyAlg);

// --- processes ---------------------------------------------------------------------------------

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[], timeoutMs = 90_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env: env(), timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const pqscep = (runtime: Runtime, args: readonly string[]) => run(COMMAND[runtime].file, [...COMMAND[runtime].args, ...args]);

interface Served {
  readonly url: string;
  readonly dataDir: string;
  readonly stdout: string;
}

const children: ChildProcess[] = [];

/** Spawns `pqscep serve` and resolves once it printed its last start-up line (the store). */
async function spawnServer(runtime: Runtime, flags: readonly string[], dataDir: string): Promise<Served> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const { file, args } = COMMAND[runtime];
    const child = spawn(file, [...args, 'serve', '--data', dataDir, '--port', String(port), '--challenge', CHALLENGE, '--log-level', 'warn', ...flags],
      { cwd: ROOT, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const deadline = Date.now() + 60_000;
    while (!/^store: .*$/m.test(out)) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (Date.now() > deadline) throw new Error(`pqscep serve (${runtime}) did not start:\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    if (/^store: .*$/m.test(out)) return { url: `http://127.0.0.1:${port}/scep`, dataDir, stdout: out };
    // another process may have taken the port between freePort() and listen: try a new one
    if (attempt >= 3 || !/EADDRINUSE/.test(out + err)) throw new Error(`pqscep serve (${runtime}) exited early:\n${out}\n${err}`);
  }
}

/** One server per suite and runtime, started on first use and shared by the tests that need it. */
const servers = new Map<string, Promise<Served>>();
function server(runtime: Runtime, suite: Suite): Promise<Served> {
  const id = `${runtime}-${SUITES.indexOf(suite)}`;
  let s = servers.get(id);
  if (!s) {
    s = spawnServer(runtime, suite.server, join(work, `server-${id}`));
    servers.set(id, s);
  }
  return s;
}

afterAll(async () => {
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined
    : new Promise((resolve) => { c.once('exit', resolve); c.kill('SIGTERM'); }))));
  rmSync(work, { recursive: true, force: true });
});

// --- independent checks ----------------------------------------------------------------------

/**
 * Runs in this Node or in the reference runtime (OpenSSL 3.5): node:crypto alone parses
 * cert.pem, key.pem and the CA certificate, compares the public keys (SPKI DER) and verifies the
 * certificate's signature with the CA key.
 */
const CHECK = `
const { X509Certificate, createPrivateKey, createPublicKey } = require('node:crypto');
const { readFileSync } = require('node:fs');
const [cert, key, ca] = process.argv.slice(1).map((f) => readFileSync(f));
const c = new X509Certificate(cert);
const a = new X509Certificate(ca);
const spki = (k) => k.export({ type: 'spki', format: 'der' }).toString('base64');
process.stdout.write(JSON.stringify({
  keyMatches: spki(createPublicKey(createPrivateKey(key))) === spki(c.publicKey),
  verifies: c.verify(a.publicKey),
  issuedBy: c.checkIssued(a),
  keyType: c.publicKey.asymmetricKeyType,
  subject: c.subject,
}));
`;

interface Checked {
  readonly keyMatches: boolean;
  readonly verifies: boolean;
  readonly issuedBy: boolean;
  readonly keyType: string;
  readonly subject: string;
}

async function check(runtime: Runtime, dir: string, caPem: string): Promise<Checked> {
  const r = await run(COMMAND[runtime].file, ['-e', CHECK, join(dir, 'cert.pem'), join(dir, 'key.pem'), caPem], 30_000);
  if (r.code !== 0) throw new Error(`certificate check in ${runtime} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Checked;
}

/** Where the checks run: this Node only when neither the key nor the CA is post-quantum. */
const checkRuntime = (suite: Suite, keyAlg: string): Runtime | undefined =>
  !suite.pqCa && !isPq(keyAlg) ? 'host' : hasReferenceNode ? 'reference' : undefined;

// --- the cases -------------------------------------------------------------------------------

interface Backend {
  readonly id: 'a' | 'b' | 'c';
  readonly title: string;
  readonly server: Runtime;
  readonly client: Runtime;
}

const BACKENDS: readonly Backend[] = [
  { id: 'a', title: `(a) server and client on Node ${process.versions.node} (noble)`, server: 'host', client: 'host' },
  { id: 'b', title: `(b) client in the reference Node (native) against a Node ${process.versions.node} server`, server: 'host', client: 'reference' },
  { id: 'c', title: `(c) server in the reference Node (native, node:sqlite) with the Node ${process.versions.node} client`, server: 'reference', client: 'host' },
];

interface Enrolled extends Run {
  readonly out: string;
  readonly served: Served;
}

/** Enrollments are memoized so the renewal test can reuse one. */
const enrollments = new Map<string, Promise<Enrolled>>();
function enrolled(backend: Backend, suite: Suite, keyAlg: string): Promise<Enrolled> {
  const id = `${backend.id}-${SUITES.indexOf(suite)}-${keyAlg}`;
  let e = enrollments.get(id);
  if (!e) {
    e = (async () => {
      const served = await server(backend.server, suite);
      const out = join(work, `client-${id}`);
      mkdirSync(out, { recursive: true });
      const r = await pqscep(backend.client, ['enroll', '--url', served.url, '--challenge', CHALLENGE,
        '--subject', `CN=e2e-${id},O=pqscep`, '--key-alg', keyAlg, '--out', out]);
      return { ...r, out, served };
    })();
    enrollments.set(id, e);
  }
  return e;
}

const needsReference = (b: Backend) => b.server === 'reference' || b.client === 'reference';

for (const backend of BACKENDS) {
  const skip = needsReference(backend) && !hasReferenceNode;
  describe.skipIf(skip)(`${backend.title}${skip ? ` — skipped: ${referenceMissingReason}` : ''}`, { concurrent: true, timeout: 120_000 }, () => {
    for (const suite of SUITES) {
      for (const keyAlg of suite.clients) {
        const where = checkRuntime(suite, keyAlg);
        const note = where ? '' : ` (certificate checks skipped: ${referenceMissingReason})`;
        it(`${suite.name}: enroll --key-alg ${keyAlg}${note}`, async ({ expect }) => {
          const e = await enrolled(backend, suite, keyAlg);
          for (const line of EXPECTED_LINES[backend.server]) expect(e.served.stdout).toMatch(line);
          expect(e.code, `stdout:\n${e.stdout}\nstderr:\n${e.stderr}`).toBe(0);
          expect(e.stdout).toMatch(/^issued CN=e2e-/);
          // the client's ca.pem carries the server's CA certificate
          const caPem = join(e.served.dataDir, 'ca.pem');
          expect(readFileSync(join(e.out, 'ca.pem'), 'utf8')).toContain(readFileSync(caPem, 'utf8').trim());
          if (!where) return;
          const c = await check(where, e.out, caPem);
          expect(c).toMatchObject({ keyMatches: true, verifies: true, issuedBy: true, keyType: nodeKeyType(keyAlg) });
          expect(c.subject).toContain(`CN=e2e-${backend.id}-`);
        });
      }
    }

    if (backend.id === 'a') {
      const suite = SUITES.find((s) => s.clients.includes('ml-dsa-65'))!;
      const note = hasReferenceNode ? '' : ` (certificate checks skipped: ${referenceMissingReason})`;
      it(`${suite.name}: renew an ML-DSA-65 certificate (RenewalReq signed by it, no challenge, new ML-DSA-65 key)${note}`, async ({ expect }) => {
        const first = await enrolled(backend, suite, 'ml-dsa-65');
        expect(first.code, first.stderr).toBe(0);
        const out = join(work, 'renewed-a-ml-dsa-65');
        const r = await pqscep(backend.client, ['renew', '--url', first.served.url, '--cert', join(first.out, 'cert.pem'),
          '--key', join(first.out, 'key.pem'), '--out', out]); // no --key-alg: the new key keeps the type
        expect(r.code, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
        expect(r.stdout).toMatch(/^renewed CN=e2e-a-/);
        expect(readFileSync(join(out, 'key.pem'))).not.toEqual(readFileSync(join(first.out, 'key.pem')));
        if (!hasReferenceNode) return;
        const caPem = join(first.served.dataDir, 'ca.pem');
        const [before, after] = await Promise.all([check('reference', first.out, caPem), check('reference', out, caPem)]);
        expect(after).toMatchObject({ keyMatches: true, verifies: true, issuedBy: true, keyType: 'ml-dsa-65', subject: before.subject });
      });
    }
  });
}
