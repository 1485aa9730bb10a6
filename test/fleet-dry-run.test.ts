/**
 * `fleet dry-run` (src/fleet/dry-run.ts): predictions made from the clients' compatibility
 * records, then confirmed by actually switching the fleet and sending each client's request
 * again (same key type, same behaviour); and the rules one by one on synthetic records.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALGORITHMS } from '../algorithms/index.ts';
import { createRegistry } from '../src/crypto/registry.ts';
import { dryRun, formatDryRun, type ClientVerdict, type DryRunResult } from '../src/fleet/dry-run.ts';
import { createFleet, setProfile, type FleetContext } from '../src/fleet/fleet-ops.ts';
import { loadProfiles, type Profile } from '../src/policy/profile.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import type { ClientObservation, Store } from '../src/store/store.ts';
import { attempt, fixedDevice, getLimitProxy, raOfKind, send, type GetLimitProxy } from './helpers/fleet-clients.ts';
import { CHALLENGE, clientRegistry, testServer, type Device, type TestServer } from './helpers/server.ts';

const verdictOf = (r: DryRunResult, subject: string): ClientVerdict => {
  const v = r.clients.find((c) => c.subject === subject);
  if (!v) throw new Error(`no verdict for ${subject}`);
  return v;
};
const newKey = (keyType: string) => clientRegistry.byName('key', keyType).generate();

describe('dry-run predictions, confirmed by a real switch', () => {
  let server: TestServer;
  let ctx: FleetContext;
  const switchTo = async (fleet: string, profile: string) => {
    setProfile(ctx, fleet, profile, {}, 'test');
    await server.fleets.refresh();
  };

  beforeAll(async () => {
    server = await testServer();
    ctx = { store: server.env.store, profiles: server.fleets.profiles };
  });
  afterAll(() => server?.stop());

  it('hybrid-transition → pq-ml-dsa-65: RSA breaks (badAlg), ML-DSA-65 is fine, ML-DSA-65 without a KEM reply certificate breaks (badRequest)', async () => {
    createFleet(ctx, 'hq', 'hybrid-transition', 'test');
    await server.fleets.refresh();
    const url = `${server.url}/hq`;
    const rsa = { url, registry: clientRegistry, key: await newKey('rsa-2048'), subject: 'CN=rsa-device,O=Test', challenge: CHALLENGE };
    const pq = { url, registry: clientRegistry, key: await newKey('ml-dsa-65'), subject: 'CN=pq-device,O=Test', challenge: CHALLENGE };
    // A device that always envelopes with ML-KEM and never brings a certificate for the reply.
    const noKem = await fixedDevice(url, 'CN=no-kem-device,O=Test', 'ml-dsa-65', 'kemri');
    const spec = { digest: 'SHA-512', cipher: 'AES-256-CBC' };
    expect(await attempt(rsa)).toBe('SUCCESS');
    expect(await attempt(pq)).toBe('SUCCESS');
    expect(await send(url, noKem, spec)).toBe('FAILURE:badRequest'); // require-kem already refuses it

    const prediction = dryRun(ctx, 'hq', 'pq-ml-dsa-65');
    expect(prediction).toMatchObject({ fleet: 'hq', profile: 'hybrid-transition', candidate: 'pq-ml-dsa-65', summary: { total: 3, ok: 1, breaks: 2 } });
    const rsaVerdict = verdictOf(prediction, rsa.subject);
    expect(rsaVerdict).toMatchObject({ verdict: 'breaks', expected: 'FAILURE:badAlg', keyAlgorithm: 'rsa-2048' });
    expect(rsaVerdict.reasons.map((r) => r.check)).toEqual(['signature', 'key']); // its envelope still reaches the previous RSA RA (noted)
    expect(verdictOf(prediction, pq.subject)).toMatchObject({ verdict: 'ok', expected: 'SUCCESS', reasons: [] });
    expect(verdictOf(prediction, noKem.subject)).toMatchObject({ verdict: 'breaks', expected: 'FAILURE:badRequest', reasons: [{ check: 'reply' }] });
    expect(prediction.notes.join('\n')).toMatch(/CA changes from rsa-2048 to ml-dsa-65/);

    await switchTo('hq', 'pq-ml-dsa-65');
    const noKemAgain: Device = { ...noKem, recipient: (await raOfKind(url, 'kemri'))! }; // it re-reads GetCACert
    const actual = {
      [rsa.subject]: await attempt(rsa),
      [pq.subject]: await attempt(pq),
      [noKem.subject]: await send(url, noKemAgain, spec),
    };
    expect(actual).toEqual(Object.fromEntries(prediction.clients.map((c) => [c.subject, c.expected])));
    expect(actual[rsa.subject]).toBe('FAILURE:badAlg');
    expect(actual[pq.subject]).toBe('SUCCESS');
    // The refused RSA client is still on record, with what it did this time.
    expect(ctx.store.clients('hq').find((c) => c.subject === rsa.subject)).toMatchObject({ keyAlgorithm: 'rsa-2048', lastOutcome: 'FAILURE:badAlg', enrollments: 2 });
  }, 120_000);

  it('modern-ecc → hybrid-transition: an ECDSA device that only does key agreement (kari) keeps working with the RA it knows (previous RAs), with a note', async () => {
    createFleet(ctx, 'branch', 'modern-ecc', 'test');
    await server.fleets.refresh();
    const url = `${server.url}/branch`;
    const ecdsa = await fixedDevice(url, 'CN=ecdsa-device,O=Test', 'ecdsa-p256', 'kari');
    expect(await send(url, ecdsa)).toBe('SUCCESS');
    expect(ctx.store.clients('branch')[0]).toMatchObject({ envelope: 'kari', keyAlgorithm: 'ecdsa-p256', signatureAlgorithm: 'ecdsa-with-SHA256', digest: 'SHA-256', cipher: 'AES-128-CBC' });

    const prediction = dryRun(ctx, 'branch', 'hybrid-transition');
    const v = verdictOf(prediction, ecdsa.subject);
    expect(v).toMatchObject({ verdict: 'ok', expected: 'SUCCESS' });
    expect(v.notes.join(' ')).toMatch(/key agreement \(kari\) needs an ECDH RA.*re-reads GetCACert/);

    await switchTo('branch', 'hybrid-transition');
    expect(await raOfKind(url, 'kari')).toBeUndefined(); // re-reading GetCACert finds nothing it can use, as the note says
    expect(await send(url, ecdsa)).toBe(v.expected); // but its envelope to the RA it knows still opens
  }, 120_000);

  describe('GET size: hybrid-transition → pq-cnsa2 behind a proxy limiting GET query strings', () => {
    let proxy: GetLimitProxy;
    beforeAll(async () => {
      proxy = await getLimitProxy(server.url);
    });
    afterAll(() => proxy?.close());

    it('the GET client is predicted too large and refused by the proxy; the POST client with the same key type is fine', async () => {
      createFleet(ctx, 'gw', 'hybrid-transition', 'test');
      await server.fleets.refresh();
      const url = `${proxy.url}/scep/gw`;
      const viaGet = { url, registry: clientRegistry, key: await newKey('ml-dsa-87'), subject: 'CN=get-device,O=Test', challenge: CHALLENGE, method: 'GET' as const };
      const viaPost = { url, registry: clientRegistry, key: await newKey('ml-dsa-87'), subject: 'CN=post-device,O=Test', challenge: CHALLENGE, method: 'POST' as const };
      expect(await attempt(viaGet)).toBe('SUCCESS');
      expect(await attempt(viaPost)).toBe('SUCCESS');
      const sent = ctx.store.clients('gw').find((c) => c.subject === viaGet.subject)!;
      expect(sent).toMatchObject({ method: 'GET', envelope: 'kemri', replyKem: true });

      const prediction = dryRun(ctx, 'gw', 'pq-cnsa2');
      const get = verdictOf(prediction, viaGet.subject);
      expect(get).toMatchObject({ verdict: 'breaks', expected: 'HTTP error', reasons: [{ check: 'transport' }] });
      expect(get.reasons[0].message).toMatch(/message too large for GET/);
      // ML-KEM-768 → ML-KEM-1024 RA: the KEM ciphertext grows by 480 bytes (FIPS 203 Table 3).
      const before = 4 * Math.ceil(sent.maxRequestBytes / 3);
      expect(get.getMessageChars).toBe(4 * Math.ceil((sent.maxRequestBytes + 480) / 3));
      expect(verdictOf(prediction, viaPost.subject)).toMatchObject({ verdict: 'ok', expected: 'SUCCESS' });

      // The path carries what the client has sent (plus half the predicted growth), no more.
      proxy.limit = proxy.longestGet + Math.ceil((get.getMessageChars! - before) / 2);
      expect(await attempt(viaGet)).toBe('SUCCESS'); // still fine before the switch
      await switchTo('gw', 'pq-cnsa2');
      expect(await attempt(viaGet)).toBe(get.expected);
      expect(await attempt(viaPost)).toBe('SUCCESS');
    }, 180_000);
  });
});

describe('dry-run rules (synthetic records)', () => {
  const profilesDir = join(fileURLToPath(new URL('..', import.meta.url)), 'profiles');
  const loaded = loadProfiles(profilesDir, createRegistry(ALGORITHMS, { allowLegacy: true }));
  let store: Store;
  let ctx: FleetContext;
  const fleetOn = (name: string, profile: string) => store.saveFleet({ name, profile, updatedAt: new Date() }, { actor: 'test', action: 'fleet.create', subject: name });
  const client = (over: Partial<ClientObservation>): ClientObservation => ({
    fleet: 'f', subject: 'CN=x', address: '192.0.2.1', method: 'POST', keyAlgorithm: 'rsa-2048', signatureAlgorithm: 'sha256WithRSAEncryption',
    digest: 'SHA-256', cipher: 'AES-128-CBC', envelope: 'ktri', replyKem: false, lastOutcome: 'SUCCESS', at: new Date(), requestBytes: 2600,
    messageType: 'PKCSReq', ...over,
  });

  beforeAll(() => {
    store = openSqliteStore(':memory:');
    const manual: Profile = { ...loaded.get('hybrid-transition')!, name: 'hybrid-manual', approval: 'manual' };
    ctx = { store, profiles: new Map([...loaded, [manual.name, manual]]) };
  });
  afterAll(() => store?.close());

  it('a renewing client with a certificate the fleet will still trust keeps its SignerInfo algorithm (noted, not counted); its key still counts', () => {
    fleetOn('renew', 'classic-rsa');
    const cert = { sans: [], notBefore: new Date(Date.now() - 1000), notAfter: new Date(Date.now() + 86_400_000), signatureAlgorithm: 'sha256WithRSAEncryption', issuer: 'ab'.repeat(32), fleet: 'renew', caKeyType: 'rsa-2048', status: 'valid' as const, der: new Uint8Array([1]) };
    for (const [subject, key] of [['CN=rolled', 'ml-dsa-65'], ['CN=kept', 'rsa-2048']] as const) {
      store.recordIssuance({ ...cert, serial: subject === 'CN=rolled' ? '01' : '02', subject, keyAlgorithm: 'rsa-2048', transactionId: subject },
        { transactionId: subject, fleet: 'renew', requestHash: subject, messageType: 'PKCSReq', status: 'SUCCESS', reply: new Uint8Array([1]), createdAt: new Date() });
      // A RenewalReq signed by its RSA certificate; the CSR's key is `key`.
      store.recordClient(client({ fleet: 'renew', subject, messageType: 'RenewalReq', keyAlgorithm: key, digest: 'SHA-512', cipher: 'AES-256-CBC', envelope: 'ktri' }));
    }
    store.recordClient(client({ fleet: 'renew', subject: 'CN=new', digest: 'SHA-512', cipher: 'AES-256-CBC', keyAlgorithm: 'ml-dsa-65' })); // a PKCSReq, no certificate
    const r = dryRun(ctx, 'renew', 'hybrid-transition');
    expect(verdictOf(r, 'CN=rolled')).toMatchObject({ verdict: 'ok', reasons: [] });
    expect(verdictOf(r, 'CN=kept')).toMatchObject({ verdict: 'ok' }); // hybrid-transition allows RSA anyway
    const strict = dryRun(ctx, 'renew', 'pq-ml-dsa-65');
    expect(verdictOf(strict, 'CN=rolled').reasons.map((b) => b.check)).toEqual([]); // ktri: no RSA RA in the candidate, but the previous one stays (noted)
    expect(verdictOf(strict, 'CN=rolled').notes.join()).toMatch(/key transport \(ktri\) needs an RSA RA.*re-reads GetCACert/);
    expect(verdictOf(strict, 'CN=rolled').notes.join()).toMatch(/sha256WithRSAEncryption is not allowed, but accepted on a RenewalReq/);
    expect(verdictOf(strict, 'CN=kept').reasons.map((b) => b.check)).toEqual(['key']);
    expect(verdictOf(strict, 'CN=new').reasons.map((b) => b.check)).toEqual(['signature']); // ml-dsa-65 key, RSA signer: no exemption
  });

  it('a cipher the candidate registry does not know is refused before the envelope, an allowed-list miss after it (the server\'s order)', () => {
    fleetOn('legacy', 'hybrid-transition');
    store.recordClient(client({ fleet: 'legacy', subject: 'CN=des', cipher: 'DES-CBC', digest: 'SHA-1', signatureAlgorithm: 'sha1WithRSAEncryption' }));
    store.recordClient(client({ fleet: 'legacy', subject: 'CN=kari', cipher: 'AES-192-CBC', envelope: 'kari' }));
    const checks = (r: DryRunResult, subject: string) => verdictOf(r, subject).reasons.map((b) => b.check);
    const pq = dryRun(ctx, 'legacy', 'pq-ml-dsa-65');
    expect(checks(pq, 'CN=des')).toEqual(['digest', 'signature', 'cipher', 'key']); // ktri still reaches the previous RSA RA
    expect(checks(pq, 'CN=kari')).toEqual(['digest', 'signature', 'envelope', 'cipher', 'key']);
    const classic = dryRun(ctx, 'legacy', 'classic-rsa');
    expect(checks(classic, 'CN=des')).toEqual(['digest', 'signature', 'cipher']);
    expect(verdictOf(classic, 'CN=kari').reasons.map((b) => [b.check, b.failInfo])).toEqual([['envelope', 'badMessageCheck']]);
    // --allow-legacy: DES, 3DES and SHA-1 (with sha1WithRSAEncryption) for every fleet.
    expect(verdictOf(dryRun(ctx, 'legacy', 'classic-rsa', { allowLegacy: true }), 'CN=des')).toMatchObject({ verdict: 'ok', reasons: [] });
  });

  it('GET: growth past the limit breaks; messages already past it and not growing are only noted', () => {
    fleetOn('gets', 'classic-rsa');
    store.recordClient(client({ fleet: 'gets', subject: 'CN=small', method: 'GET', requestBytes: 1400 }));
    store.recordClient(client({ fleet: 'gets', subject: 'CN=big', method: 'GET', requestBytes: 2700 }));
    store.recordClient(client({ fleet: 'gets', subject: 'CN=post', requestBytes: 2700 }));
    const same = dryRun(ctx, 'gets', 'hybrid-transition'); // same RSA-2048 RA: nothing grows
    expect(verdictOf(same, 'CN=small')).toMatchObject({ verdict: 'ok', getMessageChars: 1868 });
    expect(verdictOf(same, 'CN=big')).toMatchObject({ verdict: 'ok', getMessageChars: 3600 });
    expect(verdictOf(same, 'CN=big').notes.join()).toMatch(/exceed 2048, but ones this large have reached the server/);
    expect(verdictOf(same, 'CN=post')).not.toHaveProperty('getMessageChars');
    const tight = dryRun(ctx, 'gets', 'hybrid-transition', { maxGetUrlBytes: 1024 });
    expect(verdictOf(tight, 'CN=small')).toMatchObject({ verdict: 'ok' }); // 1868 > 1024, but it has sent 1868 already
 
    // An ML-KEM client whose RA grows from ML-KEM-768 to ML-KEM-1024 (+480 bytes): 1868 → 2508 characters.
    fleetOn('gets-pq', 'hybrid-transition');
    store.recordClient(client({ fleet: 'gets-pq', subject: 'CN=grows', method: 'GET', requestBytes: 1400, envelope: 'kemri', keyAlgorithm: 'ml-dsa-87',
      signatureAlgorithm: 'ML-DSA-87', digest: 'SHA-512', cipher: 'AES-256-CBC', replyKem: true }));
    const grows = verdictOf(dryRun(ctx, 'gets-pq', 'pq-cnsa2'), 'CN=grows');
    expect(grows).toMatchObject({ verdict: 'breaks', expected: 'HTTP error', getMessageChars: 2508, reasons: [{ check: 'transport' }] });
    expect(verdictOf(dryRun(ctx, 'gets-pq', 'pq-cnsa2', { maxGetUrlBytes: 4096 }), 'CN=grows')).toMatchObject({ verdict: 'ok', expected: 'SUCCESS' });
  });

  it('fleet-level notes: CA change, manual approval (PENDING), an unloaded current profile; missing facts are notes, not breaks', () => {
    fleetOn('notes', 'classic-rsa');
    store.recordClient(client({ fleet: 'notes', subject: 'CN=n', cipher: undefined, digest: undefined }));
    const r = dryRun(ctx, 'notes', 'hybrid-manual');
    expect(r.notes.join('\n')).toMatch(/approves new enrollments manually/);
    expect(verdictOf(r, 'CN=n')).toMatchObject({ verdict: 'ok', expected: 'PENDING' });
    expect(verdictOf(r, 'CN=n').notes).toEqual(expect.arrayContaining(['digest not recorded', 'cipher not recorded']));
    expect(dryRun(ctx, 'notes', 'modern-ecc').notes.join()).toMatch(/CA changes from rsa-2048 to ecdsa-p256/);
    fleetOn('gone', 'no-such-profile');
    expect(dryRun(ctx, 'gone', 'classic-rsa').notes.join()).toMatch(/no-such-profile is not loaded/);
    expect(() => dryRun(ctx, 'notes', 'no-such-profile')).toThrow(/no profile named "no-such-profile"/);
    expect(() => dryRun(ctx, 'nowhere', 'classic-rsa')).toThrow(/no fleet named "nowhere"/);
  });

  it('formatDryRun: one line per client, reasons and notes under it, a summary', () => {
    const text = formatDryRun(dryRun(ctx, 'legacy', 'classic-rsa'));
    expect(text).toMatch(/^ {2}CN=kari +rsa-2048 +POST +breaks +FAILURE:badMessageCheck$/m);
    expect(text).toMatch(/^fleet legacy: dry run of classic-rsa \(now hybrid-transition\) against 2 recorded clients$/m);
    expect(text).toMatch(/^ {2}SUBJECT +KEY +METHOD +VERDICT +EXPECTED$/m);
    expect(text).toMatch(/^ {2}CN=des +rsa-2048 +POST +breaks +FAILURE:badAlg$/m);
    expect(text).toMatch(/^ {2}breaks \(digest\): digest SHA-1 is not allowed$/m);
    expect(text).toMatch(/^summary: 0 ok, 2 would break$/m);
  });
});
