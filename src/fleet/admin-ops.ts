/**
 * The fleet administration surface, transport-neutral: list, create, set-profile, rollback,
 * status, dry-run, profiles and the audit log, as JSON-ready values. The admin API
 * (src/http/admin.ts) serves `localAdmin` over HTTP; the CLI (`pqscep fleet ... --data DIR`)
 * calls `localAdmin` on the database directly, or `--admin URL` reaches the same methods through
 * the API (src/cli/admin-client.ts). Every value leaves here in its JSON form, so both paths
 * print byte-identical output.
 *
 * Errors carry a kind: {@link FleetNotFound} (HTTP 404), {@link FleetInputError} (400), any
 * other {@link FleetError} (409). Their messages are the one line the CLI prints.
 * Leaves out: authentication (the HTTP layer's), formatting for people (src/cli/fleet.ts).
 * @module
 */
import type { Profile } from '../policy/profile.ts';
import type { AuditRecord, FleetRecord } from '../store/store.ts';
import { dryRun, formatDryRun } from './dry-run.ts';
import { createFleet, FleetError, parseDuration, rollback, setProfile, settle, type FleetContext } from './fleet-ops.ts';
import { fleetStatus, formatStatus } from './status.ts';

/** No fleet with that name: HTTP 404. */
export class FleetNotFound extends FleetError {}
/** A malformed argument (time, duration, number): HTTP 400. */
export class FleetInputError extends FleetError {}

/** A fleet as it stands now (a due switch folded in), in JSON form. */
export interface FleetView {
  readonly name: string;
  /** The SCEP path of the fleet (`/scep` for the default fleet). */
  readonly endpoint: string;
  readonly profile: string;
  readonly previousProfile?: string;
  /** A pending switch; `announcing` once its CA is offered through GetNextCACert. */
  readonly next?: { readonly profile: string; readonly announceAt: string; readonly effectiveAt: string; readonly announcing: boolean };
  readonly updatedAt: string;
}

/** A rollback that cancelled a pending switch names the profile it cancelled. */
export type RollbackView = FleetView & { readonly cancelled?: string };

/** A profile as loaded, without where it was loaded from (a server path). */
export type ProfileView = Omit<Profile, 'source'>;

/** An audit record in JSON form (`at` as ISO 8601 with milliseconds, so the hash chain still verifies). */
export type AuditView = Omit<AuditRecord, 'at'> & { readonly at: string };

export interface SwitchRequest {
  /** ISO 8601 time the switch starts (its CA is announced from then); default now. */
  readonly at?: string;
  /** How long the new CA is announced before it becomes current, e.g. `15m`; default 0. */
  readonly overlap?: string;
}

export interface FleetAdmin {
  fleets(): Promise<FleetView[]>;
  create(name: string, profile: string): Promise<FleetView>;
  setProfile(name: string, profile: string, o: SwitchRequest): Promise<FleetView>;
  rollback(name: string, o: Pick<SwitchRequest, 'overlap'>): Promise<RollbackView>;
  /** `fleetStatus` (src/fleet/status.ts) of one fleet, in JSON form, and as `formatStatus` prints it. */
  status(name: string, expiringDays: number): Promise<unknown>;
  statusText(name: string, expiringDays: number): Promise<string>;
  /** `dryRun` (src/fleet/dry-run.ts) of `profile` on the fleet's clients, in JSON form and as text. */
  dryRun(name: string, profile: string): Promise<unknown>;
  dryRunText(name: string, profile: string): Promise<string>;
  profiles(): Promise<ProfileView[]>;
  /** The audit log from seq `from` (default 1). */
  audit(from?: number): Promise<AuditView[]>;
}

/** The JSON form of a value: what JSON.parse gives back after the value crossed HTTP. */
const wire = <T>(value: unknown): T => JSON.parse(JSON.stringify(value)) as T;

export const endpointOf = (fleet: string): string => (fleet === 'default' ? '/scep' : `/scep/${fleet}`);

export function fleetView(stored: FleetRecord, now: Date): FleetView {
  const { record, announcing } = settle(stored, now);
  return wire<FleetView>({
    name: record.name,
    endpoint: endpointOf(record.name),
    profile: record.profile,
    previousProfile: record.previousProfile,
    next: record.next && { ...record.next, announcing: announcing !== undefined },
    updatedAt: record.updatedAt,
  });
}

