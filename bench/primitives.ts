/**
 * Raw cost of each cryptographic primitive an enrollment uses (operations.ts), measured with
 * benny on the current post-quantum backend through the same registry objects the server uses
 * (algorithms/*), and the crypto-bound rate of a phase: 1 / (sum of its primitives' costs).
 * Signatures are measured over a 1 KiB message (their cost barely depends on it); hashes and
 * content ciphers at the next power of two of the real input and scaled linearly to it.
 * Leaves out: parallelism (one core, sequential), key caching effects beyond what the
 * registry does itself (public KeyObjects are cached by SPKI, as in the server).
 * @module
 */
import b from 'benny';
import { randomBytes } from 'node:crypto';
import type { Registry } from '../src/crypto/registry.ts';
import type { Op } from './operations.ts';

export interface PrimitiveResult {
  readonly id: string;
  readonly opsPerSec: number;
  /** Mean wall-clock time per operation (benny). */
  readonly meanMs: number;
  /** Process CPU time per operation (user + system, all threads), from a separate timed loop. */
  readonly cpuMs: number;
  /** Relative margin of error, percent (benny / benchmark.js). */
  readonly rme: number;
  readonly samples: number;
}

const SIGNED_BYTES = 1024;
const bulk = (op: Op) => op.kind === 'hash' || op.kind === 'encrypt' || op.kind === 'decrypt';
/** Next power of two ≥ bytes (at least 256): the size a bulk operation is measured at. */
const bucket = (bytes: number) => 2 ** Math.max(8, Math.ceil(Math.log2(Math.max(1, bytes))));

/** The primitive an operation stands for; operations with the same id share one measurement. */
export function primitiveId(op: Op): string {
  switch (op.kind) {
    case 'sign':
    case 'verify':
      return `${op.kind} ${op.alg} [${op.key}]${op.alg === 'rsaEncryption' ? ` ${op.digest}` : ''}`;
    case 'keygen':
      return `keygen [${op.key}]`;
    case 'kt-encrypt':
    case 'kt-decrypt':
    case 'ecdh-ephemeral':
    case 'ecdh-agree':
      return `${op.kind} ${op.alg} [${op.key}]`;
    case 'hash':
    case 'encrypt':
    case 'decrypt':
      return `${op.kind} ${op.alg} ${bucket(op.bytes ?? 0)} B`;
    default:
      return `${op.kind} ${op.alg}`;
  }
}

export type Clock = 'wall' | 'cpu';

/** Cost of one operation in ms from the measured primitives (bulk operations scaled to their size). */
export function costMs(op: Op, results: ReadonlyMap<string, PrimitiveResult>, clock: Clock = 'wall'): number {
  const r = results.get(primitiveId(op));
  if (!r) throw new Error(`no measurement for ${primitiveId(op)}`);
  const ms = clock === 'wall' ? r.meanMs : r.cpuMs;
  return bulk(op) ? (ms * (op.bytes ?? 0)) / bucket(op.bytes ?? 0) : ms;
}

/** Crypto-bound rate (per second) of a phase: 1 / Σ cost. */
export const limitPerSec = (ops: readonly Op[], results: ReadonlyMap<string, PrimitiveResult>, clock: Clock = 'wall'): number =>
  1000 / ops.reduce((a, op) => a + costMs(op, results, clock), 0);

/**
 * Relative margin of error (percent) of a phase's Σ cost, from its primitives' margins: the
 * operations of one primitive share its error (summed first), different primitives are
 * independent (added in quadrature).
 */
export function limitMarginPct(ops: readonly Op[], results: ReadonlyMap<string, PrimitiveResult>): number {
  const byPrimitive = new Map<string, number>();
  let total = 0;
  for (const op of ops) {
    const ms = costMs(op, results);
    total += ms;
    const id = primitiveId(op);
    byPrimitive.set(id, (byPrimitive.get(id) ?? 0) + (ms * results.get(id)!.rme) / 100);
  }
  return (100 * Math.sqrt([...byPrimitive.values()].reduce((a, e) => a + e * e, 0))) / total;
}

