/**
 * `pqscep challenge issue|list|rotate` and `pqscep requests list|approve|reject`: enrollment
 * authorization and the manual-approval queue (RFC 8894 §3.3.3). Like every management command
 * they act on `--data DIR` or through `--admin URL --token T` (withAdmin in fleet.ts) and print
 * the same either way. Challenges go to stdout one per line (scripts pipe them to an MDM);
 * what they are valid for goes to stderr.
 * Leaves out: the operations themselves (src/fleet/lifecycle-ops.ts).
 * @module
 */
import type { ChallengeView, RequestView } from '../fleet/admin-ops.ts';
import { table } from '../fleet/table.ts';
import { withAdmin, type TargetFlags } from './fleet.ts';

const out = (text: string): void => void process.stdout.write(`${text.replace(/\n+$/, '')}\n`);
const note = (text: string) => process.stderr.write(`${text}\n`);
const json = (value: unknown) => out(JSON.stringify(value, null, 2));

function count(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim())) throw new Error(`invalid --count ${JSON.stringify(text)}: use a whole number`);
  return Number(text);
}

export async function challengeIssue(flags: TargetFlags & { fleet?: string; ttl?: string; subjectPattern?: string; count?: string; json?: boolean }): Promise<void> {
  const issued = await withAdmin(flags, (a) => a.issueChallenges({ fleet: flags.fleet, ttl: flags.ttl, subjectPattern: flags.subjectPattern, count: count(flags.count) }));
  if (flags.json) return json(issued);
  out(issued.challenges.map((c) => c.challenge).join('\n'));
  note(`${issued.challenges.length} one-time challenge(s) for fleet ${issued.fleet}, valid until ${issued.expiresAt}${issued.subjectPattern ? `, for subjects matching ${issued.subjectPattern}` : ''}; each works once`);
}

export function formatChallenges(rows: readonly ChallengeView[]): string {
  if (rows.length === 0) return 'no challenges stored (the fleet uses the server\'s configured static challenge)';
  return table([['ID', 'KIND', 'STATUS', 'CREATED', 'EXPIRES', 'SUBJECT PATTERN', 'USED BY'],
    ...rows.map((c) => [c.id, c.kind, c.status, c.createdAt, c.expiresAt ?? '-', c.subjectPattern ?? '-', c.usedByTransaction ?? '-'])], '').join('\n');
}

export async function challengeList(flags: TargetFlags & { fleet?: string; json?: boolean }): Promise<void> {
  const rows = await withAdmin(flags, (a) => a.challenges(flags.fleet ?? 'default'));
  if (flags.json) json(rows);
  else out(formatChallenges(rows));
}

export async function challengeRotate(flags: TargetFlags & { fleet?: string; overlap?: string; json?: boolean }): Promise<void> {
  const r = await withAdmin(flags, (a) => a.rotateChallenge(flags.fleet ?? 'default', flags.overlap));
  if (flags.json) return json(r);
  out(r.challenge);
  note(`new static challenge for fleet ${r.fleet}; the previous one stays valid until ${r.previousValidUntil}`);
}

export function formatRequests(rows: readonly RequestView[]): string {
  if (rows.length === 0) return 'no requests';
  return table([['ID', 'FLEET', 'STATUS', 'SUBJECT', 'CREATED', 'TRANSACTION', 'REASON / SERIAL'],
    ...rows.map((r) => [r.id, r.fleet, r.status, r.subject, r.createdAt, r.transactionId, r.reason ?? r.certSerial ?? '-'])], '').join('\n');
}

export async function requestsList(flags: TargetFlags & { fleet?: string; status?: string; json?: boolean }): Promise<void> {
  const rows = await withAdmin(flags, (a) => a.requests({ fleet: flags.fleet, status: flags.status }));
  if (flags.json) json(rows);
  else out(formatRequests(rows));
}

export async function requestsApprove(id: string, flags: TargetFlags): Promise<void> {
  const r = await withAdmin(flags, (a) => a.approve(id));
  out(`request ${r.id} (${r.subject}) approved: the client's next CertPoll or resend gets its certificate`);
}

export async function requestsReject(id: string, flags: TargetFlags & { reason?: string }): Promise<void> {
  const r = await withAdmin(flags, (a) => a.reject(id, flags.reason ?? ''));
  out(`request ${r.id} (${r.subject}) rejected: ${r.reason}; the client's next CertPoll gets FAILURE badRequest`);
}
