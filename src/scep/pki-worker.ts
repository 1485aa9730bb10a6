/**
 * A PKIOperation worker thread (started by pki-pool.ts): opens its own connection to the
 * server's SQLite store, builds the same fleet environments from the same configuration and
 * profiles (the main thread has already created the CA and RA keys), and answers `op` messages
 * with `pkiOperation` (RFC 8894 §3.3) and the store writes it made, captured for the main
 * thread to commit (src/store/group-commit.ts). It rebuilds its environments when the main thread says
 * the fleets changed, and never writes fleet records itself (the main thread settles switches).
 * Leaves out: HTTP, the admin API, GetCACert and the other queries (the main thread answers them).
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { pino } from 'pino';
import type { ServerConfig } from '../config.ts';
import { setPqBackend } from '../crypto/backend.ts';
import { FleetManager } from '../fleet/fleet-manager.ts';
import { resolveProfiles } from '../server-profiles.ts';
import { openSqliteStore } from '../store/sqlite-store.ts';
import { captureWrites, deferringStore } from '../store/group-commit.ts';
import { ProtocolError } from './errors.ts';
import type { FromWorker, ToWorker } from './pki-pool.ts';
import { pkiOperation, type PkiObservation, type Turn } from './pki-operation.ts';

const { config, challenge } = workerData as { config: ServerConfig; challenge: string };
const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);

setPqBackend(config.pqBackend);
const log = pino({ level: config.logLevel });
const store = openSqliteStore(join(config.dataDir, 'pqscep.db'));
const { profiles } = resolveProfiles(config);
// Writes are captured and sent to the main thread, which commits them (group-commit.ts).
const fleets = new FleetManager({ dataDir: config.dataDir, store: deferringStore(store), log, staticSecret: challenge, allowLegacy: config.allowLegacy, crlValidityHours: config.crlValidityHours }, profiles);
await fleets.refresh();

/** Requests waiting for their transaction's turn (pki-pool.ts grants it with a `go` message). */
const waiting = new Map<number, () => void>();

/** The main thread's turn for request `id`: ask, wait for `go`, then run. */
const turnOf = (id: number): Turn => (key, task) => new Promise<void>((go) => {
  waiting.set(id, go);
  send({ type: 'turn', id, key });
}).then(task);

port.on('message', (m: ToWorker) => {
  if (m.type === 'go') {
    waiting.get(m.id)?.();
    waiting.delete(m.id);
  } else if (m.type === 'refresh') {
    fleets.refresh().then(() => send({ type: 'refreshed', generation: m.generation }), (err: Error) => log.error({ err }, 'worker fleet refresh failed'));
  } else if (m.type === 'close') {
    store.close();
    port.close();
  } else {
    const env = fleets.env(m.fleet);
    if (!env) return send({ type: 'failed', id: m.id, status: 404, message: `no fleet named ${JSON.stringify(m.fleet.slice(0, 64))}` });
    let observation: PkiObservation | undefined;
    captureWrites(() => pkiOperation(m.der, env, m.client, (o) => (observation = o), turnOf(m.id))).then(
      ({ value: reply, writes }) => send({ type: 'done', id: m.id, reply, writes, observation }),
      (err: Error) => send({ type: 'failed', id: m.id, message: err.message, ...(err instanceof ProtocolError && { status: err.status }) }),
    );
  }
});
send({ type: 'ready', generation: 0 });
