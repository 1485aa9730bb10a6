/**
 * `pqscep fleet status`: where one fleet stands in a migration, from the store alone: its
 * profile (a due scheduled switch folded in), its current certificates by key algorithm, how
 * many are migrated to the profile, which devices are still on old algorithms, which
 * certificates expire soon, and what its recorded clients use.
 *
 * Definitions:
 * - A device is a certificate subject (its SANs when the subject is empty). Its *current*
 *   certificate is its newest valid, unexpired one; older valid ones are *superseded* (counted,
 *   not listed: a renewal replaces its predecessor in practice even while that is unexpired).
 *   So `active` counts devices, and a device that renewed is counted once, on its new key.
 * - *Migrated*: the current certificate's key algorithm is in the profile's `clientKeys` and
 *   it was issued by the profile's CA. NOTE: the CA is identified by its key type
 *   (`CertificateRecord.caKeyType`): a data folder holds exactly one CA per key type
 *   (`data/ca/<key type>/`, shared by every profile with that `ca.algorithm`, never
 *   overwritten; fleet-env.ts), so "issued by the profile's CA" is `caKeyType ===
 *   profile.ca.algorithm`, with no CA files to read. Certificates written by schema version 1
 *   carry no CA key type and count as not migrated.
 * - *Expiring*: current certificates whose notAfter falls within the window.
 *
 * Leaves out: revoked certificates (not active), subjects shared by several devices (counted
 * as one), and reaching a running server (the store is the truth; the admin API calls this too).
 * @module
 */
import type { Profile } from '../policy/profile.ts';
import type { CertificateRecord } from '../store/store.ts';
import { FleetError, settle, type FleetContext } from './fleet-ops.ts';
import { countRows, day, iso, table } from './table.ts';

const DAY_MS = 86_400_000;

export interface CertificateLine {
  readonly subject: string;
  readonly serial: string;
  readonly keyAlgorithm: string;
  readonly notAfter: Date;
}

/** A current certificate that is not migrated, and why. */
export interface OldCertificate extends CertificateLine {
  readonly reason: string;
}

export interface FleetStatus {
  readonly fleet: string;
  readonly profile: string;
  readonly previousProfile?: string;
  readonly next?: { readonly profile: string; readonly announceAt: Date; readonly effectiveAt: Date };
  /** The time the status describes. */
  readonly at: Date;
  readonly certificates: {
    /** Devices with a current (newest valid, unexpired) certificate. */
    readonly active: number;
    /** Valid, unexpired certificates replaced by a newer one of the same device. */
    readonly superseded: number;
    /** Current certificates by key algorithm. */
    readonly byAlgorithm: Readonly<Record<string, number>>;
    readonly migrated: number;
    /** migrated / active, 0..1 (0 when there is none). */
    readonly migratedShare: number;
    readonly onOldAlgorithms: readonly OldCertificate[];
    readonly expiringWithinDays: number;
    /** Soonest first. */
    readonly expiring: readonly CertificateLine[];
    /** Set when migration could not be judged (the fleet's profile is not among the loaded ones). */
    readonly unassessed?: string;
  };
  readonly clients: {
    readonly total: number;
    /** Recorded clients by the key algorithm of their last request ('unknown' when it had none we could name). */
    readonly byKeyAlgorithm: Readonly<Record<string, number>>;
  };
}

export interface StatusOptions {
  readonly expiringWithinDays: number;
  readonly now?: Date;
}

const deviceOf = (c: CertificateRecord): string => c.subject || c.sans.join(',');
const line = (c: CertificateRecord): CertificateLine => ({ subject: deviceOf(c), serial: c.serial, keyAlgorithm: c.keyAlgorithm, notAfter: c.notAfter });

function count(names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (out[n] ?? 0) + 1;
  return out;
}

/** Why `c` is not migrated to `p`, or undefined when it is. */
function oldReason(c: CertificateRecord, p: Profile): string | undefined {
  if (!p.clientKeys.includes(c.keyAlgorithm)) return `key ${c.keyAlgorithm} is not in ${p.name}'s clientKeys`;
  if (c.caKeyType === undefined) return `issuing CA unknown (issued before schema version 2), ${p.name} uses the ${p.ca.algorithm} CA`;
  if (c.caKeyType !== p.ca.algorithm) return `issued by the ${c.caKeyType} CA, ${p.name} uses the ${p.ca.algorithm} CA`;
  return undefined;
}

