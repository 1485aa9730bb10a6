/**
 * Central crypto-agility on a running server (issue "Policy profiles, fleets and central
 * crypto-agility"): switching the default fleet's profile while clients enroll, a CA rollover
 * announced through GetNextCACert (RFC 8894 §4.7, §3.5.3) with a renewal across it
 * (RFC 8894 §3.3.1 RenewalReq), rollback, the audit trail, and named fleets (/scep/<fleet>).
 *  - Switch under load: 16 concurrent RSA clients, each doing what micromdm's scepclient does
 *    (GetCACert, then a PKCSReq enveloped to the RA it was just given), while the fleet switches
 *    via setProfile + fleets.refresh(). Every reply must be an HTTP 200 signed CertRep, and no
 *    reply may mix profiles: the issued certificate's issuer and the CertRep signer belong to
 *    the same profile (a request takes one environment; src/fleet/fleet-manager.ts).
 *  - Rollover classic-rsa -> pq-ml-dsa-65 with an overlap: GetNextCACert announces the ML-DSA-65
 *    CA signed by the RSA CA; afterwards an RSA certificate renews to an ML-DSA-65 key.
 * No timing assertions: the load test only needs the switch to land between its first and last
 * requests, which it arranges by switching after a number of replies and running on until a
 * number of replies came back after the new environment took over.
 * Known gap, pinned down by one test that fails until fixed: a request enveloped to the previous
 * profile's RA (GetCACert just before a switch, PKCSReq just after) gets FAILURE badMessageCheck,
 * because the new environment's envelope recipients (src/scep/env.ts envelopeRecipients) do not
 * include the previous profile's RAs.
 * Leaves out: the CLI and admin API on top of fleet-ops (fleet-cli.test.ts, admin-api.test.ts),
 * real clients across a switch.
 */
import type { Certificate } from '@peculiar/asn1-x509';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCertificateSignature } from '../src/ca/certificate.ts';
import { enroll, EnrollError, pickRecipient } from '../src/client/enroll.ts';
import { getCaCerts, getCaps, getNextCaCert } from '../src/client/http.ts';
import { readCertRep, type BuiltRequest, type CertRepResult } from '../src/client/pki-request.ts';
import { equalBytes, serialize } from '../src/cms/der.ts';
import { identifies, parseSignedData, spkiAlgorithmOid, spkiOf, verifySignerInfo } from '../src/cms/signed-data.ts';
import type { PrivateKeyHandle } from '../src/crypto/types.ts';
import { createFleet, rollback, setProfile, type FleetContext } from '../src/fleet/fleet-ops.ts';
import type { ScepEnv } from '../src/scep/env.ts';
import { CHALLENGE, clientRegistry, device, post, request, testServer, type Device, type TestServer } from './helpers/server.ts';

const SHIPPED_PROFILES = fileURLToPath(new URL('../profiles', import.meta.url));
const id_ecPublicKey = '1.2.840.10045.2.1';
const rsaEncryption = '1.2.840.113549.1.1.1';
const id_ml_dsa_65 = '2.16.840.1.101.3.4.3.18';

const ctxOf = (server: TestServer): FleetContext => ({ store: server.env.store, profiles: server.fleets.profiles });
const der = (c: Certificate) => Buffer.from(serialize(c));

/** The CA and RA certificates one profile's environment answers with. */
interface Side {
  readonly profile: string;
  readonly ca: Certificate;
  readonly ras: readonly Certificate[];
}
const sideOf = (env: ScepEnv): Side => ({ profile: env.profile, ca: env.ca.certificate, ras: env.ras.map((r) => r.certificate) });

/** One request as a worker sent it and the raw answer. */
interface Sent {
  readonly d: Device;
  readonly req: BuiltRequest;
  readonly status: number;
  readonly type: string;
  readonly body: Uint8Array;
}

