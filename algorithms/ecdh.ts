/**
 * Ephemeral-static ECDH for CMS KeyAgreeRecipientInfo (RFC 5753 §3.1, SP 800-56A C(1e, 1s)
 * ECC CDH with cofactor 1 on P-256/P-384), through node:crypto. Each scheme OID (RFC 5753
 * §7.1.4) fixes the X9.63 KDF (algorithms/x963-kdf.ts); its AlgorithmIdentifier parameters name
 * the key wrap, which src/cms/key-agree-recipient-info.ts reads.
 * The shared secret Z is the x-coordinate of the product point (SEC 1 §3.3.1), what
 * crypto.diffieHellman returns. Public keys whose point is not on the curve, or on another
 * curve than ours, are rejected with CipherError.
 * dhSinglePass-stdDH-sha1kdf-scheme is here only because it is the OpenSSL CLI default; legacy.
 * Leaves out: cofactor ECDH (RFC 5753 §7.1.4 cofactorDH schemes, identical on these curves
 * but other OIDs), 1-pass ECMQV (§3.2), static-static originators.
 * @module
 */
import { id_ecPublicKey } from '@peculiar/asn1-ecc';
import { diffieHellman, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import type { KeyAgreement, PrivateKeyHandle } from '../src/crypto/types.ts';
import { CipherError } from '../src/crypto/types.ts';
import { ecCurveOfKey, ecPublicKey } from './ecdsa.ts';

const generateAsync = promisify(generateKeyPair);

/** secg-scheme { iso(1) identified-organization(3) certicom(132) schemes(1) } */
const secgScheme = '1.3.132.1';
/** x9-63-scheme { iso(1) identified-organization(3) tc68(133) country(16) x9(840) x9-63(63) schemes(0) } */
const x963Scheme = '1.3.133.16.840.63.0';

const stdDh = (name: string, oid: string, kdf: string, legacy = false): KeyAgreement =>
  Object.freeze({
    kind: 'key-agreement',
    name,
    oids: [oid],
    legacy,
    implementation: 'node:crypto',
    keyOid: id_ecPublicKey,
    kdf,
    async ephemeral(recipientSpki: Uint8Array) {
      const recipient = ecPublicKey(recipientSpki);
      if (!recipient) throw new CipherError('recipient key is not on a supported curve');
      const { privateKey, publicKey } = await generateAsync('ec', { namedCurve: recipient.curve.node });
      const sharedSecret = new Uint8Array(diffieHellman({ privateKey, publicKey: recipient.key }));
      return { originatorSpki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })), sharedSecret };
    },
    async agree(originatorSpki: Uint8Array, key: PrivateKeyHandle) {
      const curve = ecCurveOfKey(key.native);
      if (!curve) throw new CipherError('not an EC private key on a supported curve');
      const originator = ecPublicKey(originatorSpki, false); // checks the point encoding first (see ecdsa.ts)
      if (originator?.curve !== curve) throw new CipherError('originator key malformed, off the curve or on another curve');
      try {
        return new Uint8Array(diffieHellman({ privateKey: key.native!, publicKey: originator.key }));
      } catch (err) {
        throw new CipherError('key agreement failed', { cause: err });
      }
    },
  });

/** dhSinglePass-stdDH-sha256kdf-scheme { secg-scheme 11 1 } */
export const STD_DH_SHA256KDF = stdDh('dhSinglePass-stdDH-sha256kdf-scheme', `${secgScheme}.11.1`, 'X9.63-SHA256');
/** dhSinglePass-stdDH-sha384kdf-scheme { secg-scheme 11 2 } */
export const STD_DH_SHA384KDF = stdDh('dhSinglePass-stdDH-sha384kdf-scheme', `${secgScheme}.11.2`, 'X9.63-SHA384');
/** dhSinglePass-stdDH-sha512kdf-scheme { secg-scheme 11 3 } */
export const STD_DH_SHA512KDF = stdDh('dhSinglePass-stdDH-sha512kdf-scheme', `${secgScheme}.11.3`, 'X9.63-SHA512');
/** dhSinglePass-stdDH-sha1kdf-scheme { x9-63-scheme 2 } (RFC 5753 §7.1.4); OpenSSL's default, legacy. */
export const STD_DH_SHA1KDF = stdDh('dhSinglePass-stdDH-sha1kdf-scheme', `${x963Scheme}.2`, 'X9.63-SHA1', true);
