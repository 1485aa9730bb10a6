/**
 * Everything a SCEP request needs, gathered in one immutable value built at start-up (and, with
 * profiles, swapped whole so no request sees half a configuration), plus the choices that
 * follow from it: which of our identities receive envelopes, which signs a given reply, and
 * which certificates GetCACert shows to whom.
 * @module
 */
import type { Certificate } from '@peculiar/asn1-x509';
import type { CaIdentity, IssuancePolicy } from '../ca/issuer.ts';
import type { Registry } from '../crypto/registry.ts';
import type { ChallengeValidator } from '../policy/challenge.ts';
import type { RenewalPolicy } from '../policy/authorize.ts';
import type { Store } from '../store/store.ts';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * How a CertRep reaches a client whose request was signed with a post-quantum key, which
 * cannot receive (docs/pqc-scep.md §5): 'require-kem' only to an ML-KEM certificate the client
 * put in its request; 'allow-classical' also to an RSA/EC certificate of the client.
 */
export type PqReplyEnvelope = 'require-kem' | 'allow-classical';

/**
 * What the fleet's profile allows from clients, by registry name. The registry says what the
 * server can do; this says what it may (docs/style.md B4.3). GetCACaps advertises only these.
 */
export interface AlgorithmPolicy {
  /** Signature algorithms of request SignerInfos and CSRs. */
  readonly signatures: ReadonlySet<string>;
  readonly digests: ReadonlySet<string>;
  readonly ciphers: ReadonlySet<string>;
  /** The reply cipher when the client showed it supports it. */
  readonly preferredCipher?: string;
  /** Key types a CSR may carry. */
  readonly clientKeys: ReadonlySet<string>;
  /** The CertRep digest when no signature algorithm prescribes one (else the request's). */
  readonly preferredDigest?: string;
  /** SAN kinds a CSR may request ('DNS', 'IP', 'email', 'URI'); all when absent. */
  readonly sanTypes?: ReadonlySet<string>;
}

/** Everything the registry enables (the policy of a server run without a profile). */
export function permissivePolicy(registry: Registry): AlgorithmPolicy {
  const names = (kind: 'signature' | 'digest' | 'cipher' | 'key') => new Set(registry.list(kind).map((a) => a.name));
  const clientKeys = new Set(registry.list('key').filter((k) => k.usages.includes('sign')).map((k) => k.name));
  return Object.freeze({ signatures: names('signature'), digests: names('digest'), ciphers: names('cipher'), clientKeys });
}

export interface ScepEnv {
  readonly registry: Registry;
  /** The current CA (issues certificates and CRLs; signs CertReps when no RA can). */
  readonly ca: CaIdentity;
  /** RA certificates, in configured order: they receive request envelopes; those that can sign, sign CertReps. */
  readonly ras: readonly CaIdentity[];
  /** A staged successor CA announced by GetNextCACert (RFC 8894 §3.5.3), if any. */
  readonly nextCa?: { readonly ca: CaIdentity; readonly ras: readonly CaIdentity[] };
  /** Earlier CAs whose certificates still authenticate renewals (rollover). */
  readonly previousCas: readonly CaIdentity[];
  /**
   * RAs of the profile before the last switch: a client that fetched GetCACert just before a
   * switch still reaches us with its request (they receive; they never sign replies).
   */
  readonly previousRas?: readonly CaIdentity[];
  readonly store: Store;
  readonly challenge: ChallengeValidator;
  /** Renewal rules (the profile's `renewal`); absent: renewals any time, either key, no limits. */
  readonly renewal?: RenewalPolicy;
  readonly issuance: IssuancePolicy;
  /** 'manual': enrollment requests wait as PENDING until approved (RFC 8894 §3.3.3). */
  readonly approval: 'auto' | 'manual';
  readonly pqReplyEnvelope: PqReplyEnvelope;
  readonly policy: AlgorithmPolicy;
  /** Name of the profile this environment was built from ('flags' without one). */
  readonly profile: string;
  /** The fleet this environment serves ('default' for /scep). */
  readonly fleet: string;
  readonly crlValidityHours: number;
  readonly log: Logger;
}

/** The key type an identity was generated as (an 'ecdh-p256' RA key must not sign, though 'ecdsa-p256' matches its SPKI). */
const keyTypeOf = (id: CaIdentity, registry: Registry) =>
  registry.list('key').find((k) => k.name === id.key.keyType) ?? registry.keyTypeOf(id.key.spki);
const canSign = (id: CaIdentity, registry: Registry) => keyTypeOf(id, registry)?.usages.includes('sign') ?? false;
export const isQuantumSafe = (id: CaIdentity, registry: Registry) => keyTypeOf(id, registry)?.quantumSafe ?? false;

/** Every identity whose key may open a request envelope. */
export function envelopeRecipients(env: ScepEnv): CaIdentity[] {
  return [...env.ras, env.ca, ...(env.nextCa ? [...env.nextCa.ras, env.nextCa.ca] : []), ...(env.previousRas ?? [])];
}

/**
 * Who signs a CertRep: an RA that can sign, else the CA; for a request signed with a
 * quantum-safe key, a quantum-safe signer (the reply must not be the weakest link), for a
 * classical one a classical signer when there is one (classical clients cannot verify ML-DSA).
 */
export function replySigner(env: ScepEnv, quantumSafe: boolean): CaIdentity {
  const signers = [...env.ras.filter((ra) => canSign(ra, env.registry)), env.ca];
  return signers.find((s) => isQuantumSafe(s, env.registry) === quantumSafe) ?? signers[0];
}

/** Certificates that accompany a reply signed by `signer`: the signer, then the CA. */
export function signerChain(env: ScepEnv, signer: CaIdentity): Certificate[] {
  return signer.fingerprint === env.ca.fingerprint ? [env.ca.certificate] : [signer.certificate, env.ca.certificate];
}

/** RFC 8894 §4.2.1 CA-IDENT naming the post-quantum view of GetCACert (docs/pqc-scep.md §3). */
export const PQC_CA_IDENT = 'pqc';

/**
 * GetCACert's certificates, RAs first then the CA. Classical clients encrypt to every
 * certificate they get (micromdm scepclient) and cannot use post-quantum keys, so by default
 * they see only the classical RAs; CA-IDENT "pqc" shows every RA. Without any classical RA,
 * every view shows all.
 */
export function caCertificates(ca: CaIdentity, ras: readonly CaIdentity[], caIdent: string | undefined, registry: Registry): Certificate[] {
  const classical = ras.filter((ra) => !isQuantumSafe(ra, registry));
  const shown = caIdent?.toLowerCase() === PQC_CA_IDENT || classical.length === 0 ? ras : classical;
  return [...shown.filter((ra) => ra.fingerprint !== ca.fingerprint).map((ra) => ra.certificate), ca.certificate];
}
