/**
 * The fleet administration surface, transport-neutral: list, create, set-profile, rollback,
 * status, dry-run, profiles, the audit log, and the certificate inventory and revocation
 * (RFC 5280 §5.3.1 reasons), as JSON-ready values. The admin API
 * (src/http/admin.ts) serves `localAdmin` over HTTP; the CLI (`pqscep fleet ... --data DIR`)
 * calls `localAdmin` on the database directly, or `--admin URL` reaches the same methods through
 * the API (src/cli/admin-client.ts). Every value leaves here in its JSON form, so both paths
 * print byte-identical output.
 *
 * Errors carry a kind: {@link FleetNotFound} (HTTP 404; also an unknown certificate serial),
 * {@link FleetInputError} (400), any other {@link FleetError} (409, e.g. already revoked). Their messages are the one line the CLI prints.
 * Leaves out: authentication (the HTTP layer's), formatting for people (src/cli/fleet.ts).
 * @module
 */
import type { Profile } from '../policy/profile.ts';
import type { AuditRecord, CertificateRecord, FleetRecord } from '../store/store.ts';
import { dryRun, formatDryRun } from './dry-run.ts';
import { createFleet, FleetError, FleetInputError, parseDuration, rollback, setProfile, settle, type FleetContext } from './fleet-ops.ts';
import { fleetStatus, formatStatus } from './status.ts';
import {
  decideRequest, issueChallenges, listChallenges, listRequests, rotateStaticChallenge,
  type ChallengeView, type IssueChallengesRequest, type IssuedChallenges, type LifecycleErrors, type RequestView, type RotatedChallenge,
} from './lifecycle-ops.ts';

export type { ChallengeView, IssueChallengesRequest, IssuedChallenges, RequestView, RotatedChallenge };

/** No fleet with that name: HTTP 404. */
export class FleetNotFound extends FleetError {}
/** A malformed argument (fleet or profile name, time, duration, number): HTTP 400. */
export { FleetInputError };

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
  /** Issued certificates matching `filter`, oldest first. */
  certificates(filter: CertificateFilter): Promise<CertificateView[]>;
  /** Revokes one certificate (see {@link revokeCertificate}). */
  revoke(serial: string, reason: string): Promise<CertificateView>;
  /** One-time challenges (lifecycle-ops.ts); the only time they are shown. */
  issueChallenges(r: IssueChallengesRequest): Promise<IssuedChallenges>;
  challenges(fleet: string): Promise<ChallengeView[]>;
  rotateChallenge(fleet: string, overlap?: string): Promise<RotatedChallenge>;
  /** The manual-approval queue (default: status pending; 'all' for every state). */
  requests(filter: { fleet?: string; status?: string }): Promise<RequestView[]>;
  approve(id: string): Promise<RequestView>;
  reject(id: string, reason: string): Promise<RequestView>;
}

/** Which certificates `certificates` lists; every field narrows the list. */
export interface CertificateFilter {
  readonly fleet?: string;
  /** Key algorithm of the subject key, e.g. 'ml-dsa-65' (case-insensitive). */
  readonly alg?: string;
  /** Only certificates still valid whose notAfter falls within this many days from now. */
  readonly expiringDays?: number;
  /** Only revoked certificates. */
  readonly revoked?: boolean;
}

/** A certificate in the inventory, in JSON form. `status` adds 'expired' to the stored states. */
export interface CertificateView {
  /** Lowercase hex, as the store keys it (serialHex). */
  readonly serial: string;
  readonly subject: string;
  /** Key algorithm of the subject key, e.g. 'rsa-2048', 'ml-dsa-65'. */
  readonly algorithm: string;
  readonly fleet: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly status: 'valid' | 'revoked' | 'expired';
  readonly revokedAt?: string;
  readonly reason?: string;
}

/**
 * RFC 5280 §5.3.1 CRLReason names accepted for a revocation. 'removeFromCRL' (value 8) is left
 * out: it un-does a hold in delta CRLs and is not a reason to revoke.
 */
export const REVOCATION_REASONS = Object.freeze([
  'unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded',
  'cessationOfOperation', 'certificateHold', 'privilegeWithdrawn', 'aACompromise',
] as const);
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

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