/**
 * CPU time per call of `fn`: a loop of about `seconds` (from the wall-clock mean), timed with
 * process.cpuUsage, so that time other processes take from us does not count.
 */
async function cpuMsPerCall(fn: () => unknown, meanMs: number, seconds: number): Promise<number> {
  const count = Math.max(1, Math.min(100_000, Math.round((seconds * 1000) / Math.max(meanMs, 1e-4))));
  const c0 = process.cpuUsage();
  for (let i = 0; i < count; i++) await fn();
  const cpu = process.cpuUsage(c0);
  return (cpu.user + cpu.system) / 1000 / count;
}

const bytes = (n: number) => new Uint8Array(randomBytes(n));

/** Keys, inputs and the measured function for one primitive. */
async function prepare(op: Op, registry: Registry): Promise<() => unknown> {
  const keyOf = (name: string) => registry.byName('key', name).generate();
  switch (op.kind) {
    case 'sign':
    case 'verify': {
      const alg = registry.byName('signature', op.alg);
      const key = await keyOf(op.key!);
      const data = bytes(SIGNED_BYTES);
      const digest = op.digest ?? 'SHA-512';
      if (op.kind === 'sign') return () => alg.sign(data, key, digest);
      const signature = await alg.sign(data, key, digest);
      return () => {
        if (!alg.verify(signature, data, key.spki, digest)) throw new Error(`${op.alg}: verification failed`);
      };
    }
    case 'keygen': {
      const type = registry.byName('key', op.key!);
      return () => type.generate();
    }
    case 'encapsulate':
    case 'decapsulate': {
      const kem = registry.byName('kem', op.alg);
      const type = registry.list('key').find((k) => k.spkiOid === kem.keyOid)!;
      const key = await type.generate();
      if (op.kind === 'encapsulate') return () => kem.encapsulate(key.spki);
      const { ciphertext } = await kem.encapsulate(key.spki);
      return () => kem.decapsulate(ciphertext, key);
    }
    case 'kt-encrypt':
    case 'kt-decrypt': {
      const kt = registry.byName('key-transport', op.alg);
      const key = await keyOf(op.key!);
      const cek = bytes(32);
      if (op.kind === 'kt-encrypt') return () => kt.encrypt(cek, key.spki);
      const encrypted = kt.encrypt(cek, key.spki);
      return () => kt.decrypt(encrypted, key, kt.parameters);
    }
    case 'ecdh-ephemeral':
    case 'ecdh-agree': {
      const ka = registry.byName('key-agreement', op.alg);
      const key = await keyOf(op.key!);
      if (op.kind === 'ecdh-ephemeral') return () => ka.ephemeral(key.spki);
      const { originatorSpki } = await ka.ephemeral(key.spki);
      return () => ka.agree(originatorSpki, key);
    }
    case 'kdf': {
      const kdf = registry.byName('kdf', op.alg);
      const [secret, info] = [bytes(32), bytes(20)];
      return () => kdf.derive(secret, info, 32);
    }
    case 'wrap':
    case 'unwrap': {
      const kw = registry.byName('key-wrap', op.alg);
      const [kek, cek] = [bytes(kw.keySize), bytes(32)];
      if (op.kind === 'wrap') return () => kw.wrap(kek, cek);
      const wrapped = kw.wrap(kek, cek);
      return () => kw.unwrap(kek, wrapped);
    }
    case 'encrypt':
    case 'decrypt': {
      const cipher = registry.byName('cipher', op.alg);
      const [key, data] = [bytes(cipher.keySize), bytes(bucket(op.bytes ?? 0))];
      if (op.kind === 'encrypt') return () => cipher.encrypt(key, data);
      const { parameters, ciphertext, tag } = cipher.encrypt(key, data);
      return () => cipher.decrypt(key, parameters, ciphertext, tag);
    }
    case 'hash': {
      const digest = registry.byName('digest', op.alg);
      const data = bytes(bucket(op.bytes ?? 0));
      return () => digest.hash(data);
    }
  }
}

