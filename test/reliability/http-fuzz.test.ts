/**
 * Reliability (issue 6): a running `pqscep serve` process, fed FUZZ_REQUESTS mutated requests
 * over HTTP, answers every one within RFC 8894's two shapes (test/helpers/reply-check.ts): a
 * one-line 4xx (§4, transaction not identified) or a CertRep signed by its CA/RA (§3.3.2),
 * FAILURE with a failInfo, or SUCCESS when the mutation was harmless. Never a 5xx, a dropped
 * connection or a crash, and its resident memory stays flat after warm-up.
 *
 * Seeds: PKCSReqs of three suites (RSA-2048, ECDSA P-256, ML-DSA-65 with an ML-KEM-768 reply
 * certificate) built and sent by our client against this server (RSA CA; RSA and ML-KEM-768 RAs).
 * Channels: POST binary DER, POST base64, GET base64 (RFC 8894 §4.3), mutated GET text, mutated
 * GetCACert/GetCACaps query strings (§4.2, §3.5.1), and bodies over the size limit.
 * Mutations: test/helpers/der-mutator.ts. Every request's mutations come from its own PRNG
 * seeded with FUZZ_SEED and its index, so a failure names what replays it.
 *
 * FUZZ_REQUESTS (default 10,000 in CI; the acceptance run is 100,000), FUZZ_SEED, FUZZ_CONCURRENCY.
 * Memory: RSS after warm-up vs. at the end, growth below 64 MB per PKIOperation thread (the server
 * runs `--workers 2`: two V8 isolates, each sizing its own heap): a bound, not a timing.
 * Leaves out: what each mutation should yield (rfc8894-mutation.property.test.ts and the bad-input
 * tests pin that down in-process).
 */
import type { Certificate } from '@peculiar/asn1-x509';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nameToString } from '../../src/ca/certificate.ts';
import { enroll } from '../../src/client/enroll.ts';
import { getCaCerts } from '../../src/client/http.ts';
import { PQC_CA_IDENT } from '../../src/scep/env.ts';
import { mutateBase64, mutateDer, mutatedQuery, Rng } from '../helpers/der-mutator.ts';
import { badAnswer, type HttpAnswer } from '../helpers/reply-check.ts';
import { rssBytes, serveProcess, type ServeProcess } from '../helpers/serve-process.ts';
import { CHALLENGE, clientRegistry } from '../helpers/server.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 0x8894_0006);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 8);
const WARM_UP = Math.min(2_000, Math.floor(REQUESTS / 5));
const THREADS = 2;
const MAX_GROWTH = THREADS * 64 * 1024 * 1024;
const MAX_MESSAGE = 1024 * 1024; // the server's default --max-message-bytes
const MAX_HEADER = Math.ceil(MAX_MESSAGE * 1.4) + 64 * 1024; // its HTTP header limit (src/server.ts)
const SUITES = ['rsa-2048', 'ecdsa-p256', 'ml-dsa-65'] as const;

interface Probe {
  readonly kind: string;
  readonly pkiOperation: boolean;
  readonly method: 'GET' | 'POST';
  readonly query: string;
  readonly body?: Uint8Array;
}

let server: ServeProcess;
let data: string;
const seeds: Uint8Array[] = [];
const trusted: Certificate[] = [];

beforeAll(async () => {
  // tmpfs where there is one: every identified request writes (and fsyncs) its FAILURE for replays,
  // and this test is about answers and memory, not the disk (crash-safety.test.ts is).
  data = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'pqscep-fuzz-'));
  server = await serveProcess(data, ['--challenge', CHALLENGE, '--ra-alg', 'rsa-2048', '--ra-alg', 'ml-kem-768', '--workers', String(THREADS)], { logLevel: 'error' });
  for (const suite of SUITES) {
    const key = await clientRegistry.byName('key', suite).generate();
    let pkcsReq: Uint8Array | undefined;
    await enroll({ url: server.url, registry: clientRegistry, key, subject: `CN=fuzz-${suite},O=Test`, challenge: CHALLENGE, save: (name, der) => name === 'pkcsreq.der' && (pkcsReq = der) });
    seeds.push(pkcsReq!);
  }
  for (const ident of [undefined, PQC_CA_IDENT]) trusted.push(...(await getCaCerts(server.url, ident)).certificates);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (data) rmSync(data, { recursive: true, force: true });
});

