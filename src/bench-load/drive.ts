/**
 * `pqscep bench load`, step 2: send pre-built PKIOperation requests (RFC 8894 §4.3: POST body,
 * or GET with the base64 message in the query) at a fixed concurrency over keep-alive HTTP/1.1
 * connections (one per in-flight request), timing each from the first byte sent to the last
 * byte received; then, outside the timed window so the client's own crypto does not compete
 * with the server for the CPU, check every reply: an enrollment counts only when the CertRep
 * verifies, says SUCCESS and its envelope opens to a certificate for our key.
 * Leaves out: HTTPS, CertPoll for PENDING answers (counted as not enrolled), retries.
 * @module
 */
import { Agent, request as httpRequest } from 'node:http';
import { readCertRep } from '../client/pki-request.ts';
import { equalBytes } from '../cms/der.ts';
import { spkiOf } from '../cms/signed-data.ts';
import type { PreparedRequest, Target } from './prepare.ts';
import { loadRegistry } from './prepare.ts';

export interface Sent {
  readonly ms: number;
  readonly status: number;
  readonly body?: Uint8Array;
  readonly error?: string;
}

export interface SendOptions {
  readonly concurrency: number;
  readonly onProgress?: (done: number, total: number) => void;
}

function once(agent: Agent, target: Target, der: Uint8Array): Promise<Sent> {
  const url = new URL(target.url);
  url.searchParams.set('operation', 'PKIOperation');
  if (target.method === 'GET') url.searchParams.set('message', Buffer.from(der).toString('base64'));
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = httpRequest(url, {
      agent, method: target.method,
      headers: target.method === 'POST' ? { 'content-type': 'application/x-pki-message', 'content-length': der.length } : {},
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode ?? 0, body: new Uint8Array(Buffer.concat(chunks)) }));
      res.on('error', (err) => resolve({ ms: performance.now() - t0, status: 0, error: err.message }));
    });
    req.on('error', (err) => resolve({ ms: performance.now() - t0, status: 0, error: err.message }));
    req.end(target.method === 'POST' ? der : undefined);
  });
}

/** Sends every request, at most `concurrency` at a time; resolves with per-request outcomes in order, and the wall time. */
export async function sendAll(target: Target, requests: readonly PreparedRequest[], o: SendOptions): Promise<{ sent: Sent[]; wallMs: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency, maxFreeSockets: o.concurrency });
  const sent: Sent[] = new Array(requests.length);
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const lane = async () => {
    for (let i = next++; i < requests.length; i = next++) {
      sent[i] = await once(agent, target, requests[i].request.der);
      done++;
      if (done % 10 === 0 || done === requests.length) o.onProgress?.(done, requests.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, requests.length) }, lane));
  const wallMs = performance.now() - t0;
  agent.destroy();
  return { sent, wallMs };
}

export type Verdict = 'ok' | 'http' | 'failure' | 'pending' | 'invalid';

/** What one reply amounts to; `detail` names the failInfo, HTTP status or check that failed. */
export async function judge(p: PreparedRequest, s: Sent, target: Target): Promise<{ verdict: Verdict; detail?: string }> {
  if (s.status !== 200 || !s.body) return { verdict: 'http', detail: s.error ?? `HTTP ${s.status}` };
  try {
    const rep = await readCertRep(s.body, p.request, target.caCerts, p.me, loadRegistry);
    if (rep.status === 'FAILURE') return { verdict: 'failure', detail: rep.failInfo ?? 'FAILURE' };
    if (rep.status === 'PENDING') return { verdict: 'pending', detail: 'PENDING' };
    const mine = rep.certificates.some((c) => equalBytes(spkiOf(c), p.key.spki));
    return mine ? { verdict: 'ok' } : { verdict: 'invalid', detail: 'no certificate for our key' };
  } catch (err) {
    return { verdict: 'invalid', detail: (err as Error).message };
  }
}
