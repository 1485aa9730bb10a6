/**
 * The profiles a server knows (profiles/*.json plus the `flags` profile built from --ca-alg /
 * --ra-alg) and which one the default fleet runs. Shared by the server (src/server.ts) and its
 * PKIOperation worker threads (src/scep/pki-worker.ts), which must see the same profiles.
 * Leaves out: switching fleets (src/fleet/), reading profile files (src/policy/profile.ts).
 * @module
 */
import { existsSync, statSync } from 'node:fs';
import { ALGORITHMS } from '../algorithms/index.ts';
import { ConfigError, type ServerConfig } from './config.ts';
import { createRegistry } from './crypto/registry.ts';
import { flagsProfile } from './fleet/fleet-env.ts';
import { loadProfiles, ProfileError, type Profile } from './policy/profile.ts';
import { projectPath } from './project-root.ts';

export const DEFAULT_PROFILES_DIR = projectPath('profiles');

/**
 * An explicit `--profiles DIR` must be a folder: a typo would otherwise leave the server with no
 * profile files at all (and fleets on them without a profile). The default folder may be absent.
 */
export function checkProfilesDir(dir: string): void {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new ConfigError(`invalid setting profilesDir (--profiles): ${dir} does not exist`);
  if (!stat.isDirectory()) throw new ConfigError(`invalid setting profilesDir (--profiles): ${dir} is not a folder`);
}

/**
 * The profiles this server knows, and the default fleet's: `--profile NAME` (with `--ca-alg` /
 * `--ra-alg` overriding its CA and RA), else the `flags` profile.
 */
export function resolveProfiles(config: ServerConfig): { profiles: Map<string, Profile>; defaultProfile: Profile; explicit: boolean } {
  const registry = createRegistry(ALGORITHMS, { allowLegacy: true });
  const dir = config.profilesDir ?? DEFAULT_PROFILES_DIR;
  if (config.profilesDir !== undefined) checkProfilesDir(config.profilesDir);
  let profiles: Map<string, Profile>;
  try {
    profiles = existsSync(dir) ? loadProfiles(dir, registry) : new Map();
  } catch (err) {
    if (err instanceof ProfileError) throw new ConfigError(err.message);
    throw err;
  }
  const flags = flagsProfile(config);
  profiles.set(flags.name, flags);
  if (!config.profile) return { profiles, defaultProfile: flags, explicit: false };
  const base = profiles.get(config.profile);
  if (!base) throw new ConfigError(`invalid setting profile (--profile): no profile named ${config.profile} in ${dir}; profiles: ${[...profiles.keys()].join(', ')}`);
  if (!config.caKeyType && !config.raKeyTypes) return { profiles, defaultProfile: base, explicit: true };
  const overridden: Profile = Object.freeze({
    ...base, name: `${base.name}+flags`, source: `${base.source} with --ca-alg/--ra-alg`,
    ca: { ...base.ca, algorithm: config.caKeyType ?? base.ca.algorithm }, ra: config.raKeyTypes ?? base.ra,
  });
  profiles.set(overridden.name, overridden);
  return { profiles, defaultProfile: overridden, explicit: true };
}

