/**
 * Which implementation runs the post-quantum families: node:crypto's native ML-DSA, ML-KEM and
 * SLH-DSA (Node 24+ with OpenSSL 3.5, about 10x faster) or @noble/post-quantum (always there).
 * 'auto' picks native per family when the running Node has it. Chosen once at start-up
 * (configuration or PQSCEP_PQ_BACKEND), reported in the start-up lines; keys remember the
 * backend that made them, so a change never strands a loaded key.
 * @module
 */
import { generateKeyPairSync } from 'node:crypto';

export type PqFamily = 'ml-dsa' | 'ml-kem' | 'slh-dsa';
export type PqBackendChoice = 'auto' | 'native' | 'noble';
export type PqBackend = 'native' | 'noble';

const PROBE: Readonly<Record<PqFamily, string>> = Object.freeze({ 'ml-dsa': 'ml-dsa-44', 'ml-kem': 'ml-kem-512', 'slh-dsa': 'slh-dsa-sha2-128f' });
const detected = new Map<PqFamily, boolean>();

/** True when node:crypto in this process implements `family` (probed once by generating a key). */
export function nativeAvailable(family: PqFamily): boolean {
  let ok = detected.get(family);
  if (ok === undefined) {
    try {
      generateKeyPairSync(PROBE[family] as Parameters<typeof generateKeyPairSync>[0] as 'ed25519');
      ok = true;
    } catch {
      ok = false;
    }
    detected.set(family, ok);
  }
  return ok;
}

let choice: PqBackendChoice = parseChoice(process.env.PQSCEP_PQ_BACKEND) ?? 'auto';

function parseChoice(value: string | undefined): PqBackendChoice | undefined {
  return value === 'auto' || value === 'native' || value === 'noble' ? value : undefined;
}

/** Sets the backend choice; 'native' on a runtime without it is a configuration error. */
export function setPqBackend(next: PqBackendChoice): void {
  if (next === 'native') {
    const missing = (Object.keys(PROBE) as PqFamily[]).filter((f) => f !== 'slh-dsa' && !nativeAvailable(f));
    if (missing.length) throw new RangeError(`pq backend 'native' needs Node 24+ with OpenSSL 3.5; this Node (${process.version}, OpenSSL ${process.versions.openssl}) lacks ${missing.join(', ')}`);
  }
  choice = next;
}

/** The backend new keys and public-key operations of `family` use now. */
export function pqBackend(family: PqFamily): PqBackend {
  if (choice === 'noble') return 'noble';
  return nativeAvailable(family) ? 'native' : 'noble';
}

export const pqBackendChoice = (): PqBackendChoice => choice;

/** How the post-quantum families are implemented, for documentation. */
export const PQ_IMPLEMENTATION = 'node:crypto on Node 24+ (OpenSSL 3.5), else @noble/post-quantum';
