/**
 * Real client requests, recorded on the wire (test/vectors/interop/README.md: micromdm
 * scepclient 2.1.0 and strongSwan pki 5.9.8 against micromdm scepserver, 2026-11-21), replayed
 * through our PKIOperation pipeline (`pkiOperation(der, env)`) with a ScepEnv built from the
 * recording's CA (and, for the chain runs, its RA). Every reply is decoded as a client would:
 * the RA's signature, the SCEP attributes of RFC 8894 §3.2.1 / §3.3.2, and for SUCCESS the
 * envelope opened with the client's key and the certificate checked with node:crypto.
 * The clock is pinned to the recording (the clients' self-signed signers were valid for one
 * hour, the issued client certificates for one year), so results do not change with the date.
 * Leaves out: HTTP (test/interop/*.test.ts run the clients themselves), CertPoll and PENDING.
 */
import { EnvelopedData } from '@peculiar/asn1-cms';
import { Certificate } from '@peculiar/asn1-x509';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ALGORITHMS } from '../algorithms/index.ts';
import { nameToString, serialHex } from '../src/ca/certificate.ts';
import { caIdentity, DEFAULT_EXTENDED_KEY_USAGE, type CaIdentity } from '../src/ca/issuer.ts';
import { fromPem } from '../src/ca/pem.ts';
import { equalBytes, parse, serialize } from '../src/cms/der.ts';
import { openEnvelope } from '../src/cms/enveloped-data.ts';
import { id_envelopedData } from '../src/cms/oids.ts';
import { findSignerCertificate, parseContentInfo, parseSignedData, spkiOf, verifySignerInfo } from '../src/cms/signed-data.ts';
import { createRegistry } from '../src/crypto/registry.ts';
import type { PrivateKeyHandle } from '../src/crypto/types.ts';
import { staticChallenge } from '../src/policy/challenge.ts';
import { readOctets, readString } from '../src/scep/attributes.ts';
import type { ScepEnv } from '../src/scep/env.ts';
import { FailInfo, MessageType, PkiStatus, ScepOid, type FailInfoName } from '../src/scep/message.ts';
import { pkiOperation } from '../src/scep/pki-operation.ts';
import { permissivePolicy } from '../src/scep/env.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import { silentLog } from './helpers/server.ts';

const DIR = new URL('./vectors/interop/', import.meta.url);
const text = (name: string) => readFileSync(new URL(name, DIR), 'utf8');
const bytes = (name: string) => new Uint8Array(readFileSync(new URL(name, DIR)));

/** The recording's challenge password (README: "Challenge password everywhere"). */
const CHALLENGE = 'pqscep-interop-secret';
/** Inside every recorded validity window: scepclient's 1-hour signers ran 23:50-00:50 UTC. */
const RECORDED_AT = new Date('2026-11-22T00:30:00Z');
/** After the self-signed signers expired (00:50-00:52 UTC), before anything else did. */
const SIGNERS_EXPIRED_AT = new Date('2026-11-22T06:00:00Z');

const legacyRegistry = createRegistry(ALGORITHMS, { allowLegacy: true });
const strictRegistry = createRegistry(ALGORITHMS);

/** A PEM private key (PKCS#8 or the clients' PKCS#1) as a handle of our RSA key type. */
function keyHandle(name: string): PrivateKeyHandle {
  const [block] = fromPem(text(name));
  const pkcs8 = block.label === 'PRIVATE KEY' ? block.der : new Uint8Array(createPrivateKey(text(name)).export({ type: 'pkcs8', format: 'der' }));
  return legacyRegistry.byName('key', 'rsa-2048').importPkcs8(pkcs8);
}
const certDer = (name: string) => fromPem(text(name))[0].der;
const identity = (cert: string, key: string): CaIdentity => caIdentity(certDer(cert), keyHandle(key));

const CA = identity('scepclient-ca.pem', 'scepclient-ca-key.pem');
const RA = identity('interop-ra.pem', 'interop-ra-key.pem');

