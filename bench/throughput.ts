/**
 * In-process end-to-end throughput of one suite on the current backend, sequential (one core):
 *  1. clientBuild: distinct PKCSReqs are built ahead with pqscep's client library (CSR,
 *     self-signed signer, reply KEM certificate, envelope, SignerInfo), each timed;
 *  2. server: `pkiOperation` (src/scep/pki-operation.ts: decode, verify, decrypt, policy,
 *     issue, store, reply) answers them one after the other, each timed;
 *  3. clientOpen: `readCertRep` verifies and opens each CertRep, each timed.
 * Requests must be distinct: an exact replay is answered from the store. Device keys come from
 * a small pool (RSA key generation would dominate otherwise); each request still has its own
 * subject, CSR, signer certificate, nonce and envelope. N adapts to a time budget per suite.
 * Leaves out: HTTP (a separate load test), concurrency, the device key generation.
 * @module
 */
import { certificateSignatureAlgorithm } from '../src/ca/certificate.ts';
import { buildCsr, selfSignedSigner } from '../src/client/csr.ts';
import { pickRecipient, replyKey } from '../src/client/enroll.ts';
import { getCaCerts, getCaps } from '../src/client/http.ts';
import { buildPkiRequest, readCertRep, transactionIdFor, type BuiltRequest } from '../src/client/pki-request.ts';
import type { Recipient } from '../src/cms/enveloped-data.ts';
import { recipientKindFor } from '../src/cms/enveloped-data.ts';
import type { PrivateKeyHandle } from '../src/crypto/types.ts';
import { PQC_CA_IDENT } from '../src/scep/env.ts';
import { pkiOperation } from '../src/scep/pki-operation.ts';
import { CHALLENGE, clientRegistry, type BenchServer, type Suite } from './suites.ts';

export interface PhaseTiming {
  readonly meanMs: number;
  /** Mean process CPU time (user + system, all threads) per operation: not inflated by waiting (fsync) or by other processes. */
  readonly cpuMs: number;
  readonly medianMs: number;
  readonly p95Ms: number;
  /** 1000 / meanMs: operations per second on one core, sequentially. */
  readonly perSec: number;
  /** Relative margin of error of meanMs, percent (95%: t standard errors, 1.96 for many samples), as benny gives for the primitives; absent in results from before it was kept. */
  readonly rme?: number;
}

export interface Throughput {
  readonly n: number;
  readonly warmup: number;
  readonly clientBuild: PhaseTiming;
  readonly server: PhaseTiming;
  readonly clientOpen: PhaseTiming;
}

export interface ThroughputOptions {
  readonly quick: boolean;
  /** Seconds of measured work to aim for per suite (all three phases). */
  readonly budgetSec?: number;
}

const KEY_POOL = 16;

/** One timed operation: wall-clock and CPU milliseconds. */
interface Sample {
  readonly ms: number;
  readonly cpuMs: number;
}