/** Request `index` of the run: a pure function of SEED and index. */
function probe(index: number): Probe {
  const rng = new Rng((SEED ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const seed = rng.pick(seeds);
  const channel = rng.int(1000);
  if (channel < 5) {
    const size = MAX_MESSAGE + 1 + rng.int(64 * 1024);
    return { kind: 'oversized-post', pkiOperation: true, method: 'POST', query: 'operation=PKIOperation', body: new Uint8Array(size).fill(0x30) };
  }
  if (channel < 100) {
    const { kind, query } = mutatedQuery(rng);
    return { kind, pkiOperation: false, method: rng.int(10) === 0 ? 'POST' : 'GET', query };
  }
  if (channel < 200) {
    const { kind, text } = mutateBase64(Buffer.from(rng.int(2) ? mutateDer(seed, rng, rng.pick(seeds)).out : seed).toString('base64'), rng);
    return { kind: `get-${kind}`, pkiOperation: true, method: 'GET', query: `operation=PKIOperation&message=${text}` };
  }
  const { kind, out } = mutateDer(seed, rng, rng.pick(seeds));
  if (channel < 350) return { kind: `get-${kind}`, pkiOperation: true, method: 'GET', query: `operation=PKIOperation&message=${encodeURIComponent(Buffer.from(out).toString('base64'))}` };
  if (channel < 400) return { kind: `post-base64-${kind}`, pkiOperation: true, method: 'POST', query: 'operation=PKIOperation', body: new Uint8Array(Buffer.from(Buffer.from(out).toString('base64'))) };
  return { kind: `post-${kind}`, pkiOperation: true, method: 'POST', query: 'operation=PKIOperation', body: out };
}

async function send(p: Probe): Promise<HttpAnswer> {
  const res = await fetch(`${server.url}?${p.query}`, {
    method: p.method,
    body: p.body && Buffer.from(p.body),
    headers: p.body ? { 'content-type': 'application/x-pki-message' } : {},
    signal: AbortSignal.timeout(60_000), // a hang detector, not a timing assertion
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: new Uint8Array(await res.arrayBuffer()) };
}

describe(`RFC 8894 §3.3.2.2 / §4 under fuzzing: ${REQUESTS} mutated requests to a running server (seed ${SEED})`, () => {
  it('every answer is a one-line 4xx or a signed CertRep; no 5xx, no dropped connection, no crash; memory flat after warm-up', async () => {
    const statuses = new Map<number, number>();
    const kinds = new Map<string, number>();
    const problems: string[] = [];
    let oversizedResets = 0;
    const rss: { start: number; warm?: number; mid?: number; end?: number } = { start: rssBytes(server.pid) };
    const MID = Math.floor((WARM_UP + REQUESTS) / 2);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < REQUESTS; i = next++) {
        const p = probe(i);
        kinds.set(p.kind, (kinds.get(p.kind) ?? 0) + 1);
        let answer: HttpAnswer;
        try {
          answer = await send(p);
        } catch (err) {
          // A request over a size limit (body: 413, URL: 431) may be answered and closed before the
          // client has sent all of it; the client then sees a reset instead of the answer.
          if (p.kind === 'oversized-post' || p.query.length > MAX_HEADER) {
            oversizedResets++;
            continue;
          }
          problems.push(`#${i} ${p.kind}: ${(err as Error).message} ${((err as Error).cause as Error)?.message ?? ''} (FUZZ_SEED=${SEED})`);
          continue;
        }
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const problem = badAnswer(answer, p.pkiOperation, trusted, clientRegistry);
        if (problem) problems.push(`#${i} ${p.kind}: ${problem} (FUZZ_SEED=${SEED})`);
        if (i === WARM_UP) rss.warm = rssBytes(server.pid);
        if (i === MID) rss.mid = rssBytes(server.pid);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    rss.end = rssBytes(server.pid);
    const mb = (b?: number) => (b === undefined ? '-' : `${(b / 1048576).toFixed(1)} MB`);
    console.log(`fuzz seed ${SEED}: ${REQUESTS} requests; statuses ${JSON.stringify(Object.fromEntries(statuses))}; over-limit requests cut off by a reset after the 413/431: ${oversizedResets}; RSS start ${mb(rss.start)}, after ${WARM_UP} ${mb(rss.warm)}, after ${MID} ${mb(rss.mid)}, end ${mb(rss.end)}`);
    console.log(`fuzz kinds: ${JSON.stringify(Object.fromEntries([...kinds].sort()))}`);

    expect(problems.slice(0, 20), `${problems.length} problems`).toEqual([]);
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    expect(server.child.exitCode, server.stderr()).toBeNull();
    expect(server.child.signalCode).toBeNull();
    expect(server.stderr(), 'the server logged errors').toBe('');
    // Still serving a valid enrollment after the run.
    const key = await clientRegistry.byName('key', 'ecdsa-p256').generate();
    const after = await enroll({ url: server.url, registry: clientRegistry, key, subject: 'CN=after-fuzz,O=Test', challenge: CHALLENGE });
    expect(nameToString(after.certificate.tbsCertificate.subject)).toContain('CN=after-fuzz');
    expect(rss.end - rss.warm!, `RSS grew from ${mb(rss.warm)} to ${mb(rss.end)}`).toBeLessThan(MAX_GROWTH);
  }, 900_000);
});