interface EnvOptions {
  readonly legacy?: boolean;
  /** The recording's RA receives the envelopes and signs replies (the CA+RA GetCACert runs). */
  readonly withRa?: boolean;
}

function scepEnv(o: EnvOptions = {}): ScepEnv {
  return Object.freeze({
    registry: o.legacy === false ? strictRegistry : legacyRegistry,
    ca: CA,
    ras: [o.withRa ? RA : CA],
    previousCas: [],
    store: openSqliteStore(':memory:'),
    challenge: staticChallenge(CHALLENGE),
    issuance: { validityDays: 30, extendedKeyUsage: DEFAULT_EXTENDED_KEY_USAGE },
    approval: 'auto',
    pqReplyEnvelope: 'require-kem',
    policy: permissivePolicy(o.legacy === false ? strictRegistry : legacyRegistry),
    profile: 'test',
    fleet: 'default',
    crlValidityHours: 24,
    log: silentLog,
  } satisfies ScepEnv);
}

/** Stores a certificate scepserver issued as if we had issued it (a CA migrated to pqscep). */
function adopt(env: ScepEnv, certFile: string): void {
  const der = certDer(certFile);
  const cert = new X509Certificate(der);
  const tbs = parse(der, Certificate, certFile).tbsCertificate;
  const serial = serialHex(tbs.serialNumber);
  env.store.recordIssuance(
    {
      serial, subject: nameToString(tbs.subject), sans: [], notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo),
      keyAlgorithm: 'rsa-2048', signatureAlgorithm: 'sha256WithRSAEncryption', issuer: env.ca.fingerprint,
      transactionId: `adopted-${serial}`, fleet: env.fleet, status: 'valid', der,
    },
    { transactionId: `adopted-${serial}`, fleet: env.fleet, requestHash: `adopted-${serial}`, messageType: 'PKCSReq', status: 'SUCCESS', reply: new Uint8Array(0), certSerial: serial, createdAt: RECORDED_AT },
  );
}

interface Decoded {
  readonly messageType?: string;
  readonly transactionId?: string;
  readonly pkiStatus?: string;
  readonly failInfo?: string;
  readonly senderNonce?: Uint8Array;
  readonly recipientNonce?: Uint8Array;
}

function attributes(der: Uint8Array): Decoded & { signer: Certificate | undefined } {
  const sd = parseSignedData(der);
  const [si] = sd.signedData.signerInfos;
  const a = si.signedAttrs;
  return {
    messageType: readString(a, ScepOid.messageType),
    transactionId: readString(a, ScepOid.transactionID),
    pkiStatus: readString(a, ScepOid.pkiStatus),
    failInfo: readString(a, ScepOid.failInfo),
    senderNonce: readOctets(a, ScepOid.senderNonce),
    recipientNonce: readOctets(a, ScepOid.recipientNonce),
    signer: findSignerCertificate(sd, si),
  };
}

const spkiOfPem = (name: string) => new Uint8Array(createPublicKey(text(name)).export({ type: 'spki', format: 'der' }));

/**
 * Checks what every CertRep must carry (RFC 8894 §3.3.2): one SignerInfo by the RA over the
 * signed attributes, rsaEncryption as its algorithm (the only one strongSwan accepts),
 * messageType CertRep, the request's transactionID, recipientNonce = the request's
 * senderNonce, and a fresh 16-byte senderNonce.
 */
function expectCertRep(reply: Uint8Array, requestDer: Uint8Array, env: ScepEnv) {
  const request = attributes(requestDer);
  const sd = parseSignedData(reply);
  expect(sd.signedData.signerInfos).toHaveLength(1);
  const [si] = sd.signedData.signerInfos;
  expect(() => verifySignerInfo(sd, si, spkiOf(env.ras[0].certificate), env.registry)).not.toThrow();
  expect(si.signatureAlgorithm.algorithm).toBe('1.2.840.113549.1.1.1');
  const got = attributes(reply);
  expect(got.signer && equalBytes(serialize(got.signer), env.ras[0].der)).toBe(true);
  expect(got.messageType).toBe(MessageType.CertRep);
  expect(request.transactionId).toBeTruthy();
  expect(got.transactionId).toBe(request.transactionId);
  expect(request.senderNonce).toHaveLength(16);
  expect(got.recipientNonce).toEqual(request.senderNonce);
  expect(got.senderNonce).toHaveLength(16);
  expect(got.senderNonce).not.toEqual(request.senderNonce);
  return { sd, got, request };
}

