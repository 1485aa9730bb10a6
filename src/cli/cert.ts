/**
 * `pqscep cert list` (the certificate inventory, as a table, JSON or CSV) and
 * `pqscep cert revoke SERIAL --reason R` (RFC 5280 §5.3.1 reason names). Like the fleet
 * commands they act on `--data DIR` or through `--admin URL --token T` (withAdmin in fleet.ts),
 * run the same operations (src/fleet/admin-ops.ts) and print the same either way.
 * Leaves out: un-revoking (certificateHold release), bulk revocation.
 * @module
 */
import type { CertificateView } from '../fleet/admin-ops.ts';
import { expiringDays, withAdmin, type TargetFlags } from './fleet.ts';

const out = (text: string) => process.stdout.write(`${text.replace(/\n+$/, '')}\n`);

/** The columns of every format: header name and how to read it from a row. */
const COLUMNS: readonly (readonly [string, (c: CertificateView) => string])[] = Object.freeze([
  ['serial', (c) => c.serial],
  ['subject', (c) => c.subject],
  ['algorithm', (c) => c.algorithm],
  ['fleet', (c) => c.fleet],
  ['notBefore', (c) => c.notBefore],
  ['notAfter', (c) => c.notAfter],
  ['status', (c) => c.status],
  ['revokedAt', (c) => c.revokedAt ?? ''],
  ['reason', (c) => c.reason ?? ''],
]);

/** A table with a header line; empty cells show as '-'. */
export function formatCertificates(rows: readonly CertificateView[]): string {
  const lines = [COLUMNS.map(([h]) => h.toUpperCase()), ...rows.map((r) => COLUMNS.map(([, get]) => get(r) || '-'))];
  const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  return lines.map((l) => l.map((c, i) => (i === l.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

/** RFC 4180 CSV with a header line (subjects contain commas, so fields are quoted when needed). */
export function certificatesCsv(rows: readonly CertificateView[]): string {
  const field = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [COLUMNS.map(([h]) => h), ...rows.map((r) => COLUMNS.map(([, get]) => field(get(r))))].map((l) => l.join(',')).join('\r\n');
}

const FORMATS = ['table', 'json', 'csv'] as const;

export async function certList(flags: TargetFlags & { fleet?: string; alg?: string; expiring?: string; revoked?: boolean; format?: string }): Promise<void> {
  const format = flags.format ?? 'table';
  if (!(FORMATS as readonly string[]).includes(format)) throw new Error(`invalid --format ${JSON.stringify(format)}: use ${FORMATS.join(', ')}`);
  const days = flags.expiring === undefined ? undefined : expiringDays(flags.expiring);
  const rows = await withAdmin(flags, (a) => a.certificates({ fleet: flags.fleet, alg: flags.alg, expiringDays: days, revoked: flags.revoked }));
  if (format === 'json') out(JSON.stringify(rows, null, 2));
  else if (format === 'csv') out(certificatesCsv(rows));
  else out(formatCertificates(rows));
}

export async function certRevoke(serial: string, flags: TargetFlags & { reason?: string }): Promise<void> {
  const c = await withAdmin(flags, (a) => a.revoke(serial, flags.reason ?? 'unspecified'));
  out(`certificate ${c.serial} (${c.subject}) revoked: ${c.reason ?? 'unspecified'}; the CRL of fleet ${c.fleet} lists it from now`);
}
