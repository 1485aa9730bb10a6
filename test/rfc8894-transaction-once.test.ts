/**
 * RFC 8894 §3.2.1.1 / §3.3.1: one transaction, one certificate, and requests that must not earn
 * another. Checks, over HTTP against an in-process server:
 * - a resent PKCSReq (same transactionID and key, fresh senderNonce: a client whose reply was
 *   lost) gets the certificate already issued, also when the resends arrive concurrently;
 * - a PKCSReq reusing a transactionID that holds another key's certificate is FAILURE badRequest;
 * - an exact replay is answered with the identical reply after a server restart (the store keeps
 *   it), and an exact replay of a renewal signed by a since revoked certificate issues nothing new;
 * - a new RenewalReq signed by a revoked certificate is FAILURE badRequest;
 * - once the transaction's certificate is revoked, the same key may enroll again.
 * Leaves out: manual approval (rfc8894-pki-operation.test.ts) and kills mid-write
 * (reliability/crash-safety.test.ts).
 */
import type { Certificate } from '@peculiar/asn1-x509';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serialHex } from '../src/ca/certificate.ts';
import { buildCsr } from '../src/client/csr.ts';
import type { CertRepResult } from '../src/client/pki-request.ts';
import { equalBytes } from '../src/cms/der.ts';
import { spkiOf } from '../src/cms/signed-data.ts';
import { clientRegistry, device, exchange, post, request, testServer, type Device, type TestServer } from './helpers/server.ts';

const certOf = (reply: CertRepResult, d: Device): Certificate => {
  expect(reply.status, JSON.stringify(reply)).toBe('SUCCESS');
  const cert = reply.status === 'SUCCESS' ? reply.certificates.find((c) => equalBytes(spkiOf(c), d.key.spki)) : undefined;
  expect(cert).toBeDefined();
  return cert!;
};
const serialOf = (cert: Certificate) => serialHex(cert.tbsCertificate.serialNumber);

describe('RFC 8894 §3.2.1.1 one transaction, one certificate', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer();
  });
  afterAll(() => server.stop());
  const issuedIn = (d: Device) => server.env.store.certificatesByTransaction(d.transactionId);

  it('a resent PKCSReq with a fresh senderNonce gets the certificate already issued', async () => {
    const d = await device(server.url, 'CN=resend,O=Test', 'ecdsa-p256');
    const first = certOf(await exchange(server.url, d, await request(d)), d);
    const again = certOf(await exchange(server.url, d, await request(d)), d);
    expect(serialOf(again)).toBe(serialOf(first));
    expect(issuedIn(d)).toHaveLength(1);
  });

  it('eight concurrent PKCSReqs of one transaction (different senderNonces) yield one certificate', async () => {
    const d = await device(server.url, 'CN=concurrent,O=Test', 'ecdsa-p256');
    const requests = await Promise.all(Array.from({ length: 8 }, () => request(d)));
    const replies = await Promise.all(requests.map((r) => exchange(server.url, d, r)));
    expect(new Set(replies.map((r) => serialOf(certOf(r, d)))).size).toBe(1);
    expect(issuedIn(d)).toHaveLength(1);
  });

  it('a PKCSReq reusing a transactionID that holds another key\'s certificate gets FAILURE badRequest', async () => {
    const owner = await device(server.url, 'CN=owner,O=Test', 'ecdsa-p256');
    certOf(await exchange(server.url, owner, await request(owner)), owner);
    const other = await device(server.url, 'CN=squatter,O=Test', 'ecdsa-p256');
    const squatter: Device = { ...other, transactionId: owner.transactionId };
    expect(await exchange(server.url, squatter, await request(squatter))).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect(issuedIn(owner)).toHaveLength(1);
  });

  it('once the transaction\'s certificate is revoked, the same key enrolls again', async () => {
    const d = await device(server.url, 'CN=re-enroll,O=Test', 'ecdsa-p256');
    const first = certOf(await exchange(server.url, d, await request(d)), d);
    expect(server.env.store.revoke(serialOf(first), 'superseded', new Date())).toBe(true);
    const second = certOf(await exchange(server.url, d, await request(d)), d);
    expect(serialOf(second)).not.toBe(serialOf(first));
  });

  it('a RenewalReq signed by a revoked certificate gets FAILURE badRequest; an exact replay of an earlier renewal it signed issues nothing', async () => {
    const d = await device(server.url, 'CN=revoked-signer,O=Test', 'ecdsa-p256');
    const me = { certificate: certOf(await exchange(server.url, d, await request(d)), d), key: d.key };
    const next = await device(server.url, 'CN=revoked-signer,O=Test', 'ecdsa-p256');
    const renewal = await request(next, { messageType: 'RenewalReq', payload: await buildCsr({ subject: next.subject, key: next.key }, clientRegistry), signer: me });
    const renewed = await post(server.url, renewal.der);
    expect(renewed.status).toBe(200);
    expect(server.env.store.revoke(serialOf(me.certificate), 'keyCompromise', new Date())).toBe(true);

    const replay = await post(server.url, renewal.der);
    expect(equalBytes(replay.body, renewed.body)).toBe(true);
    expect(issuedIn(next)).toHaveLength(1);

    const third = await device(server.url, 'CN=revoked-signer,O=Test', 'ecdsa-p256');
    const refused = await request(third, { messageType: 'RenewalReq', payload: await buildCsr({ subject: third.subject, key: third.key }, clientRegistry), signer: me });
    expect(await exchange(server.url, third, refused, me)).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect(issuedIn(third)).toHaveLength(0);
  });
});

describe('RFC 8894 §3.3.1 exact replay across a restart', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pqscep-replay-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('the same bytes after a restart get the identical reply and no second certificate', async () => {
    const before = await testServer({ dataDir });
    const d = await device(before.url, 'CN=replay-restart,O=Test', 'ecdsa-p256');
    const req = await request(d);
    const first = await post(before.url, req.der);
    expect(first.status).toBe(200);
    await before.stop();

    const after = await testServer({ dataDir });
    try {
      const replay = await post(after.url, req.der);
      expect(replay.status).toBe(200);
      expect(equalBytes(replay.body, first.body)).toBe(true);
      expect(after.env.store.certificatesByTransaction(d.transactionId)).toHaveLength(1);
    } finally {
      await after.stop();
    }
  });
});
