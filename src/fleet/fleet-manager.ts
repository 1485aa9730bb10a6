/**
 * Keeps one frozen ScepEnv per fleet and swaps them whole when the fleets change (another
 * process — the CLI — or the admin API wrote the store; the server polls a version number every
 * 500 ms) or when a scheduled switch reaches its announce or effective time. A request takes its
 * fleet's env once, so no request ever sees half a profile.
 * @module
 */
import type { Profile } from '../policy/profile.ts';
import type { ScepEnv } from '../scep/env.ts';
import type { FleetRecord } from '../store/store.ts';
import { CaCache, fleetEnv, type FleetServices } from './fleet-env.ts';
import { settle } from './fleet-ops.ts';

export class FleetManager {
  private envs: ReadonlyMap<string, ScepEnv> = new Map();
  private version = Number.NaN;
  private nextTransition = Number.POSITIVE_INFINITY;
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly services: FleetServices,
    readonly profiles: ReadonlyMap<string, Profile>,
    /** Called after every rebuild with the new environments (the server publishes data/ca.pem). */
    private readonly onChange: (envs: ReadonlyMap<string, ScepEnv>) => void = () => {},
    private readonly cas = new CaCache(services.dataDir),
  ) {}

  /** The environment serving `fleet` right now, or undefined for an unknown fleet. */
  env(fleet: string): ScepEnv | undefined {
    return this.envs.get(fleet);
  }

  /**
   * Rebuilds the environments if anything changed. Runs are serialised: a call made while one
   * runs gets a fresh run after it, so a caller that just wrote the store sees its change.
   */
  refresh(): Promise<void> {
    const run = this.queue.then(() => this.rebuild(new Date()));
    this.queue = run.catch(() => {});
    return run;
  }

  private async rebuild(now: Date): Promise<void> {
    const { store, log } = this.services;
    const version = store.fleetsVersion();
    if (version === this.version && now.getTime() < this.nextTransition) return;
    const records = store.fleets();
    const envs = new Map<string, ScepEnv>();
    let nextTransition = Number.POSITIVE_INFINITY;
    for (const stored of records) {
      const { record, due, announcing } = settle(stored, now);
      if (due) store.saveFleet(record, { actor: 'server', action: 'fleet.switch.effective', subject: record.name, details: { from: stored.profile, to: record.profile } });
      for (const t of [record.next?.announceAt, record.next?.effectiveAt]) if (t && t > now) nextTransition = Math.min(nextTransition, t.getTime());
      const env = await this.build(record, announcing);
      if (env) envs.set(record.name, env);
      else if (this.envs.has(record.name)) envs.set(record.name, this.envs.get(record.name)!);
    }
    const first = Number.isNaN(this.version);
    this.envs = envs;
    // NOTE: the version read before the records, not after the awaits above: a change written
    // meanwhile (CLI, admin API) must trigger the next rebuild, not be marked as seen. Our own
    // `due` writes cost one redundant rebuild at most.
    this.version = version;
    this.nextTransition = nextTransition;
    this.onChange(envs);
    if (!first) log.info({ fleets: [...envs.values()].map((e) => `${e.fleet}=${e.profile}${e.nextCa ? ' (next CA announced)' : ''}`) }, 'fleets changed');
  }

  private async build(record: FleetRecord, announcing: string | undefined): Promise<ScepEnv | undefined> {
    const profile = this.profiles.get(record.profile);
    if (!profile) {
      this.services.log.error({ fleet: record.name, profile: record.profile }, 'fleet names an unknown profile; keeping its previous environment');
      return undefined;
    }
    const next = announcing ? this.profiles.get(announcing) : undefined;
    const previous = record.previousProfile ? [this.profiles.get(record.previousProfile)].filter((p): p is Profile => p !== undefined) : [];
    return fleetEnv(record.name, profile, this.services, this.cas, { next, previous });
  }

  /** Polls for changes every `intervalMs` until stop(). */
  start(intervalMs = 500): void {
    this.timer = setInterval(() => {
      this.refresh().catch((err) => this.services.log.error({ err }, 'fleet refresh failed'));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.queue;
  }
}