/**
 * A SUCCESS CertRep: the envelope has exactly one RecipientInfo (strongSwan reads the first
 * and the last), opens with `decryptKey` (the key of the certificate that signed the request),
 * and holds a certificate for the CSR key (`csrKey`) that the CA signed (checked by node:crypto).
 */
async function expectIssued(reply: Uint8Array, requestDer: Uint8Array, env: ScepEnv, decryptKey: string, csrKey: string): Promise<X509Certificate> {
  const { sd, got, request } = expectCertRep(reply, requestDer, env);
  expect(got.pkiStatus).toBe(PkiStatus.SUCCESS);
  expect(got.failInfo).toBeUndefined();
  expect(sd.content).toBeDefined();
  const ci = parseContentInfo(sd.content!, [id_envelopedData]);
  expect(parse(ci.content, EnvelopedData, 'EnvelopedData').recipientInfos).toHaveLength(1);
  const inner = await openEnvelope(sd.content!, [{ certificate: request.signer!, key: keyHandle(decryptKey) }], legacyRegistry);
  const certs = parseSignedData(inner.content).certificates;
  expect(certs.length).toBeGreaterThanOrEqual(1);
  const issued = new X509Certificate(serialize(certs[0]));
  const ca = new X509Certificate(CA.der);
  expect(issued.checkIssued(ca)).toBe(true);
  expect(issued.verify(ca.publicKey)).toBe(true);
  expect(new Uint8Array(issued.publicKey.export({ type: 'spki', format: 'der' }))).toEqual(spkiOfPem(csrKey));
  expect(env.store.certificatesByTransaction(request.transactionId!)).toHaveLength(1);
  return issued;
}

function expectFailure(reply: Uint8Array, requestDer: Uint8Array, env: ScepEnv, failInfo: FailInfoName): void {
  const { sd, got, request } = expectCertRep(reply, requestDer, env);
  expect(got.pkiStatus).toBe(PkiStatus.FAILURE);
  expect(got.failInfo).toBe(FailInfo[failInfo]);
  expect(sd.content).toBeUndefined(); // RFC 8894 §3.3.2.2: no pkcsPKIEnvelope in a FAILURE
  expect(env.store.certificatesByTransaction(request.transactionId!)).toEqual([]);
}

beforeAll(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: RECORDED_AT });
});
afterAll(() => {
  vi.useRealTimers();
});