export interface PrimitiveOptions {
  readonly quick: boolean;
  readonly registry: Registry;
}

/** Above this relative margin (percent) a primitive is measured again, longer (not in --quick), with its CPU time over 1 s instead of 0.2 s. */
const WANTED_RME = 3;
/** Seconds for such a second measurement: ML-DSA signing repeats a random number of rounds (FIPS 204 §6.2, rejection sampling), so its mean needs hundreds of samples. */
const LONG_MAX_TIME = 4;

/**
 * Measures the primitives of `ops` not already in `known` (one benny suite), adds them to
 * `known` and returns the new results. Each case is timed once first: that warms it up and
 * picks fewer samples for slow cases (SLH-DSA signing takes seconds with noble). Cases whose
 * margin of error exceeds WANTED_RME are measured again for LONG_MAX_TIME seconds, and that
 * longer measurement is kept.
 */
export async function measurePrimitives(name: string, ops: readonly Op[], known: Map<string, PrimitiveResult>, o: PrimitiveOptions): Promise<PrimitiveResult[]> {
  const todo = new Map<string, Op>();
  for (const op of ops) if (!known.has(primitiveId(op)) && !todo.has(primitiveId(op))) todo.set(primitiveId(op), op);
  if (!todo.size) return [];
  const fns = new Map<string, () => unknown>();
  const first = new Map<string, BennyOptions>();
  for (const [id, op] of todo) {
    const fn = await prepare(op, o.registry);
    fns.set(id, fn);
    const t0 = performance.now();
    await fn();
    const seconds = (performance.now() - t0) / 1000;
    first.set(id, o.quick
      ? { minSamples: 1, maxTime: 0.02, minTime: 0.005, initCount: 1 }
      : { minSamples: seconds > 0.1 ? 2 : 5, maxTime: seconds > 0.1 ? 0.1 : 0.5, minTime: 0.05, initCount: 1 });
  }
  const results = new Map((await bennySuite(`primitives: ${name}`, fns, first)).map((r) => [r.name, r]));
  // Only primitives that weigh in a limit (0.1 to 50 ms): a cheap one's error hardly moves a sum.
  const again = new Map(o.quick ? [] : [...results.values()]
    .filter((r) => r.margin > WANTED_RME && r.details.mean >= 1e-4 && r.details.mean < 0.05)
    .map((r) => [r.name, { ...first.get(r.name)!, maxTime: LONG_MAX_TIME }]));
  if (again.size) for (const r of await bennySuite(`primitives again: ${name}`, fns, again)) results.set(r.name, r);
  const out: PrimitiveResult[] = [];
  for (const r of results.values()) {
    const meanMs = r.details.mean * 1000;
    out.push({
      id: r.name,
      opsPerSec: 1 / r.details.mean, // r.ops is rounded to the display precision
      meanMs,
      cpuMs: await cpuMsPerCall(fns.get(r.name)!, meanMs, o.quick ? 0.01 : meanMs > 100 ? 0 : again.has(r.name) ? 1 : 0.2),
      rme: Math.round(r.margin * 100) / 100,
      samples: r.samples,
    });
  }
  for (const r of out) known.set(r.id, r);
  return out;
}

type BennyOptions = { minSamples: number; maxTime: number; minTime: number; initCount: number };
type BennyResult = Awaited<ReturnType<typeof b.suite>>['results'][number];

/** One benny suite over `cases` (each with its options); its results. */
async function bennySuite(name: string, fns: ReadonlyMap<string, () => unknown>, cases: ReadonlyMap<string, BennyOptions>): Promise<BennyResult[]> {
  // The setup form (a function returning the case): benny then calls the case once, not twice, to learn its type.
  const added = [...cases].map(([id, options]) => b.add(id, () => fns.get(id)!, options));
  // NOTE: benny announces each suite with console.log; stdout is for the final summary only.
  const log = console.log;
  console.log = () => {};
  try {
    return (await b.suite(name, ...added)).results;
  } finally {
    console.log = log;
  }
}
