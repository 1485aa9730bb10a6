/**
 * Runs tasks of one key strictly one after another, tasks of different keys concurrently: the
 * requests of one SCEP transaction (RFC 8894 §3.2.1.1: the transactionID names it across
 * resends) are answered one at a time, so a resend sees the certificate an earlier request of
 * its transaction stored (src/scep/enroll.ts: one transaction, one certificate).
 * Leaves out: other processes (one server per data folder).
 * @module
 */

/** A fresh serializer with its own queue per key. */
export function oneAtATime(): <T>(key: string, task: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(key: string, task: () => Promise<T>): Promise<T> => {
    const run = (tails.get(key) ?? Promise.resolve()).then(task, task);
    const settled = run.then(() => undefined, () => undefined);
    tails.set(key, settled);
    void settled.then(() => {
      if (tails.get(key) === settled) tails.delete(key);
    });
    return run;
  };
}