describe('RFC 8894 §3.3.1 PKCSReq: captured requests answered SUCCESS', () => {
  // [vector, client, key that opens the reply (the signer's), key in the CSR]
  const cases = [
    ['scepclient-pkcsreq.der', 'scepclient, DES + SHA-1, POST', 'scepclient-client-key.pem', 'scepclient-client-key.pem'],
    ['scepclient-pkcsreq-get.der', 'scepclient, DES + SHA-1, GET (decoded)', 'scepclient-get-client-key.pem', 'scepclient-get-client-key.pem'],
    ['strongswan-pkcsreq.der', 'strongSwan, AES-128-CBC + SHA-256', 'strongswan-client-key.pem', 'strongswan-client-key.pem'],
    ['strongswan-pkcsreq-des3.der', 'strongSwan --cipher des3', 'strongswan-des3-client-key.pem', 'strongswan-des3-client-key.pem'],
    // renewal_via_pkcs_req: a PKCSReq signed by an older certificate, with the challenge
    ['strongswan-renewal-via-pkcsreq.der', 'strongSwan PKCSReq signed by its old certificate', 'strongswan-renewal-new-key.pem', 'strongswan-renewal-new-key.pem'],
  ] as const;

  it.each(cases)('%s (%s)', async (file, _client, decryptKey, csrKey) => {
    const env = scepEnv();
    const der = bytes(file);
    const issued = await expectIssued(await pkiOperation(der, env), der, env, decryptKey, csrKey);
    expect(issued.issuer).toBe(new X509Certificate(CA.der).subject);
  });

  it('keeps the CSR subject: scepclient-pkcsreq.der gets C=US, O=scep-client, OU=MDM, CN=interop-scepclient', async () => {
    const env = scepEnv();
    const der = bytes('scepclient-pkcsreq.der');
    const issued = await expectIssued(await pkiOperation(der, env), der, env, 'scepclient-client-key.pem', 'scepclient-client-key.pem');
    expect(issued.subject.split('\n')).toEqual(['C=US', 'O=scep-client', 'OU=MDM', 'CN=interop-scepclient']);
    // issued on the pinned clock: notBefore is "now" less the 60 s skew allowance, 30 days of validity
    expect(new Date(issued.validFrom)).toEqual(new Date(RECORDED_AT.getTime() - 60_000));
    expect(new Date(issued.validTo)).toEqual(new Date(RECORDED_AT.getTime() + 30 * 86_400_000));
  });

  it('does not check the validity of the self-signed signer (scepclient makes it valid for one hour only)', async () => {
    vi.setSystemTime(SIGNERS_EXPIRED_AT);
    try {
      const der = bytes('scepclient-pkcsreq.der');
      const signer = new X509Certificate(serialize(attributes(der).signer!));
      expect(new Date(signer.validTo).getTime()).toBeLessThan(SIGNERS_EXPIRED_AT.getTime());
      const env = scepEnv();
      await expectIssued(await pkiOperation(der, env), der, env, 'scepclient-client-key.pem', 'scepclient-client-key.pem');
    } finally {
      vi.setSystemTime(RECORDED_AT);
    }
  });

  it('answers an exact replay with the same reply and issues no second certificate', async () => {
    const env = scepEnv();
    const der = bytes('strongswan-pkcsreq.der');
    const first = await pkiOperation(der, env);
    const again = await pkiOperation(der, env);
    expect(again).toEqual(first);
    expect(env.store.certificatesByTransaction(attributes(der).transactionId!)).toHaveLength(1);
  });
});

describe('RFC 8894 §2.2 RA: requests enveloped to the RA (GetCACert returned CA + RA)', () => {
  it('scepclient-pkcsreq-chain.der: two RecipientInfos (CA and RA); opened by the RA, answered SUCCESS', async () => {
    const env = scepEnv({ withRa: true });
    const der = bytes('scepclient-pkcsreq-chain.der');
    await expectIssued(await pkiOperation(der, env), der, env, 'scepclient-chain-client-key.pem', 'scepclient-chain-client-key.pem');
  });

  it('scepclient-pkcsreq-chain.der with the CA alone as recipient: the CA RecipientInfo opens it', async () => {
    const env = scepEnv();
    const der = bytes('scepclient-pkcsreq-chain.der');
    await expectIssued(await pkiOperation(der, env), der, env, 'scepclient-chain-client-key.pem', 'scepclient-chain-client-key.pem');
  });

  it('strongswan-pkcsreq-ra.der: enveloped to the RA only (scepserver answered HTTP 500), answered SUCCESS', async () => {
    const env = scepEnv({ withRa: true });
    const der = bytes('strongswan-pkcsreq-ra.der');
    await expectIssued(await pkiOperation(der, env), der, env, 'strongswan-ra-client-key.pem', 'strongswan-ra-client-key.pem');
  });

  it('strongswan-pkcsreq-ra.der without the RA key: FAILURE badMessageCheck (no RecipientInfo for us)', async () => {
    const env = scepEnv();
    const der = bytes('strongswan-pkcsreq-ra.der');
    expectFailure(await pkiOperation(der, env), der, env, 'badMessageCheck');
  });
});

