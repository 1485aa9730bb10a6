/**
 * Policy profiles (profiles/*.json, src/policy/profile.ts): every shipped profile loads and
 * builds a fleet environment (CA and RAs of the named key types, GetCACaps from its
 * allow-lists); invalid files are rejected with errors that name the file, the field and the
 * allowed values; a folder reports every problem at once; and the same through the command
 * line (`pqscep profile validate | list`, `pqscep serve --profile`).
 * The large-signature profile creates an SLH-DSA-SHA2-128f CA once (seconds with noble).
 * Leaves out: profiles applied to live traffic (fleet-switch.test.ts, interop/hybrid-fleet.test.ts,
 * rfc8894-*.test.ts).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALGORITHMS } from '../algorithms/index.ts';
import { createRegistry } from '../src/crypto/registry.ts';
import { CaCache, fleetEnv, type FleetServices } from '../src/fleet/fleet-env.ts';
import { loadProfiles, parseProfile, ProfileError, type Profile } from '../src/policy/profile.ts';
import { capabilities } from '../src/scep/capabilities.ts';
import type { ScepEnv } from '../src/scep/env.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import { silentLog } from './helpers/server.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SHIPPED = join(ROOT, 'profiles');
const BIN = join(ROOT, 'bin', 'pqscep.js');
/** The registry profiles are checked against (legacy algorithms exist; a profile enables them). */
const registry = createRegistry(ALGORITHMS, { allowLegacy: true });
const work = mkdtempSync(join(tmpdir(), 'pqscep-profiles-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const shipped = (name: string) => JSON.parse(readFileSync(join(SHIPPED, `${name}.json`), 'utf8')) as Record<string, unknown>;
const NAMES = ['classic-rsa', 'hybrid-transition', 'large-signature', 'modern-ecc', 'pq-cnsa2', 'pq-ml-dsa-65'];

/** The error parseProfile throws for `json` (text or value) read from `file`. */
function problemOf(json: unknown, file = '/etc/pqscep/profiles/site.json'): string {
  try {
    parseProfile(typeof json === 'string' ? json : JSON.stringify(json), file, registry);
  } catch (err) {
    expect(err).toBeInstanceOf(ProfileError);
    return (err as Error).message;
  }
  throw new Error('the profile was accepted');
}

describe('the shipped profiles', () => {
  const profiles = loadProfiles(SHIPPED, registry);
  const envs = new Map<string, ScepEnv>();
  const store = openSqliteStore(':memory:');
  beforeAll(async () => {
    const dataDir = join(work, 'data');
    const services: FleetServices = { dataDir, store, log: silentLog, staticSecret: 'x', allowLegacy: false, crlValidityHours: 24 };
    const cas = new CaCache(dataDir);
    // One after the other: profiles sharing a CA key type share its folder (data/ca/<key type>/).
    for (const p of profiles.values()) envs.set(p.name, await fleetEnv(p.name, p, services, cas, { previous: [] }));
  }, 180_000);
  afterAll(() => store.close());

  it('are the six documented ones', () => {
    expect([...profiles.keys()]).toEqual(NAMES);
  });

  it.each(NAMES)('%s builds an environment with its CA and RA key types', (name) => {
    const p = profiles.get(name)!;
    const env = envs.get(name)!;
    expect(env.profile).toBe(name);
    expect(env.ca.key.keyType).toBe(p.ca.algorithm);
    expect(env.ras.map((r) => r.key.keyType)).toEqual(p.ra);
    expect([...env.policy.clientKeys]).toEqual(p.clientKeys);
    // Legacy algorithms exist in an environment only when its profile names them.
    expect(env.registry.allowLegacy).toBe(p.legacy.length > 0);
  });

  it('GetCACaps follows each profile', () => {
    const caps = (name: string) => {
      const env = envs.get(name)!;
      return capabilities(env.registry, env.policy, { nextCaCert: false, raKeys: env.ras.map((r) => r.key.spki) });
    };
    expect(caps('classic-rsa')).toEqual(['AES', 'POSTPKIOperation', 'Renewal', 'SCEPStandard', 'SHA-256', 'SHA-384', 'SHA-512']);
    expect(caps('modern-ecc')).toEqual(['AES', 'POSTPKIOperation', 'Renewal', 'SCEPStandard', 'SHA-256', 'SHA-384', 'SHA-512']);
    expect(caps('hybrid-transition')).toEqual(['AES', 'POSTPKIOperation', 'Renewal', 'SCEPStandard', 'SHA-1', 'SHA-256', 'SHA-384', 'SHA-512', 'ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87', 'ML-KEM-768']);
    expect(caps('pq-ml-dsa-65')).toEqual(['AES', 'POSTPKIOperation', 'Renewal', 'SHA-384', 'SHA-512', 'ML-DSA-65', 'ML-DSA-87', 'ML-KEM-768']);
    expect(caps('pq-cnsa2')).toEqual(['AES', 'POSTPKIOperation', 'Renewal', 'SHA-512', 'ML-DSA-87', 'ML-KEM-1024']);
    expect(caps('large-signature')).toEqual(expect.arrayContaining(['SLH-DSA-SHA2-128F', 'SLH-DSA-SHAKE-128S', 'ML-DSA-65', 'ML-KEM-768', 'SHA-256']));
    for (const name of NAMES.filter((n) => n !== 'hybrid-transition')) expect(caps(name)).not.toContain('SHA-1');
    for (const name of NAMES) expect(caps(name)).not.toContain('DES3');
  });

  it('profiles with the same CA key type share one CA (classic-rsa and hybrid-transition)', () => {
    expect(envs.get('hybrid-transition')!.ca.fingerprint).toBe(envs.get('classic-rsa')!.ca.fingerprint);
    expect(envs.get('hybrid-transition')!.ras[0]!.fingerprint).toBe(envs.get('classic-rsa')!.ras[0]!.fingerprint);
  });
});

describe('invalid profile files: the file, the field and the allowed values', () => {
  const base = shipped('classic-rsa');
  const FILE = '/etc/pqscep/profiles/site.json';

  // [what, profile, the field the message names, what else it must say]
  const cases: [string, unknown, string, RegExp][] = [
    ['unknown top-level key', { ...base, colour: 'red' }, 'colour', /unknown field; allowed fields: description, ca, ra, clientKeys, signatures, ciphers, digests, preferredDigest, replyEnvelope, certificate, challenge, renewal, approval, legacy$/],
    ['unknown nested key', { ...base, ca: { algorithm: 'rsa-2048', keySize: 4096 } }, 'ca.keySize', /unknown field; allowed fields: algorithm, subject, validityYears$/],
    ['wrong type', { ...base, ra: 'rsa-2048' }, 'ra', /expected array, received string/],
    ['wrong type (nested number)', { ...base, certificate: { validityDays: '365' } }, 'certificate.validityDays', /expected number, received string/],
    ['unknown algorithm name', { ...base, signatures: ['sha256WithRSA'] }, 'signatures', /"sha256WithRSA" is not one of rsaEncryption, sha256WithRSAEncryption, .*ML-DSA-65/],
    ['unknown cipher', { ...base, ciphers: { allowed: ['AES-256-CTR'] } }, 'ciphers.allowed', /"AES-256-CTR" is not one of .*AES-256-CBC/],
    ['a CA key that cannot sign', { ...base, ca: { algorithm: 'ml-kem-768' } }, 'ca.algorithm', /"ml-kem-768" is not one of rsa-2048, .*ml-dsa-65/],
    ['an RA with no receiving key', { ...base, ra: ['ml-dsa-65'] }, 'ra', /needs at least one key that can receive a request envelope \(one of rsa-2048, .*ml-kem-768/],
    ['preferred cipher not allowed', { ...base, ciphers: { allowed: ['AES-256-CBC'], preferred: 'AES-256-GCM' } }, 'ciphers.preferred', /"AES-256-GCM" is not one of AES-256-CBC$/],
    ['legacy cipher not named in "legacy"', { ...base, ciphers: { allowed: ['AES-256-CBC', 'DES-CBC'] } }, 'ciphers.allowed', /DES-CBC is a legacy algorithm: name it in "legacy"/],
    ['legacy digest not named in "legacy"', { ...base, digests: ['SHA-256', 'SHA-1'] }, 'digests', /SHA-1 is a legacy algorithm: name it in "legacy"/],
    ['legacy signature without its digest in "legacy"', { ...base, signatures: ['sha1WithRSAEncryption'] }, 'signatures', /sha1WithRSAEncryption is a legacy algorithm: name SHA-1 in "legacy"/],
    ['"legacy" naming something that is not legacy', { ...base, legacy: ['DES3'] }, 'legacy.0', /expected one of "DES-CBC"\|"DES-EDE3-CBC"\|"SHA-1"/],
    ['unknown enum value', { ...base, replyEnvelope: 'never' }, 'replyEnvelope', /expected one of "require-kem"\|"allow-classical"/],
    ['a missing required field', { ...base, ca: undefined }, 'ca', /expected object, received undefined/],
    ['client keys no listed signature fits (every CSR would be refused)', { ...base, signatures: ['ML-DSA-65'] }, 'clientKeys',
      /^rsa-2048, rsa-3072, rsa-4096: no algorithm in signatures \(ML-DSA-65\) signs with these keys, so their CSRs would always be refused$/],
    ['a CRL distribution point no client can fetch (RFC 5280 §4.2.1.13)', { ...base, certificate: { crlDistributionPoint: 'javascript:alert(1)' } }, 'certificate.crlDistributionPoint',
      /^expected an http:\/\/, https:\/\/, ftp:\/\/ or ldap:\/\/ URL$/],
    ['one client key of two without a signature', { ...base, clientKeys: ['rsa-2048', 'ml-dsa-65'] }, 'clientKeys',
      /^ml-dsa-65: no algorithm in signatures \(rsaEncryption, .*RSASSA-PSS\) signs with these keys/],
  ];

  it.each(cases)('%s', (_, profile, field, rest) => {
    const lines = problemOf(profile, FILE).split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith(`${FILE}: ${field}: `), lines[0]).toBe(true);
    expect(lines[0]!.slice(`${FILE}: ${field}: `.length)).toMatch(rest);
  });

  it('every problem of one file, one line each', () => {
    const lines = problemOf({ ...base, ca: { algorithm: 'ml-kem-768' }, signatures: ['nope'], ciphers: { allowed: ['DES-CBC'] } }, FILE).split('\n');
    expect(lines.map((l) => l.split(': ')[1])).toEqual(['ca.algorithm', 'signatures', 'ciphers.allowed']);
  });

  it('an invalid profile file name', () => {
    expect(problemOf(base, '/etc/pqscep/profiles/Classic RSA.json'))
      .toBe(`/etc/pqscep/profiles/Classic RSA.json: profile names are lowercase letters, digits and '-' (got "Classic RSA")`);
  });

  it('malformed JSON', () => {
    expect(problemOf('{ "ca": { "algorithm": "rsa-2048" }, }', FILE)).toMatch(new RegExp(`^${FILE}: not valid JSON: .+`));
  });

  it('loadProfiles reports every problem of a folder at once, each naming its file', () => {
    const dir = join(work, 'mixed');
    mkdirSync(dir);
    writeFileSync(join(dir, 'good.json'), JSON.stringify(base));
    writeFileSync(join(dir, 'bad-alg.json'), JSON.stringify({ ...base, clientKeys: ['rsa-1024'] }));
    writeFileSync(join(dir, 'bad-json.json'), '{');
    writeFileSync(join(dir, 'BadName.json'), JSON.stringify(base));
    writeFileSync(join(dir, 'notes.txt'), 'not a profile: ignored');
    let message = '';
    try {
      loadProfiles(dir, registry);
    } catch (err) {
      expect(err).toBeInstanceOf(ProfileError);
      message = (err as Error).message;
    }
    const lines = message.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(new RegExp(`^${join(dir, 'bad-alg.json')}: clientKeys: "rsa-1024" is not one of rsa-2048, `)),
      expect.stringMatching(new RegExp(`^${join(dir, 'bad-json.json')}: not valid JSON: `)),
      expect.stringMatching(new RegExp(`^${join(dir, 'BadName.json')}: profile names are lowercase`)),
    ]));
  });

  it('a valid file parses with its defaults filled in', () => {
    const p: Profile = parseProfile(JSON.stringify({ ...base, description: undefined }), '/x/site-a.json', registry);
    expect(p).toMatchObject({ name: 'site-a', source: '/x/site-a.json', description: '', replyEnvelope: 'require-kem', approval: 'auto', legacy: [] });
    expect(p.ca.validityYears).toBe(10);
  });

  it.each([
    ['http', 'http://pki.example.com:8080/crl/default.crl'],
    ['ldap, RFC 5280 §4.2.1.13\'s own example', 'ldap://ldap.example.com/cn=CA,dc=example,dc=com?certificateRevocationList;binary'],
    ['ftp, which RFC 5280 §4.2.1.13 names beside HTTP', 'ftp://ftp.example.com/pki/ca.crl'],
  ])('a CRL distribution point over %s is kept', (_, url) => {
    const p = parseProfile(JSON.stringify({ ...base, certificate: { crlDistributionPoint: url } }), '/x/site-a.json', registry);
    expect(p.certificate.crlDistributionPoint).toBe(url);
  });

  it('ECDSA P-384 client keys with ecdsa-with-SHA384 as the only signature load (same SPKI algorithm, id-ecPublicKey)', () => {
    const ecc = shipped('modern-ecc');
    const p = parseProfile(JSON.stringify({ ...ecc, clientKeys: ['ecdsa-p384'], signatures: ['ecdsa-with-SHA384'] }), '/x/site-a.json', registry);
    expect(p.clientKeys).toEqual(['ecdsa-p384']);
  });
});

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `pqscep ...args` from the repository root, PQSCEP_* variables removed; never rejects. */
function pqscep(args: string[], timeoutMs = 45_000): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PQSCEP_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0, stdout, stderr });
    });
  });
}
const nonEmpty = (s: string) => s.split('\n').filter((l) => l !== '');

