/**
 * The suites `npm run bench` measures: one row per algorithm suite named in the benchmark issue
 * (server CA key, RA keys, client key), then every shipped profile (profiles/*.json) as a suite
 * of its own whose client key is the profile's first `clientKeys` entry. Also starts a silent
 * pqscep server for a suite (temporary data folder, loopback, ephemeral port).
 * Leaves out: measuring anything (sizes.ts, throughput.ts), choosing the backend (run.ts).
 * @module
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALGORITHMS } from '../algorithms/index.ts';
import { parseConfig } from '../src/config.ts';
import type { PqBackendChoice } from '../src/crypto/backend.ts';
import { createRegistry, type Registry } from '../src/crypto/registry.ts';
import type { Logger } from '../src/scep/env.ts';
import { DEFAULT_PROFILES_DIR, startServer, type RunningServer } from '../src/server.ts';

export interface Suite {
  /** Short id used in flags (`--suites`), file keys and tables. */
  readonly name: string;
  readonly label: string;
  readonly kind: 'suite' | 'profile';
  /** Server side: a profile name, or CA and RA key types (`--ca-alg`, `--ra-alg`). */
  readonly server: { readonly profile: string } | { readonly caKeyType: string; readonly raKeyTypes: readonly string[] };
  /** Key type of the enrolling client (`pqscep enroll --key-alg`). */
  readonly clientKey: string;
  /** True when a post-quantum algorithm is on the enrollment path (client key or CA). */
  readonly pq: boolean;
  /** Part of the --quick (CI smoke) selection. */
  readonly quick: boolean;
}

/** Every algorithm, legacy included: the client side may send anything the server allows. */
export const clientRegistry: Registry = createRegistry(ALGORITHMS, { allowLegacy: true });

const isPqKey = (keyType: string) => clientRegistry.list('key').some((k) => k.name === keyType && k.quantumSafe);

const suite = (name: string, label: string, caKeyType: string, raKeyTypes: readonly string[], clientKey: string, quick = false): Suite =>
  Object.freeze({ name, label, kind: 'suite', server: { caKeyType, raKeyTypes }, clientKey, pq: isPqKey(clientKey) || isPqKey(caKeyType), quick });

/** The issue's suites: classical baselines, the three ML-DSA/ML-KEM levels, and SLH-DSA. */
export const BASE_SUITES: readonly Suite[] = Object.freeze([
  suite('rsa-2048', 'RSA-2048', 'rsa-2048', ['rsa-2048'], 'rsa-2048', true),
  suite('rsa-3072', 'RSA-3072', 'rsa-3072', ['rsa-3072'], 'rsa-3072'),
  suite('ecdsa-p256', 'ECDSA-P256 + ECDH-P256', 'ecdsa-p256', ['ecdh-p256'], 'ecdsa-p256', true),
  suite('ml-dsa-44', 'ML-DSA-44 + ML-KEM-512', 'ml-dsa-44', ['ml-kem-512'], 'ml-dsa-44'),
  suite('ml-dsa-65', 'ML-DSA-65 + ML-KEM-768', 'ml-dsa-65', ['ml-kem-768'], 'ml-dsa-65', true),
  suite('ml-dsa-87', 'ML-DSA-87 + ML-KEM-1024', 'ml-dsa-87', ['ml-kem-1024'], 'ml-dsa-87'),
  suite('slh-dsa-128s', 'SLH-DSA-SHA2-128s + ML-KEM-768', 'slh-dsa-sha2-128s', ['ml-kem-768'], 'slh-dsa-sha2-128s'),
]);

/** The suite whose figures are the headline (issue targets: native ≥ 5x noble). */
export const HEADLINE_SUITE = 'ml-dsa-65';

/** Each shipped profile, client key = its first clientKeys entry. */
export function profileSuites(dir = DEFAULT_PROFILES_DIR): Suite[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const name = file.slice(0, -'.json'.length);
      const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { ca: { algorithm: string }; clientKeys: string[] };
      const clientKey = json.clientKeys[0];
      return Object.freeze({
        name: `profile:${name}`, label: `profile ${name}`, kind: 'profile', server: { profile: name }, clientKey,
        pq: isPqKey(clientKey) || isPqKey(json.ca.algorithm), quick: false,
      } satisfies Suite);
    });
}

export const allSuites = (): Suite[] => [...BASE_SUITES, ...profileSuites()];

/** The suites a run measures: --suites a,b (names, or "profiles"), --quick, or all. */
export function selectSuites(names: readonly string[] | undefined, quick: boolean): Suite[] {
  const all = allSuites();
  if (!names?.length) return quick ? all.filter((s) => s.quick) : all;
  const picked = names.flatMap((n) => (n === 'profiles' ? all.filter((s) => s.kind === 'profile') : all.filter((s) => s.name === n || s.name === `profile:${n}`)));
  const unknown = names.filter((n) => n !== 'profiles' && !all.some((s) => s.name === n || s.name === `profile:${n}`));
  if (unknown.length) throw new RangeError(`unknown suite ${unknown.join(', ')}; suites: ${all.map((s) => s.name).join(', ')}`);
  return [...new Set(picked)];
}

export const CHALLENGE = 'bench-challenge-0123';
const noop = () => {};
const silent: Logger = { info: noop, warn: noop, error: noop };

export interface BenchServer extends RunningServer {
  stop(): Promise<void>;
}

/**
 * A pqscep server for `s` with the given post-quantum backend, on 127.0.0.1:0, its data folder
 * (CA keys, SQLite store) a fresh folder under `parent` (default: the OS temp folder). The
 * store commits with fsync (synchronous = FULL), so the disk under `parent` shows in the timings.
 */
export async function startSuiteServer(s: Suite, pqBackend: PqBackendChoice, parent = tmpdir()): Promise<BenchServer> {
  const dataDir = mkdtempSync(join(parent, 'pqscep-bench-'));
  const config = parseConfig({ port: 0, host: '127.0.0.1', dataDir, challenge: CHALLENGE, logLevel: 'silent', pqBackend, ...s.server });
  const server = await startServer(config, silent);
  return Object.assign(Object.create(server) as RunningServer, {
    async stop() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}
