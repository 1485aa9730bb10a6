/**
 * GetCert and GetCRL (RFC 8894 §3.3.4, §3.3.5): the content is an IssuerAndSerialNumber; the
 * answer is a certs-only SignedData holding the certificate, or the issuing CA's current CRL,
 * enveloped to the requester. CRLs are built on demand and cached until a revocation changes
 * them or they near nextUpdate.
 * @module
 */
import { IssuerAndSerialNumber } from '@peculiar/asn1-cms';
import { serialHex } from '../ca/certificate.ts';
import { buildCrl } from '../ca/crl.ts';
import type { CaIdentity } from '../ca/issuer.ts';
import { parse, serialize } from '../cms/der.ts';
import { sameEncoding } from '../cms/pre-encoded.ts';
import { CmsError } from '../cms/errors.ts';
import { certsOnly } from '../cms/signed-data-build.ts';
import { success, successWith } from './enroll.ts';
import type { ScepEnv } from './env.ts';
import { ScepError } from './errors.ts';
import type { Outcome, Verified } from './pki-operation.ts';

function issuerAndSerial(v: Verified, env: ScepEnv): { ca: CaIdentity; serial: string } {
  let ias: IssuerAndSerialNumber;
  try {
    ias = parse(v.envelope.content, IssuerAndSerialNumber, 'IssuerAndSerialNumber');
  } catch (err) {
    if (err instanceof CmsError) throw new ScepError('badRequest', err.message);
    throw err;
  }
  // Compared as DER (sameEncoding); an issuer Name with no DER names none of our CAs.
  const ca = [env.ca, ...env.previousCas].find((c) => sameEncoding(ias.issuer, c.certificate.tbsCertificate.subject));
  if (!ca) throw new ScepError('badCertID', 'unknown issuer');
  return { ca, serial: serialHex(ias.serialNumber) };
}

export async function handleGetCert(v: Verified, env: ScepEnv): Promise<Outcome> {
  const { ca, serial } = issuerAndSerial(v, env);
  const record = env.store.certificate(serial);
  if (!record || record.issuer !== ca.fingerprint) throw new ScepError('badCertID', `no certificate ${serial}`);
  return { body: success(v, record.der, undefined, env), record: false };
}

export async function handleGetCrl(v: Verified, env: ScepEnv): Promise<Outcome> {
  const { ca } = issuerAndSerial(v, env);
  const crl = await currentCrl(ca, env);
  return { body: successWith(v, certsOnly([], [crl]), undefined, env), record: false };
}

interface CachedCrl {
  readonly key: string;
  readonly crl: Awaited<ReturnType<typeof buildCrl>>['crl'];
  readonly refreshAt: number;
}
const crlCache = new Map<string, CachedCrl>();

/** The CA's CRL (RFC 5280 §5), rebuilt when the revoked set changes or half its lifetime passed. */
export async function currentCrl(ca: CaIdentity, env: ScepEnv, now = new Date()) {
  const revoked = env.store.revoked(ca.fingerprint);
  const key = revoked.map((r) => r.serial).join(',');
  const cached = crlCache.get(ca.fingerprint);
  if (cached && cached.key === key && cached.refreshAt > now.getTime()) return cached.crl;
  const lifetime = env.crlValidityHours * 3600_000;
  const { crl } = await buildCrl(ca, revoked, env.store.nextCrlNumber(ca.fingerprint), now, new Date(now.getTime() + lifetime), env.registry);
  crlCache.set(ca.fingerprint, { key, crl, refreshAt: now.getTime() + lifetime / 2 });
  return crl;
}

/**
 * The DER CRL of `env`'s current CA, as published over HTTP (`GET /crl/<fleet>.crl`, RFC 5280
 * §4.2.1.13 distribution point). The same cached CRL GetCRL answers with.
 */
export async function currentCrlDer(env: ScepEnv, now = new Date()): Promise<Uint8Array> {
  return serialize(await currentCrl(env.ca, env, now));
}
