/**
 * Renewal rules (RFC 8894 §3.3.1.2; issue: lifecycle), per profile `renewal`: the renewal
 * window (days before notAfter), re-key required/forbidden, maximum valid certificates per
 * subject, and revoke-on-replace (the renewed certificate is revoked as superseded in the same
 * write as its successor, and the CRL lists it). A PKCSReq signed by a certificate we issued
 * for the same subject is a renewal too; for another subject it needs a challenge.
 * Leaves out: renewal through the clients we did not write (test/interop/).
 */
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Certificate } from '@peculiar/asn1-x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serialHex } from '../src/ca/certificate.ts';
import { buildCsr } from '../src/client/csr.ts';
import type { CertRepResult } from '../src/client/pki-request.ts';
import { equalBytes } from '../src/cms/der.ts';
import { spkiOf } from '../src/cms/signed-data.ts';
import type { PrivateKeyHandle } from '../src/crypto/types.ts';
import { DEFAULT_PROFILES_DIR } from '../src/server.ts';
import { cliOk } from './helpers/cli.ts';
import { clientRegistry, device, exchange, request, testServer, type Device, type TestServer } from './helpers/server.ts';

let server: TestServer;
let profilesDir: string;

beforeAll(async () => {
  profilesDir = mkdtempSync(join(tmpdir(), 'pqscep-profiles-'));
  for (const f of readdirSync(DEFAULT_PROFILES_DIR)) copyFileSync(join(DEFAULT_PROFILES_DIR, f), join(profilesDir, f));
  const classic = JSON.parse(readFileSync(join(DEFAULT_PROFILES_DIR, 'classic-rsa.json'), 'utf8')) as Record<string, unknown>;
  const profile = (name: string, renewal: object) => writeFileSync(join(profilesDir, `${name}.json`), JSON.stringify({ ...classic, renewal }));
  profile('renew-strict', { windowDays: 400, rekey: 'required', maxActivePerSubject: 1, revokeOnReplace: true });
  profile('renew-window', { windowDays: 30 });
  profile('renew-same-key', { rekey: 'forbidden' });
  server = await testServer({ profilesDir });
  for (const name of ['renew-strict', 'renew-window', 'renew-same-key']) await cliOk(['fleet', 'create', name, '--profile', name, '--data', server.dataDir, '--profiles', profilesDir]);
  await server.fleets.refresh();
});
afterAll(async () => {
  await server.stop();
  rmSync(profilesDir, { recursive: true, force: true });
});

function certFor(reply: CertRepResult, key: PrivateKeyHandle): Certificate {
  expect(reply.status).toBe('SUCCESS');
  const cert = reply.status === 'SUCCESS' ? reply.certificates.find((c) => equalBytes(spkiOf(c), key.spki)) : undefined;
  expect(cert).toBeDefined();
  return cert!;
}

const url = (fleet: string) => `${server.url}/${fleet}`;
const lastReason = () => String(server.env.store.audit().filter((a) => a.action === 'request.reject').at(-1)?.details?.reason);

/** Enrolls `subject` into `fleet` with the challenge; returns the device and its certificate. */
async function enrolled(fleet: string, subject: string): Promise<{ d: Device; cert: Certificate }> {
  const d = await device(url(fleet), subject);
  return { d, cert: certFor(await exchange(url(fleet), d, await request(d)), d.key) };
}

/** A renewal: signed by `old` (certificate and key), for `next`'s key unless `sameKey`; no challenge. */
async function renew(fleet: string, old: { d: Device; cert: Certificate }, o: { sameKey?: boolean; messageType?: 'RenewalReq' | 'PKCSReq'; subject?: string } = {}) {
  const next = o.sameKey ? old.d : await device(url(fleet), o.subject ?? old.d.subject);
  const me = { certificate: old.cert, key: old.d.key };
  const csr = await buildCsr({ subject: o.subject ?? old.d.subject, key: next.key }, clientRegistry);
  const reply = await exchange(url(fleet), next, await request(next, { messageType: o.messageType ?? 'RenewalReq', payload: csr, signer: me }), me);
  return { next, reply };
}

describe('renewal rules per profile', () => {
  it('renewal.windowDays: a renewal before the window opens is FAILURE badRequest, saying when it opens', async () => {
    const first = await enrolled('renew-window', 'CN=window,O=Test');
    const { reply } = await renew('renew-window', first);
    expect(reply).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect(lastReason()).toMatch(/too early: the renewal window \(30 days before notAfter .*\) opens at /);
  });

  it('renewal.rekey required: the same key is refused, a new key renews; revokeOnReplace revokes the old one as superseded', async () => {
    const first = await enrolled('renew-strict', 'CN=strict,O=Test');
    expect((await renew('renew-strict', first, { sameKey: true })).reply).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect(lastReason()).toMatch(/must use a new key/);

    const { next, reply } = await renew('renew-strict', first);
    const renewed = certFor(reply, next.key);
    const oldSerial = serialHex(first.cert.tbsCertificate.serialNumber);
    expect(server.env.store.certificate(oldSerial)).toMatchObject({ status: 'revoked', revocationReason: 'superseded' });
    const audit = server.env.store.audit();
    const issue = audit.filter((a) => a.action === 'certificate.issue').at(-1)!;
    expect(issue).toMatchObject({ subject: serialHex(renewed.tbsCertificate.serialNumber), details: { authorization: 'renewal', renewalOf: oldSerial } });
    expect(audit.filter((a) => a.action === 'certificate.revoke').at(-1)).toMatchObject({ subject: oldSerial, details: { reason: 'superseded' } });
    expect(audit.at(-1)!.seq - issue.seq).toBe(1); // one write: issue then revoke, nothing between
  });

  it('renewal.maxActivePerSubject: a second certificate for a subject holding one is refused until it is revoked', async () => {
    const first = await enrolled('renew-strict', 'CN=max-one,O=Test');
    const d = await device(url('renew-strict'), 'CN=max-one,O=Test');
    expect(await exchange(url('renew-strict'), d, await request(d))).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect(lastReason()).toMatch(/already holds 1 valid certificate\(s\) in fleet renew-strict/);
    await cliOk(['cert', 'revoke', serialHex(first.cert.tbsCertificate.serialNumber), '--reason', 'cessationOfOperation', '--data', server.dataDir]);
    certFor(await exchange(url('renew-strict'), d, await request(d)), d.key);
  });

  it('renewal.rekey forbidden: a new key is refused, the same key renews', async () => {
    const first = await enrolled('renew-same-key', 'CN=same-key,O=Test');
    expect((await renew('renew-same-key', first)).reply).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect(lastReason()).toMatch(/must keep its key/);
    const { reply } = await renew('renew-same-key', first, { sameKey: true });
    certFor(reply, first.d.key);
  });
});

describe('RFC 8894 §3.3.1.2: a PKCSReq signed by a certificate we issued', () => {
  it('is a renewal for the same subject (no challenge), and needs a challenge for another subject', async () => {
    const first = await enrolled('renew-same-key', 'CN=pkcsreq-renew,O=Test');
    const same = await renew('renew-same-key', first, { sameKey: true, messageType: 'PKCSReq' });
    certFor(same.reply, first.d.key);
    expect(server.env.store.audit().filter((a) => a.action === 'certificate.issue').at(-1)?.details).toMatchObject({ authorization: 'renewal', messageType: 'PKCSReq' });
    const other = await renew('renew-same-key', first, { sameKey: true, messageType: 'PKCSReq', subject: 'CN=someone-else,O=Test' });
    expect(other.reply).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
    expect(lastReason()).toMatch(/no challenge password/);
  });
});