describe('RFC 8894 §3.3.1.2 RenewalReq: captured renewals', () => {
  describe('signed by a certificate missing from our store (scepserver issued it): the challenge decides', () => {
    it('scepclient-renewalreq.der: its CSR still carries the challenge, so SUCCESS', async () => {
      const env = scepEnv();
      const der = bytes('scepclient-renewalreq.der');
      expect(attributes(der).messageType).toBe(MessageType.RenewalReq);
      await expectIssued(await pkiOperation(der, env), der, env, 'scepclient-client-key.pem', 'scepclient-client-key.pem');
    });

    it('strongswan-renewalreq.der: new key in the CSR, with the challenge, so SUCCESS (reply enveloped to the old certificate)', async () => {
      const env = scepEnv();
      const der = bytes('strongswan-renewalreq.der');
      expect(attributes(der).messageType).toBe(MessageType.RenewalReq);
      await expectIssued(await pkiOperation(der, env), der, env, 'strongswan-client-key.pem', 'strongswan-renewal-new-key.pem');
    });

    it.each([
      ['scepclient-renewalreq-nochallenge.der'],
      ['strongswan-renewalreq-nochallenge.der'],
    ] as const)('%s: no challenge, so FAILURE badRequest', async (file) => {
      const env = scepEnv();
      const der = bytes(file);
      expect(attributes(der).messageType).toBe(MessageType.RenewalReq);
      expectFailure(await pkiOperation(der, env), der, env, 'badRequest');
    });
  });

  describe('signed by a valid certificate our store holds: no challenge needed', () => {
    it.each([
      ['scepclient-renewalreq-nochallenge.der', 'scepclient-get-client-cert.pem', 'scepclient-get-client-key.pem', 'scepclient-get-client-key.pem'],
      ['strongswan-renewalreq-nochallenge.der', 'strongswan-renewed-cert.pem', 'strongswan-renewal-new-key.pem', 'strongswan-renewal-new-key.pem'],
    ] as const)('%s signed by %s: SUCCESS', async (file, signerCert, decryptKey, csrKey) => {
      const env = scepEnv();
      adopt(env, signerCert);
      const der = bytes(file);
      await expectIssued(await pkiOperation(der, env), der, env, decryptKey, csrKey);
    });

    it('a revoked signer certificate falls back to the challenge: FAILURE badRequest', async () => {
      const env = scepEnv();
      adopt(env, 'strongswan-renewed-cert.pem');
      expect(env.store.revoke('07', 'keyCompromise', RECORDED_AT)).toBe(true);
      const der = bytes('strongswan-renewalreq-nochallenge.der');
      expectFailure(await pkiOperation(der, env), der, env, 'badRequest');
    });
  });
});

describe('RFC 8894 §3.3.2.2 CertRep FAILURE: wrong challenge passwords', () => {
  it.each([
    ['scepclient-pkcsreq-badchallenge.der', 'wrong-challenge'],
    ['strongswan-pkcsreq-badchallenge.der', 'wrong'],
  ] as const)('%s (challenge "%s"): FAILURE badRequest', async (file, _challenge) => {
    const env = scepEnv();
    const der = bytes(file);
    expectFailure(await pkiOperation(der, env), der, env, 'badRequest');
  });
});

describe('RFC 8894 §3.5.2 legacy algorithms off: DES, 3DES and SHA-1 refused with FAILURE badAlg', () => {
  it.each([
    ['scepclient-pkcsreq.der', 'SHA-1 signature, DES envelope'],
    ['strongswan-pkcsreq-des3.der', 'SHA-256 signature, DES-EDE3-CBC envelope'],
  ] as const)('%s (%s)', async (file, _algorithms) => {
    const env = scepEnv({ legacy: false });
    const der = bytes(file);
    expectFailure(await pkiOperation(der, env), der, env, 'badAlg');
  });

  it('strongswan-pkcsreq.der (AES-128-CBC + SHA-256) still succeeds', async () => {
    const env = scepEnv({ legacy: false });
    const der = bytes('strongswan-pkcsreq.der');
    await expectIssued(await pkiOperation(der, env), der, env, 'strongswan-client-key.pem', 'strongswan-client-key.pem');
  });
});
