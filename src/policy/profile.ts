/**
 * Policy profiles (`profiles/*.json`): what one fleet may use — CA and RA algorithms, the
 * signature, key, cipher and digest algorithms accepted from clients, how replies reach
 * post-quantum clients, the issued-certificate template, the challenge validator and the
 * legacy switches. Validated at load against the schema and the algorithm registry; every
 * error names the file, the field and the allowed values.
 * Leaves out: applying a profile (fleet/fleet-env.ts) and storing which fleet uses which.
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { Registry } from '../crypto/registry.ts';
import type { Algorithm } from '../crypto/types.ts';

/** RFC 5280 §4.2.1.12 key purposes by name. */
export const KEY_PURPOSES = Object.freeze({
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
} as const);

/** Subject alternative name kinds, as the CSR parser names them ("DNS:x", "IP:x", ...). */
export const SAN_TYPES = ['DNS', 'IP', 'email', 'URI'] as const;

/** Legacy algorithms a profile must name explicitly to use (RFC 8894 §3.5.2: DES3, SHA-1). */
export const LEGACY = ['DES-CBC', 'DES-EDE3-CBC', 'SHA-1'] as const;

const names = z.array(z.string().min(1)).min(1);

export const ProfileSchema = z.strictObject({
  description: z.string().default(''),
  ca: z.strictObject({
    algorithm: z.string().min(1),
    subject: z.string().min(1).optional(),
    validityYears: z.number().int().min(1).max(30).default(10),
  }),
  /** RA certificates, e.g. ["ml-kem-768", "rsa-2048"]: a classical and a post-quantum RA side by side. */
  ra: names,
  clientKeys: names,
  signatures: names,
  ciphers: z.strictObject({ allowed: names, preferred: z.string().min(1).optional() }),
  digests: names,
  /** The digest of CertReps when no signature algorithm prescribes one (default: the request's). */
  preferredDigest: z.string().min(1).optional(),
  replyEnvelope: z.enum(['require-kem', 'allow-classical']).default('require-kem'),
  certificate: z.strictObject({
    validityDays: z.number().int().min(1).max(3650).default(365),
    extendedKeyUsage: z.array(z.string().min(1)).default(['clientAuth']),
    /** SAN kinds a CSR may request (RFC 5280 §4.2.1.6); a CSR asking for another is refused. */
    sanTypes: z.array(z.enum(SAN_TYPES)).default([...SAN_TYPES]),
    /** Where relying parties fetch the CRL (RFC 5280 §4.2.1.13): an http, https, ftp or ldap URI (the schemes that section names), nothing a client cannot fetch. */
    crlDistributionPoint: z.url({ protocol: /^(https?|ftp|ldap)$/, error: 'expected an http://, https://, ftp:// or ldap:// URL' }).optional(),
  }).prefault({}),
  /** Who may enroll without a renewal (src/policy/validators.ts). */
  challenge: z.strictObject({
    validators: z.array(z.enum(['static', 'one-time', 'webhook'])).min(1).default(['static', 'one-time']),
    combine: z.enum(['any', 'all']).default('any'),
    webhook: z.strictObject({
      url: z.url({ protocol: /^https?$/ }),
      timeoutMs: z.number().int().min(100).max(60_000).default(3000),
      retries: z.number().int().min(0).max(5).default(2),
      onError: z.enum(['deny', 'allow']).default('deny'),
      secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
    }).optional(),
    rateLimitPerMinute: z.number().int().min(1).optional(),
  }).prefault({}).refine((c) => !c.validators.includes('webhook') || c.webhook, { message: 'the webhook validator needs challenge.webhook.url' }),
  /** RenewalReq, or a PKCSReq signed by a certificate we issued (RFC 8894 §3.3.1.2). */
  renewal: z.strictObject({
    /** Renewal is accepted only this many days before notAfter; absent: any time while valid. */
    windowDays: z.number().int().min(1).max(3650).optional(),
    /** 'required': a new key; 'forbidden': the same key; 'allowed': either. */
    rekey: z.enum(['allowed', 'required', 'forbidden']).default('allowed'),
    /** Valid certificates one subject may hold in the fleet (a new one beyond is refused). */
    maxActivePerSubject: z.number().int().min(1).optional(),
    /** Revoke the renewed certificate (reason superseded) when its successor is issued. */
    revokeOnReplace: z.boolean().default(false),
  }).prefault({}),
  approval: z.enum(['auto', 'manual']).default('auto'),
  legacy: z.array(z.enum(LEGACY)).default([]),
});

export type ProfileSettings = z.infer<typeof ProfileSchema>;

export interface Profile extends ProfileSettings {
  readonly name: string;
  /** Where it was loaded from (for error messages and `profile show`). */
  readonly source: string;
}

export class ProfileError extends Error {
  override readonly name = 'ProfileError';
}

const PROFILE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The field names of the (strict) object schema at `path`, for "unknown field" errors. */
function fieldsAt(path: readonly PropertyKey[]): string[] {
  const unwrap = (s: z.ZodType): z.ZodType => (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional ? unwrap(s.unwrap() as z.ZodType) : s);
  let schema: z.ZodType | undefined = ProfileSchema;
  for (const key of path) schema = schema && unwrap(schema) instanceof z.ZodObject ? (unwrap(schema) as z.ZodObject).shape[String(key)] : undefined;
  const object = schema && unwrap(schema);
  return object instanceof z.ZodObject ? Object.keys(object.shape) : [];
}

