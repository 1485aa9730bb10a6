/**
 * Issue 6 hardening limits: the per-address rate limit (token bucket, HTTP 429 with
 * Retry-After, RFC 9110 §10.2.3 / RFC 6585 §4), `trustProxy` (the X-Forwarded-For entry the
 * nearest proxy added, never one the client made up), and the request time limit (a client
 * that sends headers and stalls its body is cut off with 408, RFC 9110 §15.5.9). Settings are
 * validated as one line each.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.ts';
import { parseRateLimit, tokenBuckets } from '../src/http/rate-limit.ts';
import { testServer } from './helpers/server.ts';

const caps = (url: string, headers: Record<string, string> = {}) => fetch(`${url}?operation=GetCACaps`, { headers });

describe('rate limit per client address', () => {
  it('answers 429 with Retry-After and a one-line body once the bucket is empty; /healthz and /metrics stay open', async () => {
    const server = await testServer({ rateLimitPerAddress: '3/min' });
    try {
      for (let i = 0; i < 3; i++) expect((await caps(server.url)).status).toBe(200);
      const refused = await caps(server.url);
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
      expect(await refused.text()).toMatch(/^too many requests: the limit is 3\/min per client address; retry after \d+ s\n$/);
      const base = server.url.replace(/\/scep$/, '');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^pqscep_requests_total\{[^}]*outcome="http_429"[^}]*\} 1$/m);
    } finally {
      await server.stop();
    }
  });

  it('ignores X-Forwarded-For unless trustProxy is set: every request shares the peer address', async () => {
    const server = await testServer({ rateLimitPerAddress: '1/min' });
    try {
      expect((await caps(server.url, { 'X-Forwarded-For': '203.0.113.1' })).status).toBe(200);
      expect((await caps(server.url, { 'X-Forwarded-For': '203.0.113.2' })).status).toBe(429);
    } finally {
      await server.stop();
    }
  });

  it('with trustProxy keeps a bucket per forwarded address, taking the entry the proxy appended', async () => {
    const server = await testServer({ rateLimitPerAddress: '1/min', trustProxy: true });
    try {
      expect((await caps(server.url, { 'X-Forwarded-For': '203.0.113.1' })).status).toBe(200);
      expect((await caps(server.url, { 'X-Forwarded-For': '203.0.113.1' })).status).toBe(429);
      expect((await caps(server.url, { 'X-Forwarded-For': '203.0.113.2' })).status).toBe(200);
      // A client that prepends its own entry still gets the address the proxy appended.
      expect((await caps(server.url, { 'X-Forwarded-For': '198.51.100.7, 203.0.113.2' })).status).toBe(429);
    } finally {
      await server.stop();
    }
  });

  it('refills the bucket at the configured rate (token bucket, injected clock)', () => {
    let now = 0;
    const take = tokenBuckets(parseRateLimit('2/s'), () => now);
    expect([take('a'), take('a')]).toEqual([0, 0]);
    expect(take('a')).toBe(500); // one token comes back every 500 ms
    expect(take('b')).toBe(0); // other addresses have their own bucket
    now += 500;
    expect(take('a')).toBe(0);
    expect(take('a')).toBeGreaterThan(0);
  });

  it('accepts N/s and N/min and refuses anything else with one line', () => {
    expect(parseRateLimit('10/s')).toEqual({ requests: 10, periodMs: 1000 });
    expect(parseRateLimit('600/min')).toEqual({ requests: 600, periodMs: 60_000 });
    for (const bad of ['fast', '0/s', '10/h', '10']) {
      expect(() => parseConfig({ rateLimitPerAddress: bad })).toThrow(ConfigError);
      expect(() => parseConfig({ rateLimitPerAddress: bad })).toThrow(/^invalid setting rateLimitPerAddress: must be N\/s or N\/min[^\n]*$/);
    }
  });
});

describe('request time limit', () => {
  it('cuts off a client that sends headers and then stalls its body (408, connection closed)', async () => {
    const server = await testServer({ requestTimeout: 1000 });
    try {
      const { port } = new URL(server.url);
      const socket = connect(Number(port), '127.0.0.1');
      let received = '';
      socket.setEncoding('utf8').on('data', (d: string) => (received += d));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write('POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-pki-message\r\nContent-Length: 1000\r\n\r\n0123');
      await closed; // never closing would fail the test by its timeout
      expect(received).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      await server.stop();
    }
  });

  it('takes durations like 30s, 2m, 500ms or milliseconds, within bounds, one line per mistake', () => {
    expect(parseConfig({ requestTimeout: '2m' }).requestTimeout).toBe(120_000);
    expect(parseConfig({}).requestTimeout).toBe(60_000);
    expect(parseConfig({ shutdownTimeout: '0s' }).shutdownTimeout).toBe(0);
    expect(parseConfig({}).shutdownTimeout).toBe(10_000);
    for (const bad of ['soon', '500ms', '2d', '-1s']) expect(() => parseConfig({ requestTimeout: bad })).toThrow(/^invalid setting requestTimeout: must be a duration[^\n]*$/);
  });
});
