/**
 * `fleet status` (src/fleet/status.ts) over real enrollments: certificates by algorithm, the
 * migrated share before and after a switch and a re-enrollment, the expiring window, fleet
 * isolation; and the client compatibility records the SCEP layer writes
 * (src/scep/client-record.ts) from real requests, refusals included.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { enroll } from '../src/client/enroll.ts';
import { createFleet, FleetError, setProfile, type FleetContext } from '../src/fleet/fleet-ops.ts';
import { fleetStatus, formatStatus } from '../src/fleet/status.ts';
import type { Store } from '../src/store/store.ts';
import { attempt, send } from './helpers/fleet-clients.ts';
import { CHALLENGE, clientRegistry, device, post, request, testServer, type TestServer } from './helpers/server.ts';

const DAY = 86_400_000;
const newKey = (keyType: string) => clientRegistry.byName('key', keyType).generate();

let server: TestServer;
let ctx: FleetContext;
beforeAll(async () => {
  server = await testServer();
  ctx = { store: server.env.store, profiles: server.fleets.profiles };
});
afterAll(() => server?.stop());

const newFleet = async (name: string, profile: string) => {
  createFleet(ctx, name, profile, 'test');
  await server.fleets.refresh();
  return `${server.url}/${name}`;
};

describe('fleet status', () => {
  it('counts by algorithm and the migrated share: all migrated on hybrid-transition, none right after the switch, half after re-enrollment', async () => {
    const url = await newFleet('plant', 'hybrid-transition');
    const rsa = { url, registry: clientRegistry, key: await newKey('rsa-2048'), subject: 'CN=rsa-1,O=Test', challenge: CHALLENGE };
    const pq = { url, registry: clientRegistry, key: await newKey('ml-dsa-65'), subject: 'CN=pq-1,O=Test', challenge: CHALLENGE };
    expect(await attempt(rsa)).toBe('SUCCESS');
    expect(await attempt(pq)).toBe('SUCCESS');
    // Another fleet's certificate is not counted here.
    await enroll({ url: server.url, registry: clientRegistry, key: await newKey('rsa-2048'), subject: 'CN=elsewhere,O=Test', challenge: CHALLENGE });

    const before = fleetStatus(ctx, 'plant', { expiringWithinDays: 30 });
    expect(before).toMatchObject({
      fleet: 'plant', profile: 'hybrid-transition',
      certificates: { active: 2, superseded: 0, byAlgorithm: { 'rsa-2048': 1, 'ml-dsa-65': 1 }, migrated: 2, migratedShare: 1, onOldAlgorithms: [], expiring: [] },
      clients: { total: 2, byKeyAlgorithm: { 'rsa-2048': 1, 'ml-dsa-65': 1 } },
    });
    expect(before).not.toHaveProperty('previousProfile');
    expect(ctx.store.listCertificates({ fleet: 'plant' }).map((c) => [c.fleet, c.caKeyType])).toEqual([['plant', 'rsa-2048'], ['plant', 'rsa-2048']]);
    expect(ctx.store.listCertificates({ fleet: 'default' }).map((c) => c.subject)).toEqual(['CN=elsewhere,O=Test']);

    setProfile(ctx, 'plant', 'pq-ml-dsa-65', {}, 'test');
    await server.fleets.refresh();
    const switched = fleetStatus(ctx, 'plant', { expiringWithinDays: 30 });
    expect(switched).toMatchObject({ profile: 'pq-ml-dsa-65', previousProfile: 'hybrid-transition', certificates: { active: 2, migrated: 0, migratedShare: 0 } });
    expect(switched.certificates.onOldAlgorithms.map((c) => [c.subject, c.keyAlgorithm, c.reason])).toEqual([
      ['CN=pq-1,O=Test', 'ml-dsa-65', 'issued by the rsa-2048 CA, pq-ml-dsa-65 uses the ml-dsa-65 CA'],
      ['CN=rsa-1,O=Test', 'rsa-2048', "key rsa-2048 is not in pq-ml-dsa-65's clientKeys"],
    ]);

    expect(await attempt(pq)).toBe('SUCCESS'); // re-enrolls under the ML-DSA-65 CA
    expect(await attempt(rsa)).toBe('FAILURE:badAlg');
    const after = fleetStatus(ctx, 'plant', { expiringWithinDays: 30 });
    expect(after.certificates).toMatchObject({ active: 2, superseded: 1, byAlgorithm: { 'rsa-2048': 1, 'ml-dsa-65': 1 }, migrated: 1, migratedShare: 0.5 });
    expect(after.certificates.onOldAlgorithms.map((c) => c.subject)).toEqual(['CN=rsa-1,O=Test']);
    expect(ctx.store.listCertificates({ fleet: 'plant' }).map((c) => c.caKeyType)).toEqual(['rsa-2048', 'rsa-2048', 'ml-dsa-65']);
    expect(after.clients).toEqual({ total: 2, byKeyAlgorithm: { 'rsa-2048': 1, 'ml-dsa-65': 1 } });
  }, 120_000);

  it('the expiring window counts current certificates by notAfter, soonest first; expired ones are not active', () => {
    const now = Date.now();
    const at = (days: number, window: number) => fleetStatus(ctx, 'plant', { expiringWithinDays: window, now: new Date(now + days * DAY) });
    expect(at(300, 30).certificates.expiring).toEqual([]); // the profiles issue for 365 days
    const soon = at(300, 90).certificates;
    expect(soon.active).toBe(2);
    expect(soon.expiring.map((c) => c.subject)).toEqual(['CN=rsa-1,O=Test', 'CN=pq-1,O=Test']);
    expect(soon.expiring[0].notAfter.getTime()).toBeLessThanOrEqual(soon.expiring[1].notAfter.getTime());
    expect(at(367, 30).certificates).toMatchObject({ active: 0, superseded: 0, migratedShare: 0, expiring: [] });
  });

  it('shows a scheduled switch; formatStatus prints the same facts as a table', () => {
    const announceAt = new Date(Date.now() + DAY);
    setProfile(ctx, 'plant', 'pq-cnsa2', { at: announceAt, overlapMs: DAY }, 'test');
    const s = fleetStatus(ctx, 'plant', { expiringWithinDays: 30 });
    expect(s.next).toEqual({ profile: 'pq-cnsa2', announceAt, effectiveAt: new Date(announceAt.getTime() + DAY) });
    const text = formatStatus(s);
    expect(text).toMatch(/^fleet plant: profile pq-ml-dsa-65 \(previously hybrid-transition\)$/m);
    expect(text).toMatch(/^ {2}switching to pq-cnsa2: CA announced from \S+, effective \S+$/m);
    expect(text).toMatch(/^certificates: 2 active, 1 superseded by a renewal$/m);
    expect(text).toMatch(/^ {2}rsa-2048 +1$/m);
    expect(text).toMatch(/^migrated to pq-ml-dsa-65: 1 of 2 \(50%\)$/m);
    expect(text).toMatch(/^ {2}CN=rsa-1,O=Test +[0-9a-f]+ +rsa-2048 +\d{4}-\d\d-\d\d +key rsa-2048 is not in pq-ml-dsa-65's clientKeys$/m);
    expect(text).toMatch(/^expiring within 30 days: 0$/m);
    expect(text).toMatch(/^clients recorded: 2$/m);
    // The admin API sends status as JSON; the text form reads the same from it.
    expect(formatStatus(JSON.parse(JSON.stringify(s)) as typeof s)).toBe(text);
  });

  it('a fleet whose profile is not loaded is counted but not assessed; an unknown fleet is a FleetError', () => {
    const partial: FleetContext = { store: ctx.store, profiles: new Map([...ctx.profiles].filter(([name]) => name !== 'pq-ml-dsa-65')) };
    const s = fleetStatus(partial, 'plant', { expiringWithinDays: 30 });
    expect(s.certificates).toMatchObject({ active: 2, migrated: 0, onOldAlgorithms: [], unassessed: 'profile pq-ml-dsa-65 is not among the loaded profiles' });
    expect(formatStatus(s)).toMatch(/^migration: not assessed \(profile pq-ml-dsa-65 is not among the loaded profiles\)$/m);
    expect(() => fleetStatus(ctx, 'nowhere', { expiringWithinDays: 30 })).toThrow(FleetError);
  });
});

describe('client compatibility records from real requests', () => {
  const recordOf = (fleet: string, subject: string) => ctx.store.clients(fleet).find((c) => c.subject === subject);

  it('POST and GET enrollments, a renewal, the GetCACaps fetch, and what each sent', async () => {
    const url = await newFleet('records', 'hybrid-transition');
    const rsaKey = await newKey('rsa-2048');
    const rsa = await enroll({ url, registry: clientRegistry, key: rsaKey, subject: 'CN=rec-rsa,O=Test', challenge: CHALLENGE });
    await enroll({ url, registry: clientRegistry, key: await newKey('ml-dsa-65'), subject: 'CN=rec-pq,O=Test', challenge: CHALLENGE, method: 'GET' });
    expect(recordOf('records', 'CN=rec-rsa,O=Test')).toMatchObject({
      address: expect.stringMatching(/127\.0\.0\.1$/), capsFetched: true, method: 'POST', keyAlgorithm: 'rsa-2048',
      digest: 'SHA-512', cipher: 'AES-256-CBC', envelope: 'ktri', replyKem: false, enrollments: 1, renewals: 0, lastOutcome: 'SUCCESS',
    });
    const pq = recordOf('records', 'CN=rec-pq,O=Test')!;
    expect(pq).toMatchObject({ method: 'GET', keyAlgorithm: 'ml-dsa-65', signatureAlgorithm: 'ML-DSA-65', digest: 'SHA-512', envelope: 'kemri', replyKem: true, lastOutcome: 'SUCCESS' });
    expect(pq.maxRequestBytes).toBeGreaterThan(10_000); // signer, KEM and CSR each carry an ML-DSA-65 signature

    // RFC 8894 §3.3.1.2: a RenewalReq signed by the issued certificate, with a new key of the same type.
    await enroll({ url, registry: clientRegistry, key: await newKey('rsa-2048'), subject: 'CN=rec-rsa,O=Test', renew: { certificate: rsa.certificate, key: rsaKey } });
    expect(recordOf('records', 'CN=rec-rsa,O=Test')).toMatchObject({ enrollments: 1, renewals: 1, lastOutcome: 'SUCCESS' });
  }, 120_000);

  it('refusals are recorded: after the CSR (wrong challenge) and before the envelope is opened (signature not allowed)', async () => {
    const url = await newFleet('refusals', 'pq-ml-dsa-65');
    expect(await attempt({ url, registry: clientRegistry, key: await newKey('ml-dsa-65'), subject: 'CN=bad-secret,O=Test', challenge: 'wrong' })).toBe('FAILURE:badRequest');
    expect(recordOf('refusals', 'CN=bad-secret,O=Test')).toMatchObject({ keyAlgorithm: 'ml-dsa-65', envelope: 'kemri', replyKem: true, lastOutcome: 'FAILURE:badRequest' });
    // The RSA signature is refused before the envelope is opened: subject and key come from the
    // signer certificate, the envelope kind and cipher from the EnvelopedData as sent.
    expect(await attempt({ url, registry: clientRegistry, key: await newKey('rsa-2048'), subject: 'CN=legacy,O=Test', challenge: CHALLENGE })).toBe('FAILURE:badAlg');
    expect(recordOf('refusals', 'CN=legacy,O=Test')).toMatchObject({
      keyAlgorithm: 'rsa-2048', signatureAlgorithm: 'rsaEncryption', envelope: 'kemri', cipher: 'AES-256-CBC', replyKem: false, lastOutcome: 'FAILURE:badAlg',
    });
  }, 120_000);

  it('an exact replay is answered from the store and not counted again', async () => {
    const url = `${server.url}/records`;
    const d = await device(url, 'CN=replayed,O=Test');
    const req = await request(d);
    const first = await post(url, req.der);
    const again = await post(url, req.der);
    expect(again.body).toEqual(first.body);
    expect(recordOf('records', 'CN=replayed,O=Test')).toMatchObject({ enrollments: 1, lastOutcome: 'SUCCESS' });
  });

  it('a store that cannot record does not fail the request', async () => {
    const url = `${server.url}/records`;
    const store = ctx.store as { -readonly [K in keyof Store]: Store[K] };
    const { recordClient, recordCapsFetch } = store;
    const fail = () => {
      throw new Error('disk full');
    };
    store.recordClient = fail;
    store.recordCapsFetch = fail;
    try {
      expect(await attempt({ url, registry: clientRegistry, key: await newKey('rsa-2048'), subject: 'CN=unrecorded,O=Test', challenge: CHALLENGE })).toBe('SUCCESS');
      expect(await send(url, await device(url, 'CN=unrecorded-2,O=Test'), { challenge: 'wrong' })).toBe('FAILURE:badRequest');
    } finally {
      Object.assign(store, { recordClient, recordCapsFetch });
    }
    expect(recordOf('records', 'CN=unrecorded,O=Test')).toBeUndefined();
  }, 60_000);
});
