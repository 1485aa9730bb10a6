/**
 * PKIOperation on more than one core: `workers - 1` worker threads (pki-worker.ts), each with
 * its own fleet environments and SQLite connection to the same WAL database, share the
 * PKIOperation work with the main thread, which keeps HTTP. A request goes to whichever of them
 * has the fewest requests in flight. Why threads, not node:cluster: one process keeps one
 * in-flight map and one RSS (a thread costs about a third of a process here), and the HTTP
 * layer, admin API and fleet timers stay single.
 *
 * Guarantees kept from the single-threaded server (RFC 8894 §3.3.1, our replay rule):
 *  - identical request bytes in flight at once are answered once: the main thread dedupes by
 *    the SHA-256 of the message before dispatching (pki-operation.ts dedupes again per thread);
 *  - an executor answers only with the fleet generation the main thread has: after a fleet
 *    change a worker gets no requests until it has rebuilt its environments.
 * Leaves out: restarting a crashed worker (its requests fail with HTTP 500 and it is dropped).
 * @module
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { ServerConfig } from '../config.ts';
import type { ClientInfo } from './client-record.ts';
import type { Logger, ScepEnv } from './env.ts';
import { ProtocolError, type HttpStatus } from './errors.ts';
import { pkiOperation } from './pki-operation.ts';

export type PkiRunner = (der: Uint8Array, env: ScepEnv, client?: ClientInfo) => Promise<Uint8Array>;

/** Main thread -> worker. */
export type ToWorker =
  | { readonly type: 'op'; readonly id: number; readonly der: Uint8Array; readonly fleet: string; readonly client?: ClientInfo }
  | { readonly type: 'refresh'; readonly generation: number }
  | { readonly type: 'close' };

/** Worker -> main thread. */
export type FromWorker =
  | { readonly type: 'ready'; readonly generation: number }
  | { readonly type: 'refreshed'; readonly generation: number }
  | { readonly type: 'done'; readonly id: number; readonly reply: Uint8Array }
  | { readonly type: 'failed'; readonly id: number; readonly status?: HttpStatus; readonly message: string };

interface Slot {
  readonly worker: Worker;
  generation: number;
  busy: number;
  alive: boolean;
}

const BOOT = new URL('./pki-worker-boot.js', import.meta.url);

export class PkiPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
  private readonly inflight = new Map<string, Promise<Uint8Array>>();
  private nextId = 1;
  private local = 0;
  private generation = 0;

  private constructor(private readonly log: Logger) {}

  /** Starts `config.workers - 1` threads; resolves once each has built its environments. */
  static async start(config: ServerConfig, challenge: string, log: Logger): Promise<PkiPool> {
    const pool = new PkiPool(log);
    await Promise.all(Array.from({ length: Math.max(0, config.workers - 1) }, () => pool.spawn(config, challenge)));
    return pool;
  }

  private spawn(config: ServerConfig, challenge: string): Promise<void> {
    const worker = new Worker(BOOT, { workerData: { config, challenge } });
    const slot: Slot = { worker, generation: -1, busy: 0, alive: true };
    return new Promise((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          slot.generation = this.generation;
          this.slots.push(slot);
          resolve();
        } else if (m.type === 'refreshed') slot.generation = m.generation;
        else this.settle(slot, m);
      });
      worker.once('error', (err) => {
        slot.alive = false;
        this.log.error({ err }, 'PKIOperation worker failed');
        reject(err);
      });
      worker.once('exit', () => {
        slot.alive = false;
      });
    });
  }

  private settle(slot: Slot, m: Extract<FromWorker, { id: number }>): void {
    slot.busy--;
    const p = this.pending.get(m.id);
    this.pending.delete(m.id);
    if (!p) return;
    if (m.type === 'done') p.resolve(m.reply);
    else p.reject(m.status ? new ProtocolError(m.status, m.message) : new Error(`PKIOperation worker: ${m.message}`));
  }

  /** The main thread's fleets changed: workers rebuild theirs and get no requests until they have. */
  fleetsChanged(): void {
    this.generation++;
    for (const s of this.slots) if (s.alive) s.worker.postMessage({ type: 'refresh', generation: this.generation } satisfies ToWorker);
  }

  readonly run: PkiRunner = (der, env, client) => {
    const hash = createHash('sha256').update(der).digest('hex');
    const running = this.inflight.get(hash);
    if (running) return running;
    const work = this.dispatch(der, env, client).finally(() => this.inflight.delete(hash));
    this.inflight.set(hash, work);
    return work;
  };

  private async dispatch(der: Uint8Array, env: ScepEnv, client?: ClientInfo): Promise<Uint8Array> {
    const ready = this.slots.filter((s) => s.alive && s.generation === this.generation);
    const slot = ready.reduce<Slot | undefined>((best, s) => (!best || s.busy < best.busy ? s : best), undefined);
    if (!slot || slot.busy > this.local) {
      this.local++;
      try {
        return await pkiOperation(der, env, client);
      } finally {
        this.local--;
      }
    }
    const id = this.nextId++;
    slot.busy++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ type: 'op', id, der, fleet: env.fleet, client } satisfies ToWorker);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map(async (s) => {
      if (!s.alive) return;
      const exited = new Promise((r) => s.worker.once('exit', r));
      s.worker.postMessage({ type: 'close' } satisfies ToWorker);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
      await s.worker.terminate();
    }));
    for (const p of this.pending.values()) p.reject(new Error('server closing'));
    this.pending.clear();
  }
}
