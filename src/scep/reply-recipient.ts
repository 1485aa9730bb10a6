/**
 * Whom a CertRep is enveloped to (RFC 8894 §3.3.2: to the requester). Classical clients
 * receive at the key that signed the request. A key that can only sign (ML-DSA, SLH-DSA)
 * cannot receive, so the client adds a certificate for a key that can (an ML-KEM key) to the
 * request's SignedData `certificates`, signed by its signing key (docs/pqc-scep.md §5). The
 * `certificates` field is not covered by the request signature; the binding signature is what
 * stops a man in the middle from substituting his own key.
 * @module
 */
import type { Certificate } from '@peculiar/asn1-x509';
import { verifyCertificateSignature } from '../ca/certificate.ts';
import { recipientKindFor } from '../cms/enveloped-data.ts';
import { spkiOf } from '../cms/signed-data.ts';
import type { Registry } from '../crypto/registry.ts';
import type { PqReplyEnvelope } from './env.ts';
import { ScepError } from './errors.ts';

const signedBy = (cert: Certificate, signer: Certificate, registry: Registry) => verifyCertificateSignature(cert, spkiOf(signer), registry);

/**
 * The certificate to envelope the reply to. `quantumSafe` says the request was signed with a
 * post-quantum key: then a KEM certificate bound to the signer is preferred, and under
 * 'require-kem' demanded (else FAILURE badRequest).
 */
export function replyRecipient(signer: Certificate, certificates: readonly Certificate[], quantumSafe: boolean, policy: PqReplyEnvelope, registry: Registry): Certificate {
  // Bound, and a KEM key only when its key type accepts it (an ML-KEM key of the wrong length
  // cannot be encapsulated to: FIPS 203 §7.2). Other keys are taken as before (an RSA size the
  // registry has no key type for still receives).
  const usable = (c: Certificate) => recipientKindFor(spkiOf(c), registry) !== 'kemri' || registry.keyTypeOf(spkiOf(c)) !== undefined;
  const bound = certificates.filter((c) => c !== signer && signedBy(c, signer, registry) && usable(c));
  const kem = bound.find((c) => recipientKindFor(spkiOf(c), registry) === 'kemri');
  if (kem) return kem;
  if (quantumSafe && policy === 'require-kem') throw new ScepError('badRequest', 'a post-quantum request must carry an ML-KEM certificate for the reply (docs/pqc-scep.md §5)');
  const classical = [signer, ...bound].find((c) => recipientKindFor(spkiOf(c), registry) !== undefined);
  // A post-quantum client that brought nothing to receive at made a bad request; a classical key we cannot encrypt to is an algorithm problem.
  if (!classical) throw new ScepError(quantumSafe ? 'badRequest' : 'badAlg', 'no certificate in the request can receive the reply envelope');
  return classical;
}
