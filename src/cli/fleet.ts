/**
 * `pqscep fleet create | list | set-profile | rollback | status | dry-run` and
 * `pqscep audit list | verify`. Each reaches the server one of two ways:
 * - `--data DIR` (default ./data, or PQSCEP_DATA): opens the SQLite store directly, audit actor
 *   `cli`; a running server polls the store every 500 ms, so a change applies within a second;
 * - `--admin URL --token T` (or PQSCEP_ADMIN_TOKEN): the admin API, which applies the change
 *   before it answers.
 * Both run the same operations (src/fleet/admin-ops.ts) and get the same JSON back, and all
 * formatting happens here, so both print the same output. Mistakes throw one-line errors.
 * Leaves out: deleting fleets, editing profiles.
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decimal, parseConfig } from '../config.ts';
import { localAdmin, type AuditView, type FleetAdmin, type FleetView, type RollbackView } from '../fleet/admin-ops.ts';
import { flagsProfile } from '../fleet/fleet-env.ts';
import { parseDuration } from '../fleet/fleet-ops.ts';
import { verifyAuditChain } from '../store/sqlite-fleets.ts';
import { openSqliteStore } from '../store/sqlite-store.ts';
import { remoteAdmin } from './admin-client.ts';
import { profilesFrom } from './profile.ts';

export interface TargetFlags {
  data?: string;
  profiles?: string;
  admin?: string;
  token?: string;
  /** dry-run with --data: judge as a server started with --allow-legacy */
  allowLegacy?: boolean;
}

const out = (text: string) => process.stdout.write(`${text.replace(/\n+$/, '')}\n`);
const json = (value: unknown) => out(JSON.stringify(value, null, 2));

/** Runs `fn` against the admin API (`--admin`) or the data folder's store (`--data`). */
export async function withAdmin<T>(flags: TargetFlags, fn: (admin: FleetAdmin) => Promise<T>): Promise<T> {
  if (flags.admin !== undefined) {
    if (flags.data !== undefined) throw new Error('use either --data DIR or --admin URL, not both');
    if (flags.profiles !== undefined) throw new Error('--profiles applies to --data only; through --admin the server\'s profiles apply');
    if (flags.allowLegacy) throw new Error('--allow-legacy applies to --data only; through --admin the server\'s setting applies');
    const token = flags.token ?? process.env.PQSCEP_ADMIN_TOKEN;
    if (!token) throw new Error('--admin needs a token: --token T or PQSCEP_ADMIN_TOKEN (the server keeps a generated one in <data>/admin-token.txt)');
    return fn(remoteAdmin(flags.admin, token));
  }
  if (flags.token !== undefined) throw new Error('--token goes with --admin URL');
  const dir = flags.data ?? (process.env.PQSCEP_DATA?.trim() || 'data'); // as serve reads it (src/config.ts)
  const file = join(dir, 'pqscep.db');
  if (!existsSync(file)) throw new Error(`no pqscep database in ${dir} (${file}): pass the server's --data folder, or start pqscep serve --data ${dir} once`);
  // The server also knows `flags` (what it runs without --profile); for the CLI only its name matters.
  const profiles = profilesFrom(flags.profiles);
  const flagsOnly = flagsProfile(parseConfig({}));
  if (!profiles.has(flagsOnly.name)) profiles.set(flagsOnly.name, flagsOnly);
  const store = openSqliteStore(file);
  try {
    return await fn(localAdmin({ store, profiles }, 'cli', { allowLegacy: flags.allowLegacy }));
  } finally {
    store.close();
  }
}

/** `--expiring 30d` (any parseDuration text, or a plain number of days) as days. */
export function expiringDays(text: string | undefined): number {
  if (text === undefined) return 30;
  return /^\d+$/.test(text.trim()) ? Number(text) : parseDuration(text) / 86_400_000;
}

const pending = (f: FleetView): string => !f.next ? '-'
  : `${f.next.profile} (CA announced from ${f.next.announceAt}${f.next.announcing ? ', now' : ''}; current from ${f.next.effectiveAt})`;