/** A serial as people write it (`0A:1B`, `0x0a1b`, upper case) in the store's form (serialHex). */
export function normalizeSerial(text: string): string {
  const hex = text.trim().toLowerCase().replace(/^0x/, '').replace(/[:\s]/g, '');
  if (!/^[0-9a-f]{1,128}$/.test(hex)) throw new FleetInputError(`invalid serial ${JSON.stringify(text.slice(0, 80))}: use the hex serial that pqscep cert list prints`);
  // serialHex form: whole octets, leading zero octets stripped ('00' for zero).
  return (hex.length % 2 ? `0${hex}` : hex).replace(/^(00)+(?=..)/, '');
}

function certificateView(c: CertificateRecord, now: Date): CertificateView {
  const status = c.status === 'revoked' ? 'revoked' : c.notAfter < now ? 'expired' : 'valid';
  return wire<CertificateView>({
    serial: c.serial, subject: c.subject, algorithm: c.keyAlgorithm, fleet: c.fleet,
    notBefore: c.notBefore, notAfter: c.notAfter, status, revokedAt: c.revokedAt, reason: c.revocationReason,
  });
}

/** The inventory: certificates matching `filter`, as JSON-ready rows. */
export function listCertificates(ctx: FleetContext, filter: CertificateFilter, now = new Date()): CertificateView[] {
  if (filter.fleet !== undefined) requireFleet(ctx, filter.fleet);
  const days = filter.expiringDays;
  if (days !== undefined && !(days >= 0 && days <= 36_500)) throw new FleetInputError(`invalid expiring window ${days}: use 0 to 36500 days`);
  const alg = filter.alg?.toLowerCase();
  const until = days === undefined ? undefined : now.getTime() + days * 86_400_000;
  return ctx.store.listCertificates({ fleet: filter.fleet, status: filter.revoked ? 'revoked' : undefined })
    .filter((c) => alg === undefined || c.keyAlgorithm.toLowerCase() === alg)
    .filter((c) => until === undefined || (c.status === 'valid' && c.notAfter >= now && c.notAfter.getTime() <= until))
    .map((c) => certificateView(c, now));
}

/**
 * Revokes the certificate `serial` for `reason` (an RFC 5280 §5.3.1 name) and audits it as
 * 'certificate.revoke'. The next CRL of its CA lists it (src/scep/queries.ts rebuilds the CRL
 * when the revoked set changes), and a RenewalReq signed by it is refused from now on.
 */
export function revokeCertificate(ctx: FleetContext, serial: string, reason: string, actor: string, now = new Date()): CertificateView {
  if (!(REVOCATION_REASONS as readonly string[]).includes(reason)) {
    throw new FleetInputError(`invalid reason ${JSON.stringify(reason.slice(0, 64))}: use one of ${REVOCATION_REASONS.join(', ')} (RFC 5280 §5.3.1)`);
  }
  const key = normalizeSerial(serial);
  const record = ctx.store.certificate(key);
  if (!record) throw new FleetNotFound(`no certificate with serial ${key}; see pqscep cert list`);
  if (record.status === 'revoked') throw new FleetError(`certificate ${key} is already revoked (${record.revocationReason ?? 'unspecified'}, ${record.revokedAt?.toISOString() ?? 'unknown time'})`);
  // The revocation and its audit record are one write: neither exists without the other.
  const audit = { actor, action: 'certificate.revoke', subject: key, details: { serial: key, reason, fleet: record.fleet, subjectDn: record.subject } };
  if (!ctx.store.revoke(key, reason, now, audit)) throw new FleetError(`certificate ${key} could not be revoked (revoked meanwhile?)`);
  return certificateView(ctx.store.certificate(key)!, now);
}

const ERRORS: LifecycleErrors = { input: (m) => new FleetInputError(m), notFound: (m) => new FleetNotFound(m) };

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
    certificates: async (filter) => listCertificates(ctx, filter),
    revoke: async (serial, reason) => changed(revokeCertificate(ctx, serial, reason, actor)),
    issueChallenges: async (r) => issueChallenges(ctx, r, actor, ERRORS),
    challenges: async (fleet) => listChallenges(ctx, fleet, ERRORS),
    rotateChallenge: async (fleet, overlap) => rotateStaticChallenge(ctx, fleet, overlap, actor, ERRORS),
    requests: async (filter) => listRequests(ctx, filter, ERRORS),
    approve: async (id) => decideRequest(ctx, id, 'approved', undefined, actor, ERRORS),
    reject: async (id, reason) => decideRequest(ctx, id, 'rejected', reason, actor, ERRORS),
  };
}