/** Parses an ISO 8601 time with a date, a time and a zone (`2030-01-01T02:00:00Z`). */
export function parseTime(text: string): Date {
  const at = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(text.trim()) ? new Date(text.trim()) : undefined;
  if (!at || Number.isNaN(at.getTime())) throw new FleetInputError(`invalid time ${JSON.stringify(text)}: use ISO 8601 with a zone, e.g. 2030-01-01T02:00:00Z`);
  return at;
}

/** parseDuration, reporting a malformed duration as an input error (HTTP 400). */
export function parseOverlap(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseDuration(text);
  } catch (err) {
    throw err instanceof FleetError ? new FleetInputError(err.message) : err;
  }
}

/** The same message as fleet-ops.ts gives, with a kind the HTTP layer maps to 404. */
function requireFleet(ctx: FleetContext, name: string): FleetRecord {
  const f = ctx.store.fleet(name);
  if (!f) throw new FleetNotFound(`no fleet named ${JSON.stringify(name)}; create it with: pqscep fleet create ${name} --profile P`);
  return f;
}

export interface LocalOptions {
  /** Runs after each change, before the call returns (the server applies the switch there). */
  readonly afterChange?: () => Promise<void>;
  /** The server's `--allow-legacy`, which dry-run must judge with (default false). */
  readonly allowLegacy?: boolean;
}

/** The admin surface on a store; `actor` goes into every audit record. */
export function localAdmin(ctx: FleetContext, actor: string, o: LocalOptions = {}): FleetAdmin {
  const afterChange = o.afterChange ?? (async () => {});
  const changed = async <T>(value: T): Promise<T> => {
    await afterChange();
    return value;
  };
  const statusOf = async (name: string, expiringDays: number) => {
    requireFleet(ctx, name);
    if (!(expiringDays >= 0 && expiringDays <= 36_500)) throw new FleetInputError(`invalid expiring window ${expiringDays}: use 0 to 36500 days`);
    const status = fleetStatus(ctx, name, { expiringWithinDays: expiringDays });
    return { json: wire<unknown>(status), text: () => formatStatus(status) };
  };
  const dryRunOf = async (name: string, profile: string) => {
    requireFleet(ctx, name);
    const result = dryRun(ctx, name, profile, { allowLegacy: o.allowLegacy });
    return { json: wire<unknown>(result), text: () => formatDryRun(result) };
  };
  return {
    fleets: async () => {
      const now = new Date();
      return ctx.store.fleets().map((f) => fleetView(f, now));
    },
    create: async (name, profile) => changed(fleetView(createFleet(ctx, name, profile, actor), new Date())),
    setProfile: async (name, profile, o) => {
      requireFleet(ctx, name);
      const at = o.at === undefined ? undefined : parseTime(o.at);
      const overlapMs = parseOverlap(o.overlap);
      return changed(fleetView(setProfile(ctx, name, profile, { at, overlapMs }, actor), new Date()));
    },
    rollback: async (name, o) => {
      const before = settle(requireFleet(ctx, name), new Date()).record;
      const after = rollback(ctx, name, { overlapMs: parseOverlap(o.overlap) }, actor);
      const cancelled = before.next && !after.next && after.profile === before.profile ? before.next.profile : undefined;
      return changed({ ...fleetView(after, new Date()), ...(cancelled && { cancelled }) });
    },
    status: async (name, days) => (await statusOf(name, days)).json,
    statusText: async (name, days) => (await statusOf(name, days)).text(),
    dryRun: async (name, profile) => (await dryRunOf(name, profile)).json,
    dryRunText: async (name, profile) => (await dryRunOf(name, profile)).text(),
    profiles: async () => [...ctx.profiles.values()].map(({ source: _source, ...p }) => wire<ProfileView>(p)),
    audit: async (from = 1) => {
      if (!Number.isSafeInteger(from) || from < 1) throw new FleetInputError(`invalid audit position ${from}: use a sequence number from 1`);
      return wire<AuditView[]>(ctx.store.audit(from));
    },
  };
}