/** What a reply turned out to be, checked against both profiles' certificates. */
interface Reading {
  readonly result: CertRepResult;
  /** The profile whose CA or RA signed the CertRep. */
  readonly signedBy: string;
  /** The profile whose CA issued the certificate (SUCCESS only). */
  readonly issuedBy?: string;
}

/** Verifies a CertRep as a client would (signature, nonces, transactionID), then says which profile signed it and which issued. */
async function read(s: Sent, sides: readonly Side[]): Promise<Reading> {
  const trusted = sides.flatMap((side) => [...side.ras, side.ca]);
  const result = await readCertRep(s.body, s.req, trusted, { certificate: s.d.signer, key: s.d.key }, clientRegistry);
  const sid = parseSignedData(s.body).signedData.signerInfos[0]!.sid;
  const signedBy = sides.filter((side) => [...side.ras, side.ca].some((c) => identifies(sid, c))).map((side) => side.profile);
  expect(signedBy, 'CertRep signer belongs to exactly one profile').toHaveLength(1);
  if (result.status !== 'SUCCESS') return { result, signedBy: signedBy[0]! };
  const cert = result.certificates.find((c) => equalBytes(spkiOf(c), s.d.key.spki));
  expect(cert, 'SUCCESS holds a certificate for the requester key').toBeDefined();
  const issuedBy = sides.filter((side) => equalBytes(serialize(cert!.tbsCertificate.issuer), serialize(side.ca.tbsCertificate.subject))
    && verifyCertificateSignature(cert!, spkiOf(side.ca), clientRegistry)).map((side) => side.profile);
  expect(issuedBy, 'the issuing CA belongs to exactly one profile').toHaveLength(1);
  return { result, signedBy: signedBy[0]!, issuedBy: issuedBy[0] };
}

/**
 * `workers` concurrent RSA clients, each looping GetCACert -> PKCSReq (a fresh GetCACert and
 * transactionID per request, like scepclient runs; one key per worker, to spend the time on the
 * server rather than on RSA key generation). `onReply` sees each reply as it arrives and may
 * await (the switch happens there while the other workers keep going). Stops when `done()`
 * says so or after `max` requests.
 */
