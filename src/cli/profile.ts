/**
 * `pqscep profile list | show NAME | validate FILE`: the policy profiles (profiles/*.json) as
 * the server would load them, with the same validation (file, field and allowed values).
 * @module
 */
import { ALGORITHMS } from '../../algorithms/index.ts';
import { createRegistry } from '../crypto/registry.ts';
import { loadProfiles, parseProfile, ProfileError, type Profile } from '../policy/profile.ts';
import { checkProfilesDir, DEFAULT_PROFILES_DIR } from '../server-profiles.ts';
import { readCliFile } from './inputs.ts';

const registry = () => createRegistry(ALGORITHMS, { allowLegacy: true });
const out = (text: string) => process.stdout.write(`${text}\n`);

export function profilesFrom(dir: string | undefined): Map<string, Profile> {
  if (dir !== undefined) checkProfilesDir(dir);
  return loadProfiles(dir ?? DEFAULT_PROFILES_DIR, registry());
}

export async function profileList(flags: { profiles?: string }): Promise<void> {
  for (const p of profilesFrom(flags.profiles).values()) out(`${p.name.padEnd(20)} CA ${p.ca.algorithm.padEnd(18)} RA ${p.ra.join(' + ').padEnd(24)} ${p.description}`);
}

export async function profileShow(name: string, flags: { profiles?: string }): Promise<void> {
  const profiles = profilesFrom(flags.profiles);
  const p = profiles.get(name);
  if (!p) throw new Error(`no profile named ${JSON.stringify(name)}; profiles: ${[...profiles.keys()].join(', ')}`);
  const { source, ...settings } = p;
  out(`# ${source}`);
  out(JSON.stringify(settings, null, 2));
}

/** Exit 0 for a good file; exit 1 with one line per problem. */
export async function profileValidate(file: string): Promise<void> {
  let p: Profile;
  try {
    p = parseProfile(readCliFile(file, 'profile'), file, registry());
  } catch (err) {
    if (!(err instanceof ProfileError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  out(`${file}: valid profile ${p.name} (CA ${p.ca.algorithm}, RA ${p.ra.join(' + ')})`);
}
