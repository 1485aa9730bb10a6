/**
 * Issue 6 operations: /healthz and Prometheus /metrics. Counts requests by operation, message
 * type, fleet, client key type, outcome and failInfo; times them; counts issued certificates;
 * keeps labels bounded (an unknown fleet never becomes one); per-server registries; the admin
 * listener serves the same metrics behind its token; `metrics: false` turns them off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { device, exchange, post, request, testServer, type TestServer } from './helpers/server.ts';

/** One sample of the exposition text: metric name and labels (exact set) to its value. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.keys(got).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

const base = (server: TestServer) => server.url.replace(/\/scep$/, '');
const metricsText = async (server: TestServer) => {
  const res = await fetch(`${base(server)}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
};

describe('/healthz and /metrics on the SCEP listener', () => {
  let server: TestServer;
  let text: string;

  beforeAll(async () => {
    server = await testServer();
    expect((await fetch(`${server.url}?operation=GetCACaps`)).status).toBe(200);
    const ok = await device(server.url, 'CN=metrics-ok');
    const okRequest = await request(ok);
    expect((await exchange(server.url, ok, okRequest)).status).toBe('SUCCESS');
    expect((await exchange(server.url, ok, okRequest)).status).toBe('SUCCESS'); // exact replay: same answer, no second certificate
    const wrong = await device(server.url, 'CN=metrics-wrong');
    const refused = await exchange(server.url, wrong, await request(wrong, { challenge: 'not-the-challenge' }));
    expect(refused.status).toBe('FAILURE');
    expect((await post(server.url, new Uint8Array([1, 2, 3]))).status).toBe(400);
    expect((await fetch(`${base(server)}/scep/no-such-fleet?operation=GetCACaps`)).status).toBe(404);
    text = await metricsText(server);
  });
  afterAll(() => server.stop());

  it('/healthz answers ok', async () => {
    const res = await fetch(`${base(server)}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
  });

  it('counts answered PKIOperations by message type, fleet, client key type, outcome and failInfo', () => {
    const pki = { operation: 'PKIOperation', message_type: 'PKCSReq', fleet: 'default', algorithm: 'rsa-2048' };
    expect(sample(text, 'pqscep_requests_total', { ...pki, outcome: 'SUCCESS', fail_info: 'none' })).toBe(2);
    expect(sample(text, 'pqscep_requests_total', { ...pki, outcome: 'FAILURE', fail_info: 'badRequest' })).toBe(1);
  });

  it('counts requests refused before a CertRep by HTTP status, and the other operations as ok', () => {
    expect(sample(text, 'pqscep_requests_total', { operation: 'PKIOperation', message_type: 'unknown', fleet: 'default', algorithm: 'none', outcome: 'http_400', fail_info: 'none' })).toBe(1);
    expect(sample(text, 'pqscep_requests_total', { operation: 'GetCACaps', message_type: 'none', fleet: 'default', algorithm: 'none', outcome: 'ok', fail_info: 'none' })).toBeGreaterThanOrEqual(1);
  });

  it('never turns a client-chosen fleet name into a label', () => {
    expect(text).not.toContain('no-such-fleet');
    expect(sample(text, 'pqscep_requests_total', { operation: 'GetCACaps', message_type: 'none', fleet: 'none', algorithm: 'none', outcome: 'http_404', fail_info: 'none' })).toBe(1);
  });

  it('counts each issued certificate once by key type (a replay issues nothing)', () => {
    expect(sample(text, 'pqscep_certificates_issued_total', { fleet: 'default', algorithm: 'rsa-2048' })).toBe(1);
  });

  it('has a latency histogram per operation and fleet, and the default process metrics', () => {
    expect(sample(text, 'pqscep_request_duration_seconds_count', { operation: 'PKIOperation', fleet: 'default' })).toBe(4);
    expect(sample(text, 'pqscep_request_duration_seconds_bucket', { operation: 'PKIOperation', fleet: 'default', le: '+Inf' })).toBe(4);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^pqscep_requests_in_flight 0$/m);
  });

  it('keeps a registry per server: a second server starts from zero', async () => {
    const other = await testServer();
    try {
      const fresh = await metricsText(other);
      expect(sample(fresh, 'pqscep_certificates_issued_total', { fleet: 'default', algorithm: 'rsa-2048' })).toBeUndefined();
      expect(sample(await metricsText(server), 'pqscep_certificates_issued_total', { fleet: 'default', algorithm: 'rsa-2048' })).toBe(1);
    } finally {
      await other.stop();
    }
  });

  it('serves the same metrics on the admin listener, only with the bearer token', async () => {
    const admin = server.admin!;
    expect((await fetch(`${admin.url}/metrics`)).status).toBe(401);
    const res = await fetch(`${admin.url}/metrics`, { headers: { Authorization: `Bearer ${admin.token}` } });
    expect(res.status).toBe(200);
    expect(sample(await res.text(), 'pqscep_certificates_issued_total', { fleet: 'default', algorithm: 'rsa-2048' })).toBe(1);
  });
});

describe('metrics: false (--no-metrics)', () => {
  it('serves no /metrics on either listener', async () => {
    const server = await testServer({ metrics: false });
    try {
      expect((await fetch(`${base(server)}/metrics`)).status).toBe(404);
      expect((await fetch(`${server.admin!.url}/metrics`, { headers: { Authorization: `Bearer ${server.admin!.token}` } })).status).toBe(404);
      expect((await fetch(`${base(server)}/healthz`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