async function load(url: string, workers: number, max: number, done: () => boolean, onReply: (n: number) => Promise<void>): Promise<Sent[]> {
  const sent: Sent[] = [];
  let started = 0;
  const worker = async (w: number) => {
    const base = await device(url, `CN=load-worker-${w},O=Test`);
    while (started < max && !done()) {
      const i = started++;
      const { certificates } = await getCaCerts(url);
      const d: Device = { ...base, subject: `CN=load-${i},O=Test`, transactionId: randomBytes(16).toString('hex'), caCerts: certificates, recipient: pickRecipient(certificates) };
      const req = await request(d);
      const res = await post(url, req.der);
      sent.push({ d, req, ...res });
      await onReply(sent.length);
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return sent;
}

/** A temporary profiles folder: the shipped profiles plus `extra` (name -> settings). */
function profilesDirWith(extra: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pqscep-profiles-'));
  for (const f of readdirSync(SHIPPED_PROFILES)) copyFileSync(join(SHIPPED_PROFILES, f), join(dir, f));
  for (const [name, settings] of Object.entries(extra)) writeFileSync(join(dir, `${name}.json`), JSON.stringify(settings, null, 2));
  return dir;
}

const classicRsa = JSON.parse(readFileSync(join(SHIPPED_PROFILES, 'classic-rsa.json'), 'utf8')) as Record<string, unknown>;

describe('switching the default fleet under load (16 concurrent RSA clients)', () => {
  const WORKERS = 16;
  const SWITCH_AFTER = 32; // replies before the switch starts
  const AFTER_SWITCH = 32; // replies once the new environment serves
  const MAX = 400; // a bound, should the switch take very long

  /** Runs the load, switching classic-rsa -> `to` mid-stream; returns the readings and both sides. */
  async function switchUnderLoad(server: TestServer, to: string) {
    const before = sideOf(server.env);
    let switchedAt = Number.POSITIVE_INFINITY; // replies received when the new environment took over
    let replies = 0; // replies received so far
    const sent = await load(server.url, WORKERS, MAX, () => replies - switchedAt >= AFTER_SWITCH, async (n) => {
      replies = n;
      if (n === SWITCH_AFTER) {
        setProfile(ctxOf(server), 'default', to, {}, 'load-test');
        await server.fleets.refresh(); // creates the new CA: the old environment serves meanwhile
        switchedAt = replies;
      }
    });
    const after = sideOf(server.env);
    expect(after.profile).toBe(to);
    expect(der(after.ca).equals(der(before.ca))).toBe(false); // the CA really changed
    // NO HTTP errors: every answer is a CertRep.
    for (const s of sent) {
      expect(s.status, Buffer.from(s.body).toString('utf8').slice(0, 200)).toBe(200);
      expect(s.type).toBe('application/x-pki-message');
    }
    const readings = await Promise.all(sent.map((s) => read(s, [before, after])));
    return { readings, before, after, sent };
  }

  describe('classic-rsa -> rsa-clients-ecdsa-ca (a different CA and RA, RSA clients allowed by both)', () => {
    let server: TestServer;
    let profilesDir: string;
    beforeAll(async () => {
      profilesDir = profilesDirWith({
        'rsa-clients-ecdsa-ca': {
          ...classicRsa,
          description: 'test: classic-rsa with an ECDSA P-256 CA (the RSA-2048 RA is issued by it)',
          ca: { algorithm: 'ecdsa-p256', subject: 'CN=pqscep ECDSA CA,O=pqscep' },
        },
      });
      server = await testServer({ profile: 'classic-rsa', profilesDir });
    });
    afterAll(async () => {
      await server?.stop();
      rmSync(profilesDir, { recursive: true, force: true });
    });

    it('every reply is a signed CertRep SUCCESS whose certificate and signature come from one profile', async () => {
      const { readings, before, after, sent } = await switchUnderLoad(server, 'rsa-clients-ecdsa-ca');
      expect(spkiAlgorithmOid(spkiOf(after.ca))).toBe(id_ecPublicKey);
      expect(spkiAlgorithmOid(spkiOf(after.ras[0]!))).toBe(rsaEncryption);
      expect(der(after.ras[0]!).equals(der(before.ras[0]!))).toBe(false);
      readings.forEach((r, i) => {
        if (r.result.status === 'SUCCESS') {
          expect(r.issuedBy).toBe(r.signedBy); // never an old CA's certificate in a new RA's CertRep, or the reverse
          return;
        }
        // NOTE: the one failure seen today: a request enveloped to the classic-rsa RA (GetCACert
        // before the switch, PKCSReq after) reaches the new environment, whose recipients no
        // longer include that RA. Pinned down by the deterministic test below; once fixed, none occur.
        expect(r.result).toMatchObject({ status: 'FAILURE', failInfo: 'badMessageCheck' });
        expect(r.signedBy).toBe('rsa-clients-ecdsa-ca');
        expect(der(sent[i]!.d.recipient).equals(der(before.ras[0]!))).toBe(true);
      });
      // Both profiles issued part of the stream.
      expect(new Set(readings.filter((r) => r.issuedBy).map((r) => r.issuedBy))).toEqual(new Set(['classic-rsa', 'rsa-clients-ecdsa-ca']));
    });

    it('a request enveloped to the previous profile\'s RA (GetCACert just before the switch) still succeeds', async () => {
      // The fleet runs rsa-clients-ecdsa-ca now (previous: classic-rsa); one more switch, back.
      const d = await device(server.url, 'CN=in-flight,O=Test'); // GetCACert: the current RA
      const req = await request(d);
      const from = sideOf(server.env);
      setProfile(ctxOf(server), 'default', from.profile === 'classic-rsa' ? 'rsa-clients-ecdsa-ca' : 'classic-rsa', {}, 'test');
      await server.fleets.refresh();
      const to = sideOf(server.env);
      const res = await post(server.url, req.der);
      expect(res.status).toBe(200);
      const r = await read({ d, req, ...res }, [from, to]);
      expect(r.result, 'the new environment should still open envelopes made for the previous profile\'s RA').toMatchObject({ status: 'SUCCESS' });
      expect(r.issuedBy).toBe(r.signedBy);
    });
  });

  describe('classic-rsa -> modern-ecc (RSA clients no longer allowed)', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await testServer({ profile: 'classic-rsa' });
    });
    afterAll(() => server?.stop());

    it('every reply is a signed CertRep: SUCCESS from classic-rsa, or FAILURE badAlg from modern-ecc', async () => {
      const { readings } = await switchUnderLoad(server, 'modern-ecc');
      for (const r of readings) {
        if (r.signedBy === 'classic-rsa') {
          expect(r.result).toMatchObject({ status: 'SUCCESS' });
          expect(r.issuedBy).toBe('classic-rsa');
        } else {
          expect(r.signedBy).toBe('modern-ecc');
          expect(r.result).toMatchObject({ status: 'FAILURE', failInfo: 'badAlg' });
        }
      }
      expect(new Set(readings.map((r) => r.signedBy))).toEqual(new Set(['classic-rsa', 'modern-ecc']));
    });
  });
});

