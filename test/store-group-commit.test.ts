/**
 * Group commit of PKIOperation writes (src/store/group-commit.ts) on the SQLite store: writes
 * made inside captureWrites are held back until the committer applies them; requests committed
 * together land in one transaction, yet a request whose writes fail (a duplicate serial) is
 * rolled back alone and rejected while the others of its group are written; outside a capture
 * the deferring store writes at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureWrites, deferringStore, GroupCommitter } from '../src/store/group-commit.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import { SerialCollisionError, type CertificateRecord, type TransactionRecord } from '../src/store/store.ts';
import { silentLog } from './helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'pqscep-group-commit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cert = (serial: string): CertificateRecord => ({
  serial, subject: `CN=${serial}`, sans: [], notBefore: new Date(0), notAfter: new Date(86_400_000), keyAlgorithm: 'rsa-2048',
  signatureAlgorithm: 'sha256WithRSAEncryption', issuer: 'aa'.repeat(32), transactionId: `tx-${serial}`, fleet: 'default', status: 'valid',
  der: new Uint8Array([0x30, 0x01, serial.length]),
});
const tx = (hash: string): TransactionRecord => ({ transactionId: `tx-${hash}`, fleet: 'default', requestHash: hash, messageType: 'PKCSReq', status: 'SUCCESS', reply: new Uint8Array([1, 2, 3]), createdAt: new Date(1000) });

describe('group commit', () => {
  const store = openSqliteStore(join(dir, 'pqscep.db'));
  const deferred = deferringStore(store);
  const committer = new GroupCommitter(store, silentLog);

  it('holds captured writes back until they are committed', async () => {
    const { value, writes } = await captureWrites(async () => {
      deferred.recordIssuance(cert('01'), { ...tx('h1'), certSerial: '01' } as TransactionRecord);
      return 'answered';
    });
    expect(value).toBe('answered');
    expect(writes.map((w) => w.method)).toEqual(['recordIssuance']);
    expect(store.certificate('01')).toBeUndefined();
    await committer.apply(writes);
    expect(store.certificate('01')?.subject).toBe('CN=01');
    expect(store.transactionByRequestHash('default', 'h1')?.transactionId).toBe('tx-h1');
  });

  it('rolls back and rejects only the request whose writes fail in a group', async () => {
    const ok = await captureWrites(async () => deferred.recordIssuance(cert('02'), tx('h2')));
    const clash = await captureWrites(async () => {
      deferred.recordTransaction(tx('h3'));
      deferred.recordIssuance(cert('01'), tx('h4')); // serial 01 exists: SerialCollisionError
    });
    const results = await Promise.allSettled([committer.apply(ok.writes), committer.apply(clash.writes)]);
    expect(results[0].status).toBe('fulfilled');
    expect(results[1].status).toBe('rejected');
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(SerialCollisionError);
    expect(store.certificate('02')).toBeDefined();
    expect(store.transactionByRequestHash('default', 'h3')).toBeUndefined(); // the failed request's other write is undone too
    expect(store.transactionByRequestHash('default', 'h4')).toBeUndefined();
  });

  it('writes at once outside a capture', () => {
    deferred.recordTransaction(tx('h5'));
    expect(store.transactionByRequestHash('default', 'h5')).toBeDefined();
  });
});
