/**
 * Group commit for the PKIOperation writes. Each commit of the store costs an fsync
 * (synchronous = FULL, src/store/sqlite-store.ts), and an enrollment writes twice (issuance,
 * client record): under load the disk, not the CPU, set the pace. Here a request runs with its
 * writes captured instead of applied (`captureWrites`, through AsyncLocalStorage, so requests
 * in flight together never mix their writes); the captured writes of every request that
 * finished meanwhile are then applied in one store transaction (`GroupCommitter`), each
 * request's own writes in a savepoint, and each request is answered only after that commit
 * returned: a reply is still never sent before its rows are durable.
 * Only the writes whose result the request does not read are captured: recordIssuance,
 * recordTransaction, recordClient (addPending returns the record, so it stays immediate).
 * Captured writes are plain data, so a worker thread can hand them to the main thread.
 * Leaves out: a time window to wait for more requests (a batch is whatever finished while the
 * previous commit ran, so one request alone is committed at once).
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from '../scep/env.ts';
import type { Store } from './store.ts';

const CAPTURED = ['recordIssuance', 'recordTransaction', 'recordClient'] as const;
type Captured = (typeof CAPTURED)[number];

export interface Write {
  readonly method: Captured;
  readonly args: unknown[];
}

const context = new AsyncLocalStorage<Write[]>();

/** `store`, except that the captured writes made inside `captureWrites` are collected, not applied. */
export function deferringStore(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (!(CAPTURED as readonly (string | symbol)[]).includes(prop) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const writes = context.getStore();
        if (!writes) return (value as (...a: unknown[]) => unknown).apply(target, args);
        writes.push({ method: prop as Captured, args });
      };
    },
  });
}

/** Runs `fn` with the deferring store's writes collected; returns its value and those writes. */
export async function captureWrites<T>(fn: () => Promise<T>): Promise<{ value: T; writes: Write[] }> {
  const writes: Write[] = [];
  const value = await context.run(writes, fn);
  return { value, writes };
}

interface Entry {
  readonly writes: readonly Write[];
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export class GroupCommitter {
  private queue: Entry[] = [];
  private scheduled = false;

  constructor(private readonly store: Store, private readonly log: Logger) {}

  /** Resolves once `writes` are committed; rejects when they could not be (nothing of them is written). */
  apply(writes: readonly Write[]): Promise<void> {
    if (!writes.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ writes, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    const failed = new Map<Entry, Error>();
    try {
      this.store.batch(() => {
        for (const entry of batch) {
          try {
            this.store.batch(() => entry.writes.forEach((w) => this.write(w)));
          } catch (err) {
            failed.set(entry, err as Error);
          }
        }
      });
    } catch (err) {
      for (const e of batch) e.reject(err as Error);
      return;
    }
    for (const e of batch) {
      const err = failed.get(e);
      if (err) e.reject(err);
      else e.resolve();
    }
  }

  /** One write; a client record is best effort (client-record.ts never fails a reply for it). */
  private write(w: Write): void {
    const fn = this.store[w.method] as (...a: unknown[]) => void;
    if (w.method !== 'recordClient') return void fn.apply(this.store, w.args);
    try {
      this.store.batch(() => fn.apply(this.store, w.args));
    } catch (err) {
      this.log.warn({ err }, 'client compatibility record not written');
    }
  }
}