describe('rollover classic-rsa -> pq-ml-dsa-65 with a GetNextCACert overlap, renewal across it, rollback', () => {
  const OVERLAP_MS = 3000;
  let server: TestServer;
  let rsaCa: Certificate;
  let rsa: { key: PrivateKeyHandle; certificate: Certificate };
  let announcedCa: Certificate;
  let effectiveAt: Date;
  let mlDsa: { key: PrivateKeyHandle; certificate: Certificate };

  beforeAll(async () => {
    server = await testServer({ profile: 'classic-rsa' });
    rsaCa = server.env.ca.certificate;
    const key = await clientRegistry.byName('key', 'rsa-2048').generate();
    const { certificate } = await enroll({ url: server.url, registry: clientRegistry, key, subject: 'CN=migrating-device,O=Test', challenge: CHALLENGE });
    rsa = { key, certificate };
  });
  afterAll(() => server?.stop());

  it('during the overlap: GetCACaps lists GetNextCACert, GetNextCACert holds the ML-DSA-65 CA signed by the RSA CA, GetCACert is unchanged', async () => {
    const record = setProfile(ctxOf(server), 'default', 'pq-ml-dsa-65', { overlapMs: OVERLAP_MS }, 'test');
    effectiveAt = record.next!.effectiveAt;
    await server.fleets.refresh();
    expect(server.env.profile).toBe('classic-rsa');

    expect(await getCaps(server.url)).toContain('GetNextCACert');
    const next = parseSignedData(await getNextCaCert(server.url));
    // RFC 8894 §4.7: signed by the current CA; verify with its SPKI only.
    const signer = next.signedData.signerInfos[0]!;
    expect(identifies(signer.sid, rsaCa)).toBe(true);
    verifySignerInfo(next, signer, spkiOf(rsaCa), clientRegistry);
    const announced = parseSignedData(next.content!).certificates;
    const ca = announced.find((c) => spkiAlgorithmOid(spkiOf(c)) === id_ml_dsa_65);
    expect(ca).toBeDefined();
    announcedCa = ca!;
    // The RSA CA still serves.
    const current = (await getCaCerts(server.url)).certificates;
    expect(current.map(der)).toContainEqual(der(rsaCa));
    expect(current.map((c) => spkiAlgorithmOid(spkiOf(c)))).not.toContain(id_ml_dsa_65);
    expect(Date.now(), 'the checks above ran inside the overlap').toBeLessThan(effectiveAt.getTime());
  });

  it('after the effective time the fleet runs the announced ML-DSA-65 CA, and the RSA certificate renews to an ML-DSA-65 key without a challenge', async () => {
    await new Promise((r) => setTimeout(r, Math.max(0, effectiveAt.getTime() - Date.now()) + 50));
    await server.fleets.refresh();
    expect(server.env.profile).toBe('pq-ml-dsa-65');
    expect(der(server.env.ca.certificate).equals(der(announcedCa))).toBe(true);
    expect((await getCaCerts(server.url, 'pqc')).certificates.map(der)).toContainEqual(der(announcedCa));
    expect(server.env.store.audit().map((a) => a.action)).toContain('fleet.switch.effective');

    // RenewalReq signed by the old RSA certificate (accepted: issued by a previous CA of this
    // fleet), CSR for a new ML-DSA-65 key (allowed by the new profile); no challenge.
    const key = await clientRegistry.byName('key', 'ml-dsa-65').generate();
    const { certificate } = await enroll({ url: server.url, registry: clientRegistry, key, subject: 'CN=migrating-device,O=Test', renew: rsa });
    expect(equalBytes(spkiOf(certificate), key.spki)).toBe(true);
    expect(equalBytes(serialize(certificate.tbsCertificate.issuer), serialize(announcedCa.tbsCertificate.subject))).toBe(true);
    expect(verifyCertificateSignature(certificate, spkiOf(announcedCa), clientRegistry)).toBe(true);
    mlDsa = { key, certificate };
  });

  it('after the switch a new RSA client is refused with badAlg (the profile forbids it)', async () => {
    const key = await clientRegistry.byName('key', 'rsa-2048').generate();
    await expect(enroll({ url: server.url, registry: clientRegistry, key, subject: 'CN=late-rsa,O=Test', challenge: CHALLENGE }))
      .rejects.toThrow(EnrollError);
    await expect(enroll({ url: server.url, registry: clientRegistry, key, subject: 'CN=late-rsa,O=Test', challenge: CHALLENGE })).rejects.toThrow(/badAlg/);
  });

  it('rollback returns to classic-rsa: the RSA CA again, RSA enrollment works, the ML-DSA certificate renews back to RSA', async () => {
    rollback(ctxOf(server), 'default', {}, 'test');
    await server.fleets.refresh();
    expect(server.env.profile).toBe('classic-rsa');
    const certs = (await getCaCerts(server.url)).certificates;
    expect(certs.map(der)).toContainEqual(der(rsaCa));
    expect(certs.map((c) => spkiAlgorithmOid(spkiOf(c)))).not.toContain(id_ml_dsa_65);

    const key = await clientRegistry.byName('key', 'rsa-2048').generate();
    const { certificate } = await enroll({ url: server.url, registry: clientRegistry, key, subject: 'CN=after-rollback,O=Test', challenge: CHALLENGE });
    expect(verifyCertificateSignature(certificate, spkiOf(rsaCa), clientRegistry)).toBe(true);

    // The certificate issued by the rolled-back ML-DSA-65 CA still authenticates a renewal.
    const back = await clientRegistry.byName('key', 'rsa-2048').generate();
    const renewed = await enroll({ url: server.url, registry: clientRegistry, key: back, subject: 'CN=migrating-device,O=Test', renew: mlDsa });
    expect(verifyCertificateSignature(renewed.certificate, spkiOf(rsaCa), clientRegistry)).toBe(true);
  });

  it('the audit log records the switch and the rollback with actor, from and to', () => {
    const audit = server.env.store.audit().filter((a) => a.subject === 'default');
    expect(audit).toContainEqual(expect.objectContaining({
      action: 'fleet.switch', actor: 'test', details: expect.objectContaining({ from: 'classic-rsa', to: 'pq-ml-dsa-65' }),
    }));
    expect(audit).toContainEqual(expect.objectContaining({
      action: 'fleet.switch.effective', actor: 'server', details: expect.objectContaining({ from: 'classic-rsa', to: 'pq-ml-dsa-65' }),
    }));
    expect(audit).toContainEqual(expect.objectContaining({
      action: 'fleet.rollback', actor: 'test', details: expect.objectContaining({ from: 'pq-ml-dsa-65', to: 'classic-rsa' }),
    }));
    const actions = audit.map((a) => a.action);
    expect(actions.indexOf('fleet.switch')).toBeLessThan(actions.indexOf('fleet.rollback'));
  });

  it('rollback before a scheduled switch takes effect cancels it (GetNextCACert stops announcing)', async () => {
    setProfile(ctxOf(server), 'default', 'pq-ml-dsa-65', { overlapMs: 3_600_000 }, 'test');
    await server.fleets.refresh();
    expect(await getCaps(server.url)).toContain('GetNextCACert');
    rollback(ctxOf(server), 'default', {}, 'test');
    await server.fleets.refresh();
    expect(server.env.profile).toBe('classic-rsa');
    expect(await getCaps(server.url)).not.toContain('GetNextCACert');
    await expect(getNextCaCert(server.url)).rejects.toMatchObject({ status: 404 });
    expect(server.env.store.audit().at(-1)).toMatchObject({
      action: 'fleet.rollback', actor: 'test', details: { from: 'pq-ml-dsa-65', to: 'classic-rsa', cancelled: 'pq-ml-dsa-65' },
    });
  });
});