export function fleetStatus(ctx: FleetContext, fleet: string, o: StatusOptions): FleetStatus {
  const now = o.now ?? new Date();
  const stored = ctx.store.fleet(fleet);
  if (!stored) throw new FleetError(`no fleet named ${JSON.stringify(fleet)}`);
  const { record } = settle(stored, now);
  const profile = ctx.profiles.get(record.profile);

  // listCertificates is ordered by notBefore, so the last one seen of a device is its newest.
  const valid = ctx.store.listCertificates({ fleet, status: 'valid' }).filter((c) => c.notAfter > now);
  const current = new Map<string, CertificateRecord>();
  for (const c of valid) current.set(deviceOf(c), c);
  const certs = [...current.values()];

  const old = profile ? certs.flatMap((c) => {
    const reason = oldReason(c, profile);
    return reason ? [{ ...line(c), reason }] : [];
  }) : [];
  const migrated = profile ? certs.length - old.length : 0;
  const horizon = now.getTime() + o.expiringWithinDays * DAY_MS;
  const clients = ctx.store.clients(fleet);
  return {
    fleet,
    profile: record.profile,
    ...(record.previousProfile !== undefined && { previousProfile: record.previousProfile }),
    ...(record.next && { next: record.next }),
    at: now,
    certificates: {
      active: certs.length,
      superseded: valid.length - certs.length,
      byAlgorithm: count(certs.map((c) => c.keyAlgorithm)),
      migrated,
      migratedShare: certs.length ? migrated / certs.length : 0,
      onOldAlgorithms: old.sort((a, b) => a.subject.localeCompare(b.subject)),
      expiringWithinDays: o.expiringWithinDays,
      expiring: certs.filter((c) => c.notAfter.getTime() <= horizon).sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime()).map(line),
      ...(!profile && { unassessed: `profile ${record.profile} is not among the loaded profiles` }),
    },
    clients: { total: clients.length, byKeyAlgorithm: count(clients.map((c) => c.keyAlgorithm ?? 'unknown')) },
  };
}

const percent = (share: number) => `${Math.round(share * 1000) / 10}%`;

/** The status as `pqscep fleet status` prints it. */
export function formatStatus(s: FleetStatus): string {
  const c = s.certificates;
  const out = [`fleet ${s.fleet}: profile ${s.profile}${s.previousProfile ? ` (previously ${s.previousProfile})` : ''}`];
  if (s.next) out.push(`  switching to ${s.next.profile}: CA announced from ${iso(s.next.announceAt)}, effective ${iso(s.next.effectiveAt)}`);
  out.push(`certificates: ${c.active} active${c.superseded ? `, ${c.superseded} superseded by a renewal` : ''}`);
  if (c.active) out.push(...table([['KEY ALGORITHM', 'CERTIFICATES'], ...countRows(c.byAlgorithm)]));
  out.push(c.unassessed ? `migration: not assessed (${c.unassessed})` : `migrated to ${s.profile}: ${c.migrated} of ${c.active} (${percent(c.migratedShare)})`);
  const rows = (list: readonly (CertificateLine & { reason?: string })[], why: boolean) =>
    table([['SUBJECT', 'SERIAL', 'KEY', 'NOT AFTER', ...(why ? ['WHY'] : [])], ...list.map((l) => [l.subject, l.serial, l.keyAlgorithm, day(l.notAfter), ...(why ? [l.reason ?? ''] : [])])]);
  if (c.onOldAlgorithms.length) out.push(`still on old algorithms: ${c.onOldAlgorithms.length}`, ...rows(c.onOldAlgorithms, true));
  out.push(`expiring within ${c.expiringWithinDays} days: ${c.expiring.length}`);
  if (c.expiring.length) out.push(...rows(c.expiring, false));
  out.push(`clients recorded: ${s.clients.total}`);
  if (s.clients.total) out.push(...table([['KEY ALGORITHM', 'CLIENTS'], ...countRows(s.clients.byKeyAlgorithm)]));
  return out.join('\n') + '\n';
}