/** Runs `fn`, timing it by the wall clock and by process CPU time. */
async function timed<T>(fn: () => Promise<T>): Promise<{ value: T } & Sample> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  return { value, ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function timing(samples: readonly Sample[]): PhaseTiming {
  const ms = samples.map((x) => x.ms);
  const sorted = [...ms].sort((a, b) => a - b);
  const mean = (xs: readonly number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  const meanMs = mean(ms);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    meanMs: round(meanMs), cpuMs: round(mean(samples.map((x) => x.cpuMs))), medianMs: round(at(0.5)), p95Ms: round(at(0.95)),
    perSec: Math.round((1000 / meanMs) * 100) / 100,
    rme: relativeMarginPct(ms),
  };
}

/**
 * Student's t, two-tailed 95%, by degrees of freedom 1-30 (the table benchmark.js uses for benny's
 * `rme`; NIST/SEMATECH e-Handbook §1.3.6.7.2); 1.96 beyond.
 */
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/**
 * Relative 95% margin of error of the mean of `xs`, percent (2 decimals), as benny (benchmark.js)
 * computes `rme`: t for n - 1 degrees of freedom, not 1.96, which understates it for few samples
 * (a slow suite's N is 2 to 4: 12.7 to 3.2 standard errors).
 */
export function relativeMarginPct(xs: readonly number[]): number {
  const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  const t = T95[Math.max(1, xs.length - 1) - 1] ?? 1.96;
  return Math.round(((100 * t * sd) / Math.sqrt(xs.length) / mean) * 100) / 100;
}


interface Prepared {
  readonly request: BuiltRequest;
  readonly me: readonly Recipient[];
  readonly build: Sample;
}

/** Measures `suite` against `server` (whose backend is the current one). */
export async function measureThroughput(server: BenchServer, suite: Suite, o: ThroughputOptions): Promise<Throughput> {
  const registry = clientRegistry;
  const env = server.env;
  const keyType = registry.byName('key', suite.clientKey);
  // The choices enroll() makes from GetCACaps / GetCACert (src/client/enroll.ts).
  const caps = (await getCaps(server.url)).map((c) => c.toUpperCase());
  const has = (k: string) => caps.includes(k) || (caps.includes('SCEPSTANDARD') && ['AES', 'SHA-256', 'POSTPKIOPERATION'].includes(k));
  const { certificates: caCerts } = await getCaCerts(server.url, keyType.quantumSafe ? PQC_CA_IDENT : undefined);
  const recipient = pickRecipient(caCerts, registry, keyType.quantumSafe);
  const cipher = registry.byName('cipher', has('AES') ? 'AES-256-CBC' : 'DES-EDE3-CBC');

  const pool: PrivateKeyHandle[] = [];
  const keyFor = async (i: number) => pool[i % KEY_POOL] ?? (pool[i % KEY_POOL] = await keyType.generate());
  const prepare = async (i: number): Promise<Prepared> => {
    const key = await keyFor(i);
    const subject = `CN=bench-${i},O=pqscep bench`;
    const { value, ms, cpuMs } = await timed(async () => {
      const signatureAlg = certificateSignatureAlgorithm(key, registry).algorithm;
      const digest = registry.byName('digest', signatureAlg.cmsDigest ?? (has('SHA-512') ? 'SHA-512' : 'SHA-256'));
      const csr = await buildCsr({ subject, key, challenge: CHALLENGE }, registry);
      const me = { certificate: await selfSignedSigner(subject, key, registry), key };
      const receiver = recipientKindFor(key.spki, registry) === undefined ? await replyKey(subject, key, recipient, registry) : undefined;
      const request = await buildPkiRequest({
        messageType: 'PKCSReq', transactionId: `${transactionIdFor(key.spki)}-${i}`, payload: csr, recipient, signerCert: me.certificate, key, cipher, digest,
        extraCertificates: receiver ? [receiver.certificate] : [],
      }, registry);
      return { request, me: receiver ? [receiver, me] : [me] };
    });
    return { ...value, build: { ms, cpuMs } };
  };
  const serve = (p: Prepared) => timed(() => pkiOperation(p.request.der, env));
  const open = async (p: Prepared, reply: Uint8Array): Promise<Sample> => {
    const { value: result, ms, cpuMs } = await timed(() => readCertRep(reply, p.request, caCerts, p.me, registry));
    if (result.status !== 'SUCCESS') throw new Error(`${suite.name}: CertRep ${result.status}${result.status === 'FAILURE' ? ` ${result.failInfo}` : ''}`);
    return { ms, cpuMs };
  };

  // Warm-up (JIT, key caches) and an estimate of one enrollment's cost, which sizes N.
  let index = 0;
  let estimate = 0;
  while (index < (o.quick ? 1 : 2)) {
    const p = await prepare(index++);
    const served = await serve(p);
    estimate = p.build.ms + served.ms + (await open(p, served.value)).ms;
    if (estimate > 1000) break; // slow suites (noble SLH-DSA): one warm-up is enough
  }
  const warmup = index;
  const budgetMs = (o.budgetSec ?? (o.quick ? 0.3 : 4)) * 1000;
  const n = Math.max(o.quick || estimate > 2000 ? 2 : 3, Math.min(o.quick ? 4 : 400, Math.floor(budgetMs / estimate)));

  const prepared: Prepared[] = [];
  for (let i = 0; i < n; i++) prepared.push(await prepare(index++));
  const served: (Sample & { value: Uint8Array })[] = [];
  for (const p of prepared) served.push(await serve(p));
  const opened: Sample[] = [];
  for (let i = 0; i < n; i++) opened.push(await open(prepared[i], served[i].value));
  return { n, warmup, clientBuild: timing(prepared.map((p) => p.build)), server: timing(served), clientOpen: timing(opened) };
}
