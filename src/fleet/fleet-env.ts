/**
 * Turns a profile into what requests run against: a registry (legacy algorithms only when the
 * profile or `--allow-legacy` names them), the algorithm policy (the profile's allow-lists),
 * the CA and RA certificates (one data folder per CA algorithm: `data/ca/<key type>/`, shared
 * by every profile with that CA), and the frozen ScepEnv. The `flags` profile is what a server
 * started without `--profile` runs: everything registered, CA and RA from `--ca-alg`/`--ra-alg`.
 * @module
 */
import { join } from 'node:path';
import { ALGORITHMS } from '../../algorithms/index.ts';
import { loadOrCreateCa, type CaFiles } from '../ca/bootstrap.ts';
import type { ServerConfig } from '../config.ts';
import { createRegistry, type Registry } from '../crypto/registry.ts';
import { challengeValidatorFor } from '../policy/validators.ts';
import { extendedKeyUsageOids, LEGACY, type Profile } from '../policy/profile.ts';
import type { AlgorithmPolicy, Logger, ScepEnv } from '../scep/env.ts';
import { withFields } from '../log.ts';
import type { Store } from '../store/store.ts';

export interface FleetServices {
  readonly dataDir: string;
  readonly store: Store;
  readonly log: Logger;
  /** The server's static challenge (`--challenge` or data/challenge.txt), each fleet's until rotated. */
  readonly staticSecret: string;
  /** `--allow-legacy`: DES, 3DES and SHA-1 for every fleet. */
  readonly allowLegacy: boolean;
  readonly crlValidityHours: number;
}

const legacyNames = (p: Profile, allowLegacy: boolean): ReadonlySet<string> => new Set(allowLegacy ? LEGACY : p.legacy);

export function registryFor(p: Profile, allowLegacy: boolean): Registry {
  return createRegistry(ALGORITHMS, { allowLegacy: legacyNames(p, allowLegacy).size > 0 });
}

/**
 * The allow-lists. Naming SHA-1 as legacy also allows the SHA-1 signature algorithms that go
 * with it (micromdm's scepclient signs sha1WithRSAEncryption).
 */
export function policyOf(p: Profile, registry: Registry, allowLegacy: boolean): AlgorithmPolicy {
  const legacy = legacyNames(p, allowLegacy);
  const digests = new Set([...p.digests, ...[...legacy].filter((n) => n === 'SHA-1')]);
  const ciphers = new Set([...p.ciphers.allowed, ...[...legacy].filter((n) => n !== 'SHA-1')]);
  const signatures = new Set([...p.signatures, ...registry.list('signature').filter((s) => s.legacy && s.digest && digests.has(s.digest)).map((s) => s.name)]);
  return Object.freeze({
    signatures, digests, ciphers, clientKeys: new Set(p.clientKeys), preferredCipher: p.ciphers.preferred,
    preferredDigest: p.preferredDigest, sanTypes: new Set(p.certificate.sanTypes),
  });
}

/** The profile a server runs without `--profile`: every registered algorithm, CA/RA from the flags. */
export function flagsProfile(config: ServerConfig): Profile {
  const registry = createRegistry(ALGORITHMS, { allowLegacy: true });
  const names = (kind: 'signature' | 'digest' | 'cipher') => registry.list(kind).filter((a) => !a.legacy).map((a) => a.name);
  const profile: Profile = {
    name: 'flags',
    source: 'command-line flags',
    description: 'every registered algorithm; CA and RA from --ca-alg / --ra-alg',
    ca: { algorithm: config.caKeyType ?? 'rsa-2048', validityYears: 10 },
    ra: config.raKeyTypes ?? ['rsa-2048'],
    clientKeys: registry.list('key').filter((k) => k.usages.includes('sign')).map((k) => k.name),
    signatures: names('signature'),
    ciphers: { allowed: names('cipher') },
    digests: names('digest'),
    replyEnvelope: config.pqReplyEnvelope,
    certificate: { validityDays: config.validityDays, extendedKeyUsage: config.extendedKeyUsage, sanTypes: ['DNS', 'IP', 'email', 'URI'] },
    challenge: { validators: ['static', 'one-time'], combine: 'any' },
    renewal: { rekey: 'allowed', revokeOnReplace: false },
    approval: config.approval,
    legacy: [],
  };
  return Object.freeze(profile);
}

/** Loads (or creates) CAs, one folder per CA key type, each load done once per process. */
export class CaCache {
  private readonly loaded = new Map<string, Promise<CaFiles>>();
  constructor(private readonly dataDir: string) {}

  get(p: Profile, registry: Registry): Promise<CaFiles> {
    const key = `${p.ca.algorithm}|${[...p.ra].sort().join(',')}`;
    let files = this.loaded.get(key);
    if (!files) {
      files = loadOrCreateCa(join(this.dataDir, 'ca', p.ca.algorithm), registry, {
        caKeyType: p.ca.algorithm, raKeyTypes: p.ra, caSubject: p.ca.subject ?? `CN=pqscep ${p.ca.algorithm} CA,O=pqscep`, validityYears: p.ca.validityYears,
      });
      files.catch(() => this.loaded.delete(key)); // a failed load may be retried
      this.loaded.set(key, files);
    }
    return files;
  }
}

export interface Schedule {
  /** A profile whose CA is being announced through GetNextCACert. */
  readonly next?: Profile;
  /** Earlier profiles whose CAs' certificates still authenticate renewals. */
  readonly previous: readonly Profile[];
}

/** The frozen environment of `fleet` running `profile`. */
export async function fleetEnv(fleet: string, profile: Profile, services: FleetServices, cas: CaCache, schedule: Schedule): Promise<ScepEnv> {
  const registry = registryFor(profile, services.allowLegacy);
  const { ca, ras } = await cas.get(profile, registry);
  const next = schedule.next && schedule.next.ca.algorithm !== profile.ca.algorithm ? await cas.get(schedule.next, registryFor(schedule.next, services.allowLegacy)) : undefined;
  const previousCas = [];
  const previousRas = [];
  const current = new Set([ca, ...ras].map((id) => id.fingerprint));
  for (const p of schedule.previous) {
    const old = await cas.get(p, registryFor(p, services.allowLegacy));
    if (!current.has(old.ca.fingerprint)) previousCas.push(old.ca);
    previousRas.push(...old.ras.filter((ra) => !current.has(ra.fingerprint)));
  }
  return Object.freeze({
    registry,
    ca,
    ras,
    nextCa: next ? { ca: next.ca, ras: next.ras } : undefined,
    previousCas,
    previousRas,
    store: services.store,
    challenge: challengeValidatorFor(profile, fleet, { store: services.store, staticSecret: services.staticSecret, log: services.log }),
    renewal: profile.renewal,
    issuance: { validityDays: profile.certificate.validityDays, extendedKeyUsage: extendedKeyUsageOids(profile), crlDistributionPoint: profile.certificate.crlDistributionPoint },
    approval: profile.approval,
    pqReplyEnvelope: profile.replyEnvelope,
    policy: policyOf(profile, registry, services.allowLegacy),
    profile: profile.name,
    fleet,
    crlValidityHours: services.crlValidityHours,
    log: withFields(services.log, { fleet }), // every PKIOperation line names its fleet
  });
}
