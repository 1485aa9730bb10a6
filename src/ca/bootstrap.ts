/**
 * Creates or loads the CA and its RA certificates (RFC 8894 §2.1: an RA receives the enveloped
 * requests and, if its key can sign, signs CertReps; its certificate is issued by the CA) in a
 * data folder: `ca.key.pem` / `ca.pem`, and one `ra-<keytype>.key.pem` / `ra-<keytype>.pem`
 * pair per RA key type (e.g. an RSA and an ML-KEM RA side by side). Keys are PKCS#8, mode 0600.
 *
 * Crash safety: new files are written and fsynced in `.ca-staging/`, which is then renamed to
 * `.ca-commit/` (the commit point) and its files moved into place; start-up drops a leftover
 * staging folder and finishes a leftover commit. So a crash leaves either the old files or all
 * the new ones. An existing CA key or certificate is never overwritten.
 * Leaves out: CA rollover (GetNextCACert), encrypted key files, HSM keys, two processes
 * bootstrapping the same folder at once.
 * @module
 */
import { mkdir, open, readFile, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AuthorityKeyIdentifier, BasicConstraints, Certificate, KeyIdentifier, KeyUsage, KeyUsageFlags, type Name, SubjectKeyIdentifier,
  id_ce_authorityKeyIdentifier, id_ce_basicConstraints, id_ce_keyUsage, id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import type { Registry } from '../crypto/registry.ts';
import type { PrivateKeyHandle } from '../crypto/types.ts';
import { equalBytes, parse, serialize } from '../cms/der.ts';
import { spkiOf } from '../cms/signed-data.ts';
import { certificateSignatureAlgorithm, verifyCertificateSignature, extension, keyIdentifierOf, parseName, randomSerial, signCertificate, subjectKeyIdentifier } from './certificate.ts';
import { caIdentity, keyUsageFor, type CaIdentity } from './issuer.ts';
import { fromPem, toPem } from './pem.ts';

export interface CaFiles {
  readonly ca: CaIdentity;
  /** RAs, in the configured order: they decrypt requests (and sign CertReps when they can); issued by the CA. */
  readonly ras: readonly CaIdentity[];
}

export interface BootstrapOptions {
  /** KeyType name for a new CA; default 'rsa-2048'. Ignored when the CA exists. */
  readonly caKeyType?: string;
  /** KeyType names of the RAs; default ['rsa-2048']. Missing ones are issued by the existing CA. */
  readonly raKeyTypes?: readonly string[];
  /** RFC 4514 subject of a new CA; default "CN=pqscep CA,O=pqscep". */
  readonly caSubject?: string;
  /** RFC 4514 subject of a new RA; default "CN=pqscep RA,O=pqscep". */
  readonly raSubject?: string;
  /** Validity of a new CA (and at most of the RA) in years; default 10. */
  readonly validityYears?: number;
}

/** The data folder holds something we will not touch or cannot use (half a CA, a wrong RA). */
export class CaFilesError extends Error {
  override readonly name = 'CaFilesError';
}

const FILES = Object.freeze({ caKey: 'ca.key.pem', ca: 'ca.pem' });
const raFiles = (keyType: string) => ({ ra: `ra-${keyType}.pem`, raKey: `ra-${keyType}.key.pem` });
const STAGING = '.ca-staging';
const COMMIT = '.ca-commit';
const SKEW_MS = 60_000;

const exists = (path: string) => stat(path).then(() => true, () => false);

async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Moves every file of a committed `.ca-commit/` into place, then removes it (idempotent). */
async function finishCommit(dir: string): Promise<void> {
  const commit = join(dir, COMMIT);
  for (const name of await readdir(commit)) await rename(join(commit, name), join(dir, name));
  await syncDir(dir);
  await rmdir(commit);
}

async function recover(dir: string): Promise<void> {
  await rm(join(dir, STAGING), { recursive: true, force: true }); // never committed
  if (await exists(join(dir, COMMIT))) await finishCommit(dir);
}

/** Writes `files` (name → [text, mode]) all or nothing. */
async function commitFiles(dir: string, files: Record<string, readonly [string, number]>): Promise<void> {
  const staging = join(dir, STAGING);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { mode: 0o700 });
  for (const [name, [text, mode]] of Object.entries(files)) {
    const fh = await open(join(staging, name), 'wx', mode);
    try {
      await fh.chmod(mode); // exact mode whatever the umask
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  await syncDir(staging);
  await rename(staging, join(dir, COMMIT)); // the commit point
  await syncDir(dir);
  await finishCommit(dir);
}

const pemFiles = (certName: string, keyName: string, id: CaIdentity, registry: Registry) => ({
  [keyName]: [toPem('PRIVATE KEY', registry.byName('key', id.key.keyType).exportPkcs8(id.key)), 0o600] as const,
  [certName]: [toPem('CERTIFICATE', id.der), 0o644] as const,
});

async function newKey(registry: Registry, name: string, role: 'CA' | 'RA'): Promise<PrivateKeyHandle> {
  const type = registry.byName('key', name);
  // A CA signs; an RA must at least receive envelopes (it may also sign CertReps).
  if (role === 'CA' && !type.usages.includes('sign')) throw new RangeError(`${name} keys cannot sign; a CA must`);
  if (role === 'RA' && type.usages.length === 0) throw new RangeError(`${name} keys can neither sign nor receive`);
  return type.generate();
}

const addYears = (d: Date, years: number) => {
  const out = new Date(d);
  out.setUTCFullYear(out.getUTCFullYear() + years);
  return out;
};

async function createCa(registry: Registry, subject: Name, keyType: string, years: number, now: Date): Promise<CaIdentity> {
  const key = await newKey(registry, keyType, 'CA');
  const certificate = await signCertificate(
    {
      subject, issuer: subject, spki: key.spki, serial: randomSerial(), notBefore: new Date(now.getTime() - SKEW_MS), notAfter: addYears(now, years),
      extensions: [
        extension(id_ce_basicConstraints, new BasicConstraints({ cA: true }), true), // RFC 5280 §4.2.1.9
        extension(id_ce_keyUsage, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature), true),
        // RFC 5280 §4.2.1.1: authorityKeyIdentifier may be omitted in a self-signed certificate.
        extension(id_ce_subjectKeyIdentifier, new SubjectKeyIdentifier(subjectKeyIdentifier(key.spki))),
      ],
    },
    { key, ...certificateSignatureAlgorithm(key, registry) },
  );
  return caIdentity(serialize(certificate), key);
}

async function createRa(registry: Registry, ca: CaIdentity, subject: Name, keyType: string, years: number, now: Date): Promise<CaIdentity> {
  const key = await newKey(registry, keyType, 'RA');
  const caNotAfter = ca.certificate.tbsCertificate.validity.notAfter.getTime();
  const notAfter = new Date(Math.min(addYears(now, years).getTime(), caNotAfter.getTime()));
  const certificate = await signCertificate(
    {
      subject, issuer: ca.certificate.tbsCertificate.subject, spki: key.spki, serial: randomSerial(),
      notBefore: new Date(now.getTime() - SKEW_MS), notAfter,
      extensions: [
        extension(id_ce_basicConstraints, new BasicConstraints({ cA: false }), true),
        // digitalSignature (CertRep) + keyEncipherment (requests are enveloped to it) when the key type can.
        extension(id_ce_keyUsage, keyUsageFor(registry.byName('key', keyType).usages), true),
        extension(id_ce_subjectKeyIdentifier, new SubjectKeyIdentifier(subjectKeyIdentifier(key.spki))),
        extension(id_ce_authorityKeyIdentifier, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyIdentifierOf(ca.certificate)) })),
      ],
    },
    { key: ca.key, ...certificateSignatureAlgorithm(ca.key, registry) },
  );
  return caIdentity(serialize(certificate), key);
}