/** The fleets as a table, one line per fleet. */
export function formatFleets(fleets: readonly FleetView[]): string {
  const rows = [['FLEET', 'ENDPOINT', 'PROFILE', 'PREVIOUS', 'PENDING SWITCH'],
    ...fleets.map((f) => [f.name, f.endpoint, f.profile, f.previousProfile ?? '-', pending(f)])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

const scheduled = (f: FleetView) => `fleet ${f.name}: switch ${f.profile} -> ${pending(f)}`;

export async function fleetCreate(name: string, flags: TargetFlags & { profile: string }): Promise<void> {
  const f = await withAdmin(flags, (a) => a.create(name, flags.profile));
  out(`fleet ${f.name} created with profile ${f.profile}; SCEP endpoint ${f.endpoint}`);
}

export async function fleetList(flags: TargetFlags & { json?: boolean }): Promise<void> {
  const fleets = await withAdmin(flags, (a) => a.fleets());
  if (flags.json) json(fleets);
  else out(formatFleets(fleets));
}

export async function fleetSetProfile(name: string, profile: string, flags: TargetFlags & { at?: string; overlap?: string }): Promise<void> {
  const f = await withAdmin(flags, (a) => a.setProfile(name, profile, { at: flags.at, overlap: flags.overlap }));
  out(f.next ? scheduled(f) : `fleet ${f.name}: switched ${f.previousProfile ?? '-'} -> ${f.profile}`);
}

export async function fleetRollback(name: string, flags: TargetFlags & { overlap?: string }): Promise<void> {
  const f: RollbackView = await withAdmin(flags, (a) => a.rollback(name, { overlap: flags.overlap }));
  if (f.cancelled) out(`fleet ${f.name}: cancelled the pending switch to ${f.cancelled}; stays on ${f.profile}`);
  else out(f.next ? `rolling back: ${scheduled(f)}` : `fleet ${f.name}: rolled back ${f.previousProfile ?? '-'} -> ${f.profile}`);
}

export async function fleetStatus(name: string | undefined, flags: TargetFlags & { json?: boolean; expiring?: string }): Promise<void> {
  const days = expiringDays(flags.expiring);
  await withAdmin(flags, async (a) => {
    const names = name !== undefined ? [name] : (await a.fleets()).map((f) => f.name);
    if (flags.json) {
      const all = [];
      for (const n of names) all.push(await a.status(n, days));
      json(name !== undefined ? all[0] : all);
    } else {
      const texts = [];
      for (const n of names) texts.push((await a.statusText(n, days)).replace(/\n+$/, ''));
      out(texts.join('\n\n'));
    }
  });
}

export async function fleetDryRun(name: string, flags: TargetFlags & { profile: string; json?: boolean }): Promise<void> {
  await withAdmin(flags, async (a) => (flags.json ? json(await a.dryRun(name, flags.profile)) : out(await a.dryRunText(name, flags.profile))));
}

const detail = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** One line per record: seq, time, actor, action, subject, details as key=value. */
export function formatAudit(records: readonly AuditView[]): string {
  return records.map((r) => [String(r.seq), r.at, r.actor, r.action, r.subject,
    ...Object.entries(r.details ?? {}).map(([k, v]) => `${k}=${detail(v)}`)].join('  ')).join('\n');
}

export async function auditList(flags: TargetFlags & { json?: boolean; from?: string }): Promise<void> {
  const from = flags.from === undefined ? undefined : decimal(flags.from);
  if (from !== undefined && !(Number.isSafeInteger(from) && from >= 1)) throw new Error(`invalid --from ${JSON.stringify(flags.from)}: use a sequence number from 1`);
  const records = await withAdmin(flags, (a) => a.audit(from));
  if (flags.json) json(records);
  else if (records.length > 0) out(formatAudit(records));
}

/** Recomputes the hash chain (verifyAuditChain); a broken chain is an error naming the first bad seq. */
export async function auditVerify(flags: TargetFlags): Promise<void> {
  const records = await withAdmin(flags, (a) => a.audit(1));
  const result = verifyAuditChain(records.map((r) => ({ ...r, at: new Date(r.at) })));
  if (!result.ok) throw new Error(`audit log broken at seq ${result.seq}: ${result.reason}`);
  out(`audit log intact: ${records.length} records`);
}