describe('named fleets: /scep/printers on modern-ecc beside /scep on classic-rsa', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer({ profile: 'classic-rsa' });
    createFleet(ctxOf(server), 'printers', 'modern-ecc', 'test');
    await server.fleets.refresh();
  });
  afterAll(() => server?.stop());

  const printers = () => server.url.replace(/\/scep$/, '/scep/printers');

  it('GetCACert: /scep/printers serves the ECDSA CA, /scep still the RSA CA', async () => {
    const ecc = (await getCaCerts(printers())).certificates;
    const rsa = (await getCaCerts(server.url)).certificates;
    expect(spkiAlgorithmOid(spkiOf(ecc.at(-1)!))).toBe(id_ecPublicKey);
    expect(rsa.map((c) => spkiAlgorithmOid(spkiOf(c)))).toEqual([rsaEncryption, rsaEncryption]);
    expect(server.fleets.env('printers')!.profile).toBe('modern-ecc');
    expect(server.env.profile).toBe('classic-rsa');
  });

  it('an ECDSA client enrolls at /scep/printers (ECDSA CA); an RSA client is refused there with badAlg but enrolls at /scep', async () => {
    const ecKey = await clientRegistry.byName('key', 'ecdsa-p256').generate();
    const ec = await enroll({ url: printers(), registry: clientRegistry, key: ecKey, subject: 'CN=printer-1,O=Test', challenge: CHALLENGE });
    expect(verifyCertificateSignature(ec.certificate, spkiOf(server.fleets.env('printers')!.ca.certificate), clientRegistry)).toBe(true);

    const rsaKey = await clientRegistry.byName('key', 'rsa-2048').generate();
    await expect(enroll({ url: printers(), registry: clientRegistry, key: rsaKey, subject: 'CN=printer-2,O=Test', challenge: CHALLENGE }))
      .rejects.toThrow(/badAlg/);
    const rsa = await enroll({ url: server.url, registry: clientRegistry, key: rsaKey, subject: 'CN=printer-2,O=Test', challenge: CHALLENGE });
    expect(verifyCertificateSignature(rsa.certificate, spkiOf(server.env.ca.certificate), clientRegistry)).toBe(true);
  });

  it('an unknown fleet is a 404', async () => {
    await expect(getCaCerts(server.url.replace(/\/scep$/, '/scep/nope'))).rejects.toMatchObject({ status: 404 });
  });
});
