/**
 * PKIOperation on more than one core: `workers - 1` worker threads (pki-worker.ts), each with
 * its own fleet environments and SQLite connection to the same WAL database, share the
 * PKIOperation work with the main thread, which keeps HTTP. A request goes to whichever of them
 * has the fewest requests in flight. Why threads, not node:cluster: one process keeps one
 * in-flight map and one RSS (a thread costs about a third of a process here), and the HTTP
 * layer, admin API and fleet timers stay single.
 *
 * Guarantees kept from the single-threaded server (RFC 8894 §3.3.1, our replay rule):
 *  - identical request bytes to one fleet in flight at once are answered once: the main thread
 *    dedupes by fleet and the SHA-256 of the message before dispatching (pki-operation.ts
 *    dedupes again per thread); the same bytes to another fleet are that fleet's request;
 *  - one transaction's requests are answered one at a time, each through to its commit, so a
 *    resend sees the certificate an earlier one stored (enroll.ts). The thread that parses a
 *    request asks the main thread for its transaction's turn (a `turn`/`go` message pair for
 *    a worker), so the main thread never parses a request only to learn its transactionID;
 *  - an executor answers only with the fleet generation the main thread has: after a fleet
 *    change a worker gets no requests until it has rebuilt its environments.
 * Every request's store writes are captured and committed in groups by the main thread
 * (src/store/group-commit.ts), the only writer on the PKIOperation path.
 * A worker that exits (a crash) is dropped; the requests it had in flight are answered on the
 * main thread instead (none of their writes was committed: that happens after `done`).
 * Leaves out: starting a replacement worker.
 * @module
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { ServerConfig } from '../config.ts';
import type { ClientInfo } from './client-record.ts';
import type { Logger, ScepEnv } from './env.ts';
import { ProtocolError, type HttpStatus } from './errors.ts';
import { oneAtATime } from './one-at-a-time.ts';
import { pkiOperation, replayKey, type Observe, type PkiObservation, type Turn } from './pki-operation.ts';
import { captureWrites, GroupCommitter, type Write } from '../store/group-commit.ts';
import type { Store } from '../store/store.ts';

export type PkiRunner = (der: Uint8Array, env: ScepEnv, client?: ClientInfo, observe?: Observe) => Promise<Uint8Array>;

/** Main thread -> worker. */
export type ToWorker =
  | { readonly type: 'op'; readonly id: number; readonly der: Uint8Array; readonly fleet: string; readonly client?: ClientInfo }
  | { readonly type: 'go'; readonly id: number }
  | { readonly type: 'refresh'; readonly generation: number }
  | { readonly type: 'close' };

/** Worker -> main thread. */
export type FromWorker =
  | { readonly type: 'ready'; readonly generation: number }
  | { readonly type: 'refreshed'; readonly generation: number }
  | { readonly type: 'turn'; readonly id: number; readonly key: string }
  | { readonly type: 'done'; readonly id: number; readonly reply: Uint8Array; readonly writes: readonly Write[]; readonly observation?: PkiObservation }
  | { readonly type: 'failed'; readonly id: number; readonly status?: HttpStatus; readonly message: string };

interface Slot {
  readonly worker: Worker;
  generation: number;
  busy: number;
  alive: boolean;
}

const BOOT = new URL('./pki-worker-boot.js', import.meta.url);

/**
 * Cap on a worker's young generation (V8's nursery). A PKIOperation makes much short-lived
 * garbage (asn1js objects), and under load V8 grows the nursery to its default maximum, which
 * costs about 30 MB of RSS per thread; a smaller one is scavenged more often, each time as
 * quickly, because only the requests in flight survive. Measured with `npm run bench:load`
 * (RSA-2048, concurrency 16, two runs each): peak RSS 186-188 MiB at 8 MB, 194-196 MiB at 16 MB,
 * 203-212 MiB uncapped, with no throughput difference beyond run-to-run noise.
 */
const WORKER_YOUNG_GENERATION_MB = 8;

/** The turn of one request's transaction, held from when it is granted until its writes are committed. */
interface Ticket {
  release?: () => void;
}

/** A request sent to a worker, kept until it answers (or, if it exits, to answer it here). */
interface Pending {
  readonly resolve: (r: { value: Uint8Array; writes: readonly Write[] }) => void;
  readonly reject: (e: Error) => void;
  readonly observe?: Observe;
  readonly ticket: Ticket;
  readonly slot: Slot;
  readonly der: Uint8Array;
  readonly env: ScepEnv;
  readonly client?: ClientInfo;
}

