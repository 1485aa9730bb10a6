/**
 * Fleet operations on the store, shared by the CLI (`--data DIR`, straight on the database) and
 * the admin API: create, list, set-profile (optionally scheduled, with a GetNextCACert overlap
 * window), rollback; and the pure rule that says which profile a fleet runs at a given time.
 * Every change is one transaction with its audit record (who, when, from, to).
 * @module
 */
import type { Profile } from '../policy/profile.ts';
import type { FleetRecord, Store } from '../store/store.ts';

export interface FleetContext {
  readonly store: Store;
  readonly profiles: ReadonlyMap<string, Profile>;
}

/** A refused fleet operation; the message is the one line the CLI prints. */
export class FleetError extends Error {
  override readonly name = 'FleetError';
}

/** A malformed or unknown argument (a fleet name, a profile name, a time, a duration): HTTP 400. */
export class FleetInputError extends FleetError {}

const FLEET_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

function profileNamed(ctx: FleetContext, name: string): Profile {
  const p = ctx.profiles.get(name);
  if (!p) throw new FleetInputError(`no profile named ${JSON.stringify(name)}; profiles: ${[...ctx.profiles.keys()].join(', ')}`);
  return p;
}

function fleetNamed(ctx: FleetContext, name: string): FleetRecord {
  const f = ctx.store.fleet(name);
  if (!f) throw new FleetError(`no fleet named ${JSON.stringify(name)}; create it with: pqscep fleet create ${name} --profile P`);
  return f;
}

export function createFleet(ctx: FleetContext, name: string, profile: string, actor: string, now = new Date()): FleetRecord {
  if (!FLEET_NAME.test(name)) throw new FleetInputError(`fleet names are lowercase letters, digits and '-', 1-63 characters (got ${JSON.stringify(name)})`);
  profileNamed(ctx, profile);
  if (ctx.store.fleet(name)) throw new FleetError(`fleet ${name} exists; change its profile with: pqscep fleet set-profile ${name} P`);
  const record: FleetRecord = { name, profile, updatedAt: now };
  ctx.store.saveFleet(record, { actor, action: 'fleet.create', subject: name, details: { profile } });
  return record;
}

export interface SwitchOptions {
  /** When the switch starts (the new CA is announced from then); default now. */
  readonly at?: Date;
  /** How long the new CA is announced through GetNextCACert before it becomes current; default 0. */
  readonly overlapMs?: number;
}

/** Schedules `name` to run `profile`: announced from `at`, current at `at + overlap`. */
export function setProfile(ctx: FleetContext, name: string, profile: string, o: SwitchOptions, actor: string, now = new Date()): FleetRecord {
  return switchTo(ctx, name, profile, o, actor, now, 'fleet.switch');
}

function switchTo(ctx: FleetContext, name: string, profile: string, o: SwitchOptions, actor: string, now: Date, action: 'fleet.switch' | 'fleet.rollback'): FleetRecord {
  profileNamed(ctx, profile);
  const settled = settle(fleetNamed(ctx, name), now).record;
  if (settled.profile === profile && !settled.next) throw new FleetError(`fleet ${name} already runs ${profile}`);
  const announceAt = o.at ?? now;
  const effectiveAt = new Date(announceAt.getTime() + (o.overlapMs ?? 0));
  const record: FleetRecord = effectiveAt <= now
    ? { name, profile, previousProfile: settled.profile, updatedAt: now }
    : { ...settled, next: { profile, announceAt, effectiveAt }, updatedAt: now };
  ctx.store.saveFleet(record, {
    actor, action, subject: name,
    details: { from: settled.profile, to: profile, announceAt: announceAt.toISOString(), effectiveAt: effectiveAt.toISOString() },
  });
  return record;
}

/** Switches back to the profile before the last switch, the same way (announce, then current). */
export function rollback(ctx: FleetContext, name: string, o: SwitchOptions, actor: string, now = new Date()): FleetRecord {
  const settled = settle(fleetNamed(ctx, name), now).record;
  if (settled.next) {
    // Cancel a switch that has not taken effect yet.
    const record: FleetRecord = { name, profile: settled.profile, previousProfile: settled.previousProfile, updatedAt: now };
    ctx.store.saveFleet(record, { actor, action: 'fleet.rollback', subject: name, details: { from: settled.next.profile, to: settled.profile, cancelled: settled.next.profile } });
    return record;
  }
  if (!settled.previousProfile) throw new FleetError(`fleet ${name} has no earlier profile to roll back to`);
  // Audited as a rollback (not a plain switch), with the same from/to/announceAt/effectiveAt details.
  return switchTo(ctx, name, settled.previousProfile, o, actor, now, 'fleet.rollback');
}

/**
 * The record as it stands at `now`: a scheduled switch whose effectiveAt has passed is folded in
 * (`due` tells the caller to persist it); `announcing` is the profile whose CA GetNextCACert shows.
 */
export function settle(f: FleetRecord, now: Date): { record: FleetRecord; due: boolean; announcing?: string } {
  if (!f.next) return { record: f, due: false };
  if (now >= f.next.effectiveAt) return { record: { name: f.name, profile: f.next.profile, previousProfile: f.profile, updatedAt: now }, due: true };
  return { record: f, due: false, announcing: now >= f.next.announceAt ? f.next.profile : undefined };
}

/** Parses durations like 90s, 15m, 2h, 7d (CLI and admin API). */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new FleetError(`invalid duration ${JSON.stringify(text)}: use a number with ms, s, m, h or d (e.g. 15m)`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
}