function onePem(text: string, label: string, file: string): Uint8Array {
  const blocks = fromPem(text).filter((b) => b.label === label);
  if (blocks.length !== 1) throw new CaFilesError(`${file}: expected exactly one ${label} block`);
  return blocks[0].der;
}

function parseCertificate(der: Uint8Array, file: string): Certificate {
  try {
    return parse(der, Certificate, file);
  } catch (err) {
    throw new CaFilesError(`${file}: not a certificate`, { cause: err });
  }
}

async function loadIdentity(dir: string, certFile: string, keyFile: string, registry: Registry): Promise<CaIdentity> {
  const der = onePem(await readFile(join(dir, certFile), 'utf8'), 'CERTIFICATE', certFile);
  const keyDer = onePem(await readFile(join(dir, keyFile), 'utf8'), 'PRIVATE KEY', keyFile);
  const spki = spkiOf(parseCertificate(der, certFile));
  const keyType = registry.keyTypeOf(spki);
  if (!keyType) throw new CaFilesError(`${certFile}: its key type is not enabled in the registry`);
  try {
    return caIdentity(der, keyType.importPkcs8(keyDer));
  } catch (err) {
    throw new CaFilesError(`${keyFile} is not the private key of ${certFile}`, { cause: err });
  }
}

/** True when `cert` names `ca` as issuer and its signature verifies with the CA key. */
function issuedBy(cert: Certificate, ca: CaIdentity, registry: Registry): boolean {
  if (!equalBytes(serialize(cert.tbsCertificate.issuer), serialize(ca.certificate.tbsCertificate.subject))) return false;
  return verifyCertificateSignature(cert, spkiOf(ca.certificate), registry);
}

