/**
 * The {@link FleetAdmin} surface over the admin API (`pqscep fleet ... --admin URL --token T`):
 * each method is one HTTP request (src/http/admin.ts lists them); an error answer becomes an
 * Error carrying the server's one-line reason, so the CLI prints what `--data` would print.
 * Leaves out: retries (every call is one attempt), TLS settings beyond what fetch does.
 * @module
 */
import type {
  AuditView, CertificateView, ChallengeView, FleetAdmin, FleetView, IssuedChallenges, ProfileView, RequestView, RollbackView, RotatedChallenge, SwitchRequest,
} from '../fleet/admin-ops.ts';

export function remoteAdmin(baseUrl: string, token: string): FleetAdmin {
  let base: URL;
  try {
    base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  } catch {
    throw new Error(`invalid --admin URL ${JSON.stringify(baseUrl)}: use e.g. http://127.0.0.1:8081`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`invalid --admin URL ${JSON.stringify(baseUrl)}: use http:// or https://`);

  const call = async (method: 'GET' | 'POST', path: string, query: Record<string, string | number | undefined> = {}, body?: unknown): Promise<Response> => {
    const url = new URL(path, base);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`cannot reach the admin API at ${base.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let reason: string;
    try {
      reason = String((JSON.parse(text) as { error: unknown }).error ?? '');
    } catch {
      reason = '';
    }
    // Not the admin API's JSON error (a proxy, the SCEP port...): say who answered what.
    if (!reason) reason = `${base.origin} answered HTTP ${res.status}: ${text.trim().split('\n')[0].slice(0, 200) || res.statusText}`;
    throw new Error(res.status === 401 ? `the admin API at ${base.origin} refused the token (401): ${reason}` : reason);
  };
  const json = async <T>(res: Promise<Response>): Promise<T> => (await (await res).json()) as T;
  const text = async (res: Promise<Response>): Promise<string> => (await res).text();
  const fleet = (name: string, what: string) => `fleets/${encodeURIComponent(name)}/${what}`;

  return {
    fleets: () => json<FleetView[]>(call('GET', 'fleets')),
    create: (name, profile) => json<FleetView>(call('POST', 'fleets', {}, { name, profile })),
    setProfile: (name, profile, o: SwitchRequest) => json<FleetView>(call('POST', fleet(name, 'profile'), {}, { profile, at: o.at, overlap: o.overlap })),
    rollback: (name, o) => json<RollbackView>(call('POST', fleet(name, 'rollback'), {}, { overlap: o.overlap })),
    status: (name, days) => json<unknown>(call('GET', fleet(name, 'status'), { expiringDays: days })),
    statusText: (name, days) => text(call('GET', fleet(name, 'status'), { expiringDays: days, format: 'text' })),
    dryRun: (name, profile) => json<unknown>(call('GET', fleet(name, 'dry-run'), { profile })),
    dryRunText: (name, profile) => text(call('GET', fleet(name, 'dry-run'), { profile, format: 'text' })),
    profiles: () => json<ProfileView[]>(call('GET', 'profiles')),
    audit: (from) => json<AuditView[]>(call('GET', 'audit', { from })),
    certificates: (f) => json<CertificateView[]>(call('GET', 'certificates', { fleet: f.fleet, alg: f.alg, expiringDays: f.expiringDays, revoked: f.revoked ? 1 : undefined })),
    revoke: (serial, reason) => json<CertificateView>(call('POST', `certificates/${encodeURIComponent(serial)}/revoke`, {}, { reason })),
    issueChallenges: (r) => json<IssuedChallenges>(call('POST', 'challenges', {}, r)),
    challenges: (name) => json<ChallengeView[]>(call('GET', fleet(name, 'challenges'))),
    rotateChallenge: (name, overlap) => json<RotatedChallenge>(call('POST', fleet(name, 'challenge/rotate'), {}, { overlap })),
    requests: (f) => json<RequestView[]>(call('GET', 'requests', { fleet: f.fleet, status: f.status })),
    approve: (id) => json<RequestView>(call('POST', `requests/${encodeURIComponent(id)}/approve`, {}, {})),
    reject: (id, reason) => json<RequestView>(call('POST', `requests/${encodeURIComponent(id)}/reject`, {}, { reason })),
  };
}
