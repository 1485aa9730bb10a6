/**
 * Lookup of algorithms by OID and by name, built once at start-up from the explicit list in
 * `algorithms/index.ts`. The registry answers "can this server do X?"; configuration and policy
 * answer "may it?" (`legacy` algorithms are filtered out unless allowed).
 * Duplicate OIDs or names are a programming error and fail at start-up.
 * @module
 */
import { perSpki, spkiOid } from './spki-oid.ts';
import type { Algorithm, AlgorithmKind, KeyType, Oid } from './types.ts';
import { UnsupportedAlgorithmError } from './types.ts';

type OfKind<K extends AlgorithmKind> = Extract<Algorithm, { kind: K }>;

export interface Registry {
  /** The algorithm of role `kind` selected by `oid`; throws UnsupportedAlgorithmError. */
  byOid<K extends AlgorithmKind>(kind: K, oid: Oid): OfKind<K>;
  /** The algorithm of role `kind` called `name`; throws UnsupportedAlgorithmError. */
  byName<K extends AlgorithmKind>(kind: K, name: string): OfKind<K>;
  /** All algorithms of role `kind`, in list order. */
  list<K extends AlgorithmKind>(kind: K): readonly OfKind<K>[];
  /**
   * The enabled key type of `spki`, if any: the first of list('key') whose `matches` accepts
   * it, trying only those of the SPKI's algorithm OID. Remembers the last few hundred answers:
   * one request asks about the same keys several times.
   */
  keyTypeOf(spki: Uint8Array): KeyType | undefined;
  /** True when legacy algorithms (DES, 3DES, SHA-1) are allowed. */
  readonly allowLegacy: boolean;
}

export function createRegistry(algorithms: readonly Algorithm[], options: { allowLegacy?: boolean } = {}): Registry {
  const allowLegacy = options.allowLegacy ?? false;
  const byOid = new Map<string, Algorithm>();
  const byName = new Map<string, Algorithm>();
  for (const alg of algorithms) {
    for (const oid of alg.oids) {
      const key = `${alg.kind}:${oid}`;
      const prev = byOid.get(key);
      if (prev) throw new Error(`registry: OID ${oid} claimed by both ${prev.name} and ${alg.name}`);
      byOid.set(key, alg);
    }
    const nameKey = `${alg.kind}:${alg.name.toLowerCase()}`;
    if (byName.has(nameKey)) throw new Error(`registry: name ${alg.name} registered twice`);
    byName.set(nameKey, alg);
  }
  const usable = (alg: Algorithm | undefined) => alg !== undefined && (allowLegacy || !alg.legacy);
  const lists = new Map<AlgorithmKind, readonly Algorithm[]>();
  const list = <K extends AlgorithmKind>(kind: K): readonly OfKind<K>[] => {
    let l = lists.get(kind);
    if (!l) {
      l = Object.freeze(algorithms.filter((a) => a.kind === kind && usable(a)));
      lists.set(kind, l);
    }
    return l as readonly OfKind<K>[];
  };
  return Object.freeze({
    allowLegacy,
    byOid<K extends AlgorithmKind>(kind: K, oid: Oid): OfKind<K> {
      const alg = byOid.get(`${kind}:${oid}`);
      if (!usable(alg)) throw new UnsupportedAlgorithmError(`no ${kind} algorithm enabled for OID ${oid}`);
      return alg as OfKind<K>;
    },
    byName<K extends AlgorithmKind>(kind: K, name: string): OfKind<K> {
      const alg = byName.get(`${kind}:${name.toLowerCase()}`);
      if (!usable(alg)) throw new UnsupportedAlgorithmError(`no ${kind} algorithm enabled named ${name}`);
      return alg as OfKind<K>;
    },
    list,
    keyTypeOf: perSpki((spki): KeyType | undefined => {
      const oid = spkiOid(spki);
      return list('key').find((k) => (k.spkiOid === oid || k.oids.includes(oid ?? '')) && k.matches(spki));
    }),
  });
}