/**
 * Loads the CA and RA from `dir`, creating what is missing: both when there is no CA (then
 * `created` is true), or a new RA from the existing CA when the RA files are missing or the RA
 * certificate has expired. Throws CaFilesError for half a CA (a key without its certificate or
 * the reverse), a key that does not match its certificate, or an RA the CA did not issue.
 */
export async function loadOrCreateCa(dir: string, registry: Registry, opts: BootstrapOptions = {}): Promise<CaFiles & { created: boolean }> {
  const now = new Date();
  const years = opts.validityYears ?? 10;
  const raSubject = (keyType: string) => parseName(opts.raSubject ?? `CN=pqscep RA ${keyType},O=pqscep`);
  const raKeyTypes = opts.raKeyTypes?.length ? [...new Set(opts.raKeyTypes)] : ['rsa-2048'];
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await recover(dir);
  const [hasCa, hasCaKey] = await Promise.all([FILES.ca, FILES.caKey].map((f) => exists(join(dir, f))));

  if (!hasCa && !hasCaKey) {
    const ca = await createCa(registry, parseName(opts.caSubject ?? 'CN=pqscep CA,O=pqscep'), opts.caKeyType ?? 'rsa-2048', years, now);
    const ras: CaIdentity[] = [];
    let files = pemFiles(FILES.ca, FILES.caKey, ca, registry);
    for (const keyType of raKeyTypes) {
      const ra = await createRa(registry, ca, raSubject(keyType), keyType, years, now);
      ras.push(ra);
      files = { ...files, ...pemFiles(raFiles(keyType).ra, raFiles(keyType).raKey, ra, registry) };
    }
    await commitFiles(dir, files);
    return { ca, ras, created: true };
  }
  if (!hasCa || !hasCaKey) throw new CaFilesError(`${dir}: ${hasCa ? FILES.caKey : FILES.ca} is missing; restore it or remove ${hasCa ? FILES.ca : FILES.caKey}`);
  const ca = await loadIdentity(dir, FILES.ca, FILES.caKey, registry);
  if (opts.caKeyType && !registry.byName('key', opts.caKeyType).matches(ca.key.spki) && ca.key.keyType !== opts.caKeyType)
    throw new CaFilesError(`${dir} holds a ${ca.key.keyType} CA, not ${opts.caKeyType}: use another data folder, or stage a new CA for rollover`);

  const ras: CaIdentity[] = [];
  for (const keyType of raKeyTypes) {
    const names = raFiles(keyType);
    const [hasRa, hasRaKey] = await Promise.all([names.ra, names.raKey].map((f) => exists(join(dir, f))));
    let ra = hasRa && hasRaKey ? await loadIdentity(dir, names.ra, names.raKey, registry) : undefined;
    if (ra && !issuedBy(ra.certificate, ca, registry)) throw new CaFilesError(`${names.ra} was not issued by ${FILES.ca}; remove ${names.ra} and ${names.raKey} to have a new RA issued`);
    if (!ra || ra.certificate.tbsCertificate.validity.notAfter.getTime() <= now) {
      ra = await createRa(registry, ca, raSubject(keyType), keyType, years, now);
      await commitFiles(dir, pemFiles(names.ra, names.raKey, ra, registry));
    }
    ras.push(ra);
  }
  return { ca, ras, created: false };
}