describe('the command line', () => {
  it('pqscep profile validate FILE: exit 0 and one line for a good file', async () => {
    const r = await pqscep(['profile', 'validate', join(SHIPPED, 'pq-cnsa2.json')]);
    expect(r.code, r.stderr).toBe(0);
    expect(nonEmpty(r.stdout)).toEqual([`${join(SHIPPED, 'pq-cnsa2.json')}: valid profile pq-cnsa2 (CA ml-dsa-87, RA ml-kem-1024)`]);
  });

  it('pqscep profile validate FILE: exit 1 and one line per problem', async () => {
    const file = join(work, 'three-problems.json');
    writeFileSync(file, JSON.stringify({ ...shipped('classic-rsa'), ca: { algorithm: 'ml-kem-768' }, signatures: ['nope'], ciphers: { allowed: ['DES-CBC'] } }));
    const r = await pqscep(['profile', 'validate', file]);
    expect(r.code).toBe(1);
    const lines = nonEmpty(r.stderr);
    expect(lines, r.stderr).toHaveLength(3);
    expect(lines[0]).toMatch(/ca\.algorithm: "ml-kem-768" is not one of /);
    expect(lines[1]).toMatch(/signatures: "nope" is not one of /);
    expect(lines[2]).toMatch(/ciphers\.allowed: DES-CBC is a legacy algorithm/);
    for (const l of lines) expect(l).toContain(file);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('pqscep profile list: the six shipped profiles, one line each', async () => {
    const r = await pqscep(['profile', 'list']);
    expect(r.code, r.stderr).toBe(0);
    expect(nonEmpty(r.stdout).map((l) => l.split(/\s+/)[0])).toEqual(NAMES);
  });

  it('pqscep serve --profile nope: exit 1, one line naming the setting and the profiles there are', async () => {
    const r = await pqscep(['serve', '--profile', 'nope', '--port', '0', '--data', join(work, 'serve-nope')]);
    expect(r.code).toBe(1);
    const lines = nonEmpty(r.stderr);
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^pqscep: invalid setting profile \(--profile\): no profile named nope\b/);
    for (const name of NAMES) expect(lines[0]).toContain(name);
    expect(r.stdout).not.toMatch(/listening on/);
  });
});
