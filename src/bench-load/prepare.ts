/**
 * `pqscep bench load`, step 1: discover the server as any RFC 8894 client would (GetCACaps,
 * GetCACert, §3.5 and §4.2-4.3: POST when it advertises POSTPKIOperation, else GET; AES when
 * offered) and pre-build N distinct PKCSReqs with pqscep's client library, so the timed phase
 * sends bytes only. Works against pqscep and any other SCEP server (micromdm's scepserver).
 * Device keys come from a small pool (key generation would dominate otherwise); every request
 * still has its own subject, CSR, self-signed signer, nonce, transactionID and envelope.
 * Leaves out: RenewalReq, CertPoll (a PENDING answer counts as not enrolled), sending anything.
 * @module
 */
import type { Certificate } from '@peculiar/asn1-x509';
import { randomBytes } from 'node:crypto';
import { ALGORITHMS } from '../../algorithms/index.ts';
import { certificateSignatureAlgorithm } from '../ca/certificate.ts';
import { buildCsr, selfSignedSigner } from '../client/csr.ts';
import { pickRecipient, replyKey } from '../client/enroll.ts';
import { getCaCerts, getCaps } from '../client/http.ts';
import { buildPkiRequest, transactionIdFor, type BuiltRequest } from '../client/pki-request.ts';
import { recipientKindFor, type Recipient } from '../cms/enveloped-data.ts';
import { createRegistry, type Registry } from '../crypto/registry.ts';
import type { PrivateKeyHandle } from '../crypto/types.ts';
import { PQC_CA_IDENT } from '../scep/env.ts';

/** The client accepts every registered algorithm, legacy ones included (scepserver replies with DES). */
export const loadRegistry: Registry = createRegistry(ALGORITHMS, { allowLegacy: true });

export interface Target {
  readonly url: string;
  readonly caps: readonly string[];
  readonly method: 'POST' | 'GET';
  readonly caCerts: readonly Certificate[];
  readonly cipher: string;
}

export interface PreparedRequest {
  readonly request: BuiltRequest;
  /** Our keys that can open the CertRep (the signer's, and a KEM reply key for signing-only keys). */
  readonly me: readonly Recipient[];
  readonly key: PrivateKeyHandle;
}

export interface PrepareOptions {
  readonly url: string;
  /** Client key type, e.g. rsa-2048 or ml-dsa-65. */
  readonly keyType: string;
  readonly challenge?: string;
  readonly count: number;
  /** Distinct device keys to rotate through (default 16). */
  readonly keyPool?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export async function discover(url: string, quantumSafe: boolean): Promise<Target> {
  const caps = (await getCaps(url)).map((c) => c.toUpperCase());
  const has = (k: string) => caps.includes(k) || (caps.includes('SCEPSTANDARD') && ['AES', 'SHA-256', 'POSTPKIOPERATION'].includes(k));
  const { certificates } = await getCaCerts(url, quantumSafe ? PQC_CA_IDENT : undefined);
  return { url, caps, method: has('POSTPKIOPERATION') ? 'POST' : 'GET', caCerts: certificates, cipher: has('AES') ? 'AES-256-CBC' : 'DES-EDE3-CBC' };
}

/** Builds `o.count` PKCSReqs for `target`; subjects carry a run id so repeated runs never collide. */
export async function prepareRequests(target: Target, o: PrepareOptions): Promise<PreparedRequest[]> {
  const registry = loadRegistry;
  const keyType = registry.byName('key', o.keyType);
  const caps = target.caps;
  const has = (k: string) => caps.includes(k) || (caps.includes('SCEPSTANDARD') && k === 'SHA-256');
  const recipient = pickRecipient(target.caCerts, registry, keyType.quantumSafe);
  const cipher = registry.byName('cipher', target.cipher);
  const run = randomBytes(4).toString('hex');
  const pool: PrivateKeyHandle[] = [];
  const poolSize = Math.max(1, o.keyPool ?? 16);
  const out: PreparedRequest[] = [];
  for (let i = 0; i < o.count; i++) {
    const key = pool[i % poolSize] ?? (pool[i % poolSize] = await keyType.generate());
    const subject = `CN=load-${run}-${i},O=pqscep bench`;
    const signatureAlg = certificateSignatureAlgorithm(key, registry).algorithm;
    const digest = registry.byName('digest', signatureAlg.cmsDigest ?? (has('SHA-512') ? 'SHA-512' : 'SHA-256'));
    const csr = await buildCsr({ subject, key, challenge: o.challenge }, registry);
    const me = { certificate: await selfSignedSigner(subject, key, registry), key };
    const receiver = recipientKindFor(key.spki, registry) === undefined ? await replyKey(subject, key, recipient, registry) : undefined;
    const request = await buildPkiRequest({
      messageType: 'PKCSReq', transactionId: `${transactionIdFor(key.spki)}-${run}-${i}`, payload: csr, recipient, signerCert: me.certificate, key, cipher, digest,
      extraCertificates: receiver ? [receiver.certificate] : [],
    }, registry);
    out.push({ request, me: receiver ? [receiver, me] : [me], key });
    if (i % 25 === 24 || i === o.count - 1) o.onProgress?.(i + 1, o.count);
  }
  return out;
}