export class PkiPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly inTurn = oneAtATime();
  private readonly committer: GroupCommitter;
  private readonly inflight = new Map<string, Promise<Uint8Array>>();
  private nextId = 1;
  private local = 0;
  private generation = 0;
  private closing = false;

  private constructor(store: Store, private readonly log: Logger, private readonly boot: URL) {
    this.committer = new GroupCommitter(store, log);
  }

  /**
   * Starts `config.workers - 1` threads; resolves once each has built its environments. The
   * fleets' environments must use `deferringStore(store)` (group-commit.ts): this pool commits
   * every request's writes to `store`, in groups, before it answers. `boot` is the worker's
   * entry (tests give another).
   */
  static async start(config: ServerConfig, challenge: string, store: Store, log: Logger, boot: URL = BOOT): Promise<PkiPool> {
    const pool = new PkiPool(store, log, boot);
    await Promise.all(Array.from({ length: Math.max(0, config.workers - 1) }, () => pool.spawn(config, challenge)));
    return pool;
  }

  private spawn(config: ServerConfig, challenge: string): Promise<void> {
    const worker = new Worker(this.boot, { workerData: { config, challenge }, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    const slot: Slot = { worker, generation: -1, busy: 0, alive: true };
    return new Promise((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          slot.generation = this.generation;
          this.slots.push(slot);
          resolve();
        } else if (m.type === 'refreshed') slot.generation = m.generation;
        else if (m.type === 'turn') this.grant(m.id, m.key);
        else this.settle(slot, m);
      });
      worker.once('error', (err) => {
        slot.alive = false;
        this.log.error({ err }, 'PKIOperation worker failed');
        reject(err);
      });
      worker.once('exit', (code) => {
        slot.alive = false;
        const orphans = [...this.pending].filter(([, p]) => p.slot === slot);
        if (!this.closing) this.log.error({ exitCode: code, inFlight: orphans.length }, 'PKIOperation worker exited; its requests are answered on the main thread');
        for (const [id, p] of orphans) {
          this.pending.delete(id);
          p.ticket.release?.(); // the worker's turn of the transaction, if it had one
          p.ticket.release = undefined;
          if (this.closing) p.reject(new Error('server closing'));
          else this.runHere(p.der, p.env, p.ticket, p.client, p.observe).then(p.resolve, p.reject);
        }
      });
    });
  }

  private settle(slot: Slot, m: Extract<FromWorker, { type: 'done' | 'failed' }>): void {
    slot.busy--;
    const p = this.pending.get(m.id);
    this.pending.delete(m.id);
    if (!p) return;
    if (m.type === 'done') {
      if (m.observation) p.observe?.(m.observation);
      p.resolve({ value: m.reply, writes: m.writes });
    }
    else p.reject(m.status ? new ProtocolError(m.status, m.message) : new Error(`PKIOperation worker: ${m.message}`));
  }

  /** A worker has read request `id` of transaction `key`: it may go on when that transaction's earlier requests are committed. */
  private grant(id: number, key: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    void this.acquire(key).then((release) => {
      // The worker exited (its request is being answered here, under a turn of its own) or the
      // pool is closing while this waited: the turn is not needed, and holding it would lock
      // the transaction for good.
      if (!p.slot.alive || this.pending.get(id) !== p) return release();
      p.ticket.release = release;
      p.slot.worker.postMessage({ type: 'go', id } satisfies ToWorker);
    });
  }

  /** Waits for the turn of `key`; resolves with the function that ends it. */
  private acquire(key: string): Promise<() => void> {
    return new Promise((granted) => void this.inTurn(key, () => new Promise<void>((release) => granted(release))));
  }

  /** The main thread's fleets changed: workers rebuild theirs and get no requests until they have. */
  fleetsChanged(): void {
    this.generation++;
    for (const s of this.slots) if (s.alive) s.worker.postMessage({ type: 'refresh', generation: this.generation } satisfies ToWorker);
  }

  readonly run: PkiRunner = (der, env, client, observe) => {
    const key = replayKey(env.fleet, createHash('sha256').update(der).digest('hex'));
    const running = this.inflight.get(key);
    if (running) return running;
    const work = this.dispatch(der, env, client, observe).finally(() => this.inflight.delete(key));
    this.inflight.set(key, work);
    return work;
  };

  /** Answers in this thread or a worker, then commits the request's writes (grouped) and only then returns the reply. */
  private async dispatch(der: Uint8Array, env: ScepEnv, client?: ClientInfo, observe?: Observe): Promise<Uint8Array> {
    const ticket: Ticket = {};
    try {
      const { value, writes } = await this.execute(der, env, ticket, client, observe);
      await this.committer.apply(writes);
      return value;
    } finally {
      ticket.release?.();
    }
  }

  private async execute(der: Uint8Array, env: ScepEnv, ticket: Ticket, client?: ClientInfo, observe?: Observe): Promise<{ value: Uint8Array; writes: readonly Write[] }> {
    const ready = this.slots.filter((s) => s.alive && s.generation === this.generation);
    const slot = ready.reduce<Slot | undefined>((best, s) => (!best || s.busy < best.busy ? s : best), undefined);
    if (!slot || slot.busy > this.local) return this.runHere(der, env, ticket, client, observe);
    const id = this.nextId++;
    slot.busy++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, observe, ticket, slot, der, env, client });
      slot.worker.postMessage({ type: 'op', id, der, fleet: env.fleet, client } satisfies ToWorker);
    });
  }

  /** Answers on this thread, with the writes captured for the caller to commit. */
  private async runHere(der: Uint8Array, env: ScepEnv, ticket: Ticket, client?: ClientInfo, observe?: Observe): Promise<{ value: Uint8Array; writes: readonly Write[] }> {
    this.local++;
    const turn: Turn = async (key, task) => {
      ticket.release = await this.acquire(key);
      return task();
    };
    try {
      return await captureWrites(() => pkiOperation(der, env, client, observe, turn));
    } finally {
      this.local--;
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    // A worker closes its store and ends; one that does not within a second is terminated.
    await Promise.all(this.slots.map(async (s) => {
      if (!s.alive) return;
      const exited = new Promise((r) => s.worker.once('exit', r));
      s.worker.postMessage({ type: 'close' } satisfies ToWorker);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 1000).unref())]);
      await s.worker.terminate().catch(() => {});
    }));
    for (const p of this.pending.values()) p.reject(new Error('server closing'));
    this.pending.clear();
  }
}
