/**
 * `pqscep enroll`, `pqscep renew` and `pqscep caps`: the reference client on the command line.
 * enroll writes key.pem, cert.pem and ca.pem into --out (and every request/reply as DER into
 * --save-messages); renew signs a RenewalReq with the current certificate. Exit code 0 only
 * when a certificate was issued.
 * @module
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { createPublicKey } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALGORITHMS } from '../../algorithms/index.ts';
import { fromPem, toPem } from '../ca/pem.ts';
import { enroll } from '../client/enroll.ts';
import { getCaps } from '../client/http.ts';
import { equalBytes, serialize } from '../cms/der.ts';
import { spkiOf } from '../cms/signed-data.ts';
import { createRegistry } from '../crypto/registry.ts';
import type { PrivateKeyHandle } from '../crypto/types.ts';
import { nameToString } from '../ca/certificate.ts';
import { checkUrl, makeOutFolder, readCliFile, secondsOption } from './inputs.ts';

export interface EnrollFlags {
  url: string; challenge?: string; subject?: string; keyAlg?: string; san?: string[]; out: string;
  saveMessages?: string; get?: boolean; timeout: string; cert?: string; key?: string; reuseKey?: boolean;
}

// The client accepts every registered algorithm, legacy ones included, to talk to old servers.
const registry = () => createRegistry(ALGORITHMS, { allowLegacy: true });

function saver(dir: string | undefined) {
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  return (name: string, der: Uint8Array) => writeFileSync(join(dir, name), der);
}

function write(out: string, key: PrivateKeyHandle, cert: Certificate, cas: readonly Certificate[], reg: ReturnType<typeof registry>) {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'key.pem'), toPem('PRIVATE KEY', reg.byName('key', key.keyType).exportPkcs8(key)), { mode: 0o600 });
  writeFileSync(join(out, 'cert.pem'), toPem('CERTIFICATE', serialize(cert)));
  writeFileSync(join(out, 'ca.pem'), cas.map((c) => toPem('CERTIFICATE', serialize(c))).join(''));
}

function keyTypeOf(reg: ReturnType<typeof registry>, name: string) {
  const signing = reg.list('key').filter((k) => k.usages.includes('sign'));
  const keyType = reg.list('key').find((k) => k.name === name);
  if (!keyType) throw new Error(`unknown --key-alg ${name}; choose one of: ${signing.map((k) => k.name).join(', ')}`);
  // A CSR is signed with its own key (RFC 2986 §3): a KEM or key-agreement key cannot make one.
  if (!keyType.usages.includes('sign')) throw new Error(`invalid --key-alg ${name}: it cannot sign a CSR; choose one of: ${signing.map((k) => k.name).join(', ')}`);
  return keyType;
}

/** The options every client command shares, checked before any key is made or request sent. */
function checkClientFlags(flags: EnrollFlags): number {
  checkUrl(flags.url);
  const timeoutMs = secondsOption(flags.timeout, '--timeout');
  makeOutFolder(flags.out);
  return timeoutMs;
}

export async function enrollCommand(flags: EnrollFlags): Promise<void> {
  if (!flags.subject) throw new Error('--subject is required, e.g. --subject "CN=device-1"');
  const reg = registry();
  const keyType = keyTypeOf(reg, flags.keyAlg ?? 'rsa-2048');
  const timeoutMs = checkClientFlags(flags);
  const key = await keyType.generate();
  const result = await enroll({
    url: flags.url, registry: reg, key, subject: flags.subject, challenge: flags.challenge, sans: flags.san,
    method: flags.get ? 'GET' : undefined, timeoutMs, save: saver(flags.saveMessages),
    onPending: (n) => process.stderr.write(`request pending approval (poll ${n})...\n`),
  });
  write(flags.out, key, result.certificate, result.caCertificates, reg);
  process.stdout.write(`issued ${nameToString(result.certificate.tbsCertificate.subject)} serial ${Buffer.from(result.certificate.tbsCertificate.serialNumber).toString('hex')} -> ${flags.out}/cert.pem\n`);
}

/** The first PEM block of `path` (the value of `option`), which must carry `label`. */
function pemBlock(path: string, option: string, label: string): Uint8Array {
  let blocks;
  try {
    blocks = fromPem(readCliFile(path, option));
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new Error(`${option} ${path}: not valid PEM (${err.message})`);
  }
  const block = blocks[0];
  if (!block) throw new Error(`${option} ${path}: holds no PEM ${label}`);
  if (block.label !== label) throw new Error(`${option} ${path}: holds a ${block.label || 'PEM block'}, not a ${label}`);
  return block.der;
}

function loadCertificate(path: string): Certificate {
  const der = pemBlock(path, '--cert', 'CERTIFICATE');
  try {
    return AsnConvert.parse(der, Certificate);
  } catch {
    throw new Error(`--cert ${path}: not an X.509 certificate`);
  }
}

function loadKey(reg: ReturnType<typeof registry>, path: string): PrivateKeyHandle {
  const der = pemBlock(path, '--key', 'PRIVATE KEY');
  for (const keyType of reg.list('key')) {
    try {
      return keyType.importPkcs8(der);
    } catch {
      // not this type
    }
  }
  throw new Error(`${path}: private key of an unsupported type`);
}

/**
 * The same public key in two SubjectPublicKeyInfos: equal bytes, or (another CA may encode an EC
 * point compressed, RFC 5480 §2.2) equal keys once node:crypto has read both; a key it cannot
 * read (a post-quantum key before Node 24) has one encoding, so its bytes decide.
 */
export function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  if (equalBytes(a, b)) return true;
  try {
    return createPublicKey({ key: Buffer.from(a), format: 'der', type: 'spki' }).equals(createPublicKey({ key: Buffer.from(b), format: 'der', type: 'spki' }));
  } catch {
    return false;
  }
}

export async function renewCommand(flags: EnrollFlags): Promise<void> {
  if (!flags.cert || !flags.key) throw new Error('renew needs --cert and --key of the current certificate');
  const reg = registry();
  const certificate = loadCertificate(flags.cert);
  const oldKey = loadKey(reg, flags.key);
  // RFC 8894 §3.3.1.2: the RenewalReq is signed with the current certificate's key; another key's signature would only come back as badMessageCheck.
  if (!sameKey(spkiOf(certificate), oldKey.spki)) throw new Error(`--key ${flags.key} is not the key of --cert ${flags.cert}: give the private key the current certificate was issued for`);
  // a renewal keeps the current key type unless --key-alg names another (never a silent switch to RSA)
  const keyAlg = flags.keyAlg === undefined || flags.keyAlg === 'same' ? oldKey.keyType : flags.keyAlg;
  const keyType = flags.reuseKey ? undefined : keyTypeOf(reg, keyAlg);
  const timeoutMs = checkClientFlags(flags);
  const key = keyType ? await keyType.generate() : oldKey;
  const subject = flags.subject ?? nameToString(certificate.tbsCertificate.subject);
  const result = await enroll({
    url: flags.url, registry: reg, key, subject, challenge: flags.challenge, renew: { certificate, key: oldKey },
    method: flags.get ? 'GET' : undefined, timeoutMs, save: saver(flags.saveMessages),
  });
  write(flags.out, key, result.certificate, result.caCertificates, reg);
  process.stdout.write(`renewed ${subject} -> ${flags.out}/cert.pem\n`);
}

export async function capsCommand(flags: { url: string }): Promise<void> {
  checkUrl(flags.url);
  process.stdout.write(`${(await getCaps(flags.url)).join('\n')}\n`);
}