/** Parses and checks one profile. `source` names it in errors (a file path). */
export function parseProfile(text: string, source: string, registry: Registry): Profile {
  const name = basename(source).replace(/\.json$/, '');
  if (!PROFILE_NAME.test(name)) throw new ProfileError(`${source}: profile names are lowercase letters, digits and '-' (got ${JSON.stringify(name)})`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ProfileError(`${source}: not valid JSON: ${(err as Error).message}`);
  }
  const parsed = ProfileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((i) =>
      i.code === 'unrecognized_keys'
        ? i.keys.map((k) => `${source}: ${[...i.path, k].join('.')}: unknown field; allowed fields: ${fieldsAt(i.path).join(', ')}`)
        : [`${source}: ${i.path.join('.') || '(top level)'}: ${i.message}`]);
    throw new ProfileError(problems.join('\n'));
  }
  const profile = Object.freeze({ ...parsed.data, name, source });
  checkAgainstRegistry(profile, registry);
  return profile;
}

type Check = readonly [field: string, values: readonly string[], allowed: readonly string[]];

/** Every name must exist in the registry, for the role the field is about. */
function checkAgainstRegistry(p: Profile, registry: Registry): void {
  const all = (kind: Algorithm['kind']) => registry.list(kind).map((a) => a.name);
  const keyTypes = registry.list('key');
  const signing = keyTypes.filter((k) => k.usages.includes('sign')).map((k) => k.name);
  const receiving = keyTypes.filter((k) => k.usages.some((u) => u === 'encrypt' || u === 'agree')).map((k) => k.name);
  const purposes = Object.keys(KEY_PURPOSES);
  const checks: Check[] = [
    ['ca.algorithm', [p.ca.algorithm], signing],
    ['ra', p.ra, [...new Set([...receiving, ...signing])]],
    ['clientKeys', p.clientKeys, signing],
    ['signatures', p.signatures, all('signature')],
    ['ciphers.allowed', p.ciphers.allowed, all('cipher')],
    ['ciphers.preferred', p.ciphers.preferred ? [p.ciphers.preferred] : [], p.ciphers.allowed],
    ['digests', p.digests, all('digest')],
    ['preferredDigest', p.preferredDigest ? [p.preferredDigest] : [], p.digests],
    ['certificate.extendedKeyUsage', p.certificate.extendedKeyUsage.filter((e) => !/^\d+(\.\d+)+$/.test(e)), purposes],
  ];
  const problems: string[] = [];
  for (const [field, values, allowed] of checks) {
    for (const v of values) if (!allowed.includes(v)) problems.push(`${p.source}: ${field}: ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
  }
  if (!p.ra.some((r) => receiving.includes(r))) problems.push(`${p.source}: ra: needs at least one key that can receive a request envelope (one of ${receiving.join(', ')})`);
  const named = (n: string) => p.legacy.includes(n as (typeof LEGACY)[number]);
  for (const [field, values] of [['ciphers.allowed', p.ciphers.allowed], ['digests', p.digests]] as const) {
    for (const n of values) if ((LEGACY as readonly string[]).includes(n) && !named(n)) problems.push(`${p.source}: ${field}: ${n} is a legacy algorithm: name it in "legacy" to allow it`);
  }
  // A legacy signature algorithm (sha1WithRSAEncryption) comes with its digest: naming SHA-1 allows it.
  for (const s of registry.list('signature').filter((s) => s.legacy && p.signatures.includes(s.name))) {
    if (!s.digest || !named(s.digest)) problems.push(`${p.source}: signatures: ${s.name} is a legacy algorithm: name ${s.digest ?? s.name} in "legacy" to allow it`);
  }
  // Contradictions, once every name is known: a client key type that no allowed signature
  // algorithm signs with (same SPKI OID) could never have its CSR (RFC 2986 §4.2) accepted.
  if (!problems.length) {
    const signatures = registry.list('signature').filter((s) => p.signatures.includes(s.name));
    const unusable = p.clientKeys.filter((name) => !signatures.some((s) => s.keyOid === keyTypes.find((k) => k.name === name)?.spkiOid));
    if (unusable.length) problems.push(`${p.source}: clientKeys: ${unusable.join(', ')}: no algorithm in signatures (${p.signatures.join(', ')}) signs with these keys, so their CSRs would always be refused`);
  }
  if (problems.length) throw new ProfileError(problems.join('\n'));
}

/** Loads every `*.json` in `dir`, sorted by name; throws ProfileError listing every problem. */
export function loadProfiles(dir: string, registry: Registry): Map<string, Profile> {
  const profiles = new Map<string, Profile>();
  const problems: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const path = join(dir, file);
    try {
      const p = parseProfile(readFileSync(path, 'utf8'), path, registry);
      profiles.set(p.name, p);
    } catch (err) {
      if (!(err instanceof ProfileError)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length) throw new ProfileError(problems.join('\n'));
  return profiles;
}

/** Extended key usage OIDs of a profile's certificate template. */
export const extendedKeyUsageOids = (p: Profile): string[] =>
  p.certificate.extendedKeyUsage.map((e) => (KEY_PURPOSES as Record<string, string>)[e] ?? e);
