/**
 * AES content encryption through node:crypto: AES-CBC (RFC 3565 §2.3: parameters = the 16-byte
 * IV as OCTET STRING) for EnvelopedData, and AES-GCM (RFC 5084 §3.2: GCMParameters) for
 * AuthEnvelopedData (RFC 5083). We emit 12-byte nonces and 16-byte tags; we accept tags of
 * 12..16 bytes. Leaves out: AES-CCM, AES key wrap (comes with KEMRecipientInfo).
 * @module
 */
import { AsnConvert, AsnProp, AsnPropTypes, OctetString } from '@peculiar/asn1-schema';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { ContentCipher } from '../src/crypto/types.ts';
import { CipherError } from '../src/crypto/types.ts';

const aes = '2.16.840.1.101.3.4.1'; // { ... nistAlgorithm(4) aes(1) }

/** Parses an IV carried as OCTET STRING parameters (RFC 3565 §2.3, RFC 3370 §5.1). */
export function ivParameter(parameters: Uint8Array | null, size: number): Uint8Array {
  if (!parameters) throw new CipherError('missing IV');
  let iv: Uint8Array;
  try {
    iv = new Uint8Array(AsnConvert.parse(parameters, OctetString).buffer);
  } catch {
    throw new CipherError('malformed IV');
  }
  if (iv.length !== size) throw new CipherError('wrong IV length');
  return iv;
}

export const ivToParameter = (iv: Uint8Array) => new Uint8Array(AsnConvert.serialize(new OctetString(iv)));

/** Shared CBC codec (also used by the DES family): PKCS#7 padding, RFC 5652 §6.3. */
export function cbcCipher(spec: {
  name: string; oid: string; node: string; keySize: number; ivSize: number; strength: number; legacy: boolean; capability: string; implementation?: string;
}): ContentCipher {
  return Object.freeze({
    kind: 'cipher',
    name: spec.name,
    capability: spec.capability,
    oids: [spec.oid],
    legacy: spec.legacy,
    implementation: spec.implementation ?? 'node:crypto',
    keySize: spec.keySize,
    aead: false,
    strength: spec.strength,
    encrypt(key: Uint8Array, plaintext: Uint8Array) {
      const iv = randomBytes(spec.ivSize);
      const c = createCipheriv(spec.node, key, iv);
      return { parameters: ivToParameter(iv), ciphertext: new Uint8Array(Buffer.concat([c.update(plaintext), c.final()])) };
    },
    decrypt(key: Uint8Array, parameters: Uint8Array | null, ciphertext: Uint8Array) {
      if (key.length !== spec.keySize) throw new CipherError('wrong content-encryption key length');
      const iv = ivParameter(parameters, spec.ivSize);
      try {
        const d = createDecipheriv(spec.node, key, iv);
        return new Uint8Array(Buffer.concat([d.update(ciphertext), d.final()]));
      } catch {
        throw new CipherError('content decryption failed');
      }
    },
  });
}

export const AES_128_CBC = cbcCipher({ name: 'AES-128-CBC', oid: `${aes}.2`, node: 'aes-128-cbc', keySize: 16, ivSize: 16, strength: 128, legacy: false, capability: 'AES' });
export const AES_192_CBC = cbcCipher({ name: 'AES-192-CBC', oid: `${aes}.22`, node: 'aes-192-cbc', keySize: 24, ivSize: 16, strength: 192, legacy: false, capability: 'AES' });
export const AES_256_CBC = cbcCipher({ name: 'AES-256-CBC', oid: `${aes}.42`, node: 'aes-256-cbc', keySize: 32, ivSize: 16, strength: 256, legacy: false, capability: 'AES' });

/**
 * ```asn
 * GCMParameters ::= SEQUENCE {
 *   aes-nonce        OCTET STRING, -- recommended size is 12 octets
 *   aes-ICVlen       AES-GCM-ICVlen DEFAULT 12 }
 * AES-GCM-ICVlen ::= INTEGER (12 | 13 | 14 | 15 | 16)
 * ```
 * RFC 5084 §3.2.
 */
export class GCMParameters {
  @AsnProp({ type: AsnPropTypes.OctetString }) public nonce = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Integer, defaultValue: 12 }) public icvLen = 12;
  constructor(params: Partial<GCMParameters> = {}) {
    Object.assign(this, params);
  }
}

const TAG = 16;

const gcm = (bits: 128 | 192 | 256, oidArc: number): ContentCipher =>
  Object.freeze({
    kind: 'cipher',
    name: `AES-${bits}-GCM`,
    oids: [`${aes}.${oidArc}`],
    legacy: false,
    implementation: 'node:crypto',
    keySize: bits / 8,
    aead: true,
    strength: bits + 1, // same key strength as CBC, preferred for its integrity
    encrypt(key: Uint8Array, plaintext: Uint8Array) {
      const nonce = randomBytes(12);
      const c = createCipheriv(`aes-${bits}-gcm`, key, nonce, { authTagLength: TAG });
      const ciphertext = new Uint8Array(Buffer.concat([c.update(plaintext), c.final()]));
      const parameters = new Uint8Array(AsnConvert.serialize(new GCMParameters({ nonce: new Uint8Array(nonce).buffer, icvLen: TAG })));
      return { parameters, ciphertext, tag: new Uint8Array(c.getAuthTag()) };
    },
    decrypt(key: Uint8Array, parameters: Uint8Array | null, ciphertext: Uint8Array, tag?: Uint8Array, aad?: Uint8Array) {
      if (key.length !== bits / 8 || !parameters || !tag) throw new CipherError('bad AES-GCM input');
      let p: GCMParameters;
      try {
        p = AsnConvert.parse(parameters, GCMParameters);
      } catch {
        throw new CipherError('malformed GCMParameters');
      }
      if (p.icvLen < 12 || p.icvLen > 16 || tag.length !== p.icvLen || p.nonce.byteLength === 0) throw new CipherError('bad AES-GCM parameters');
      try {
        const d = createDecipheriv(`aes-${bits}-gcm`, key, new Uint8Array(p.nonce), { authTagLength: p.icvLen });
        if (aad) d.setAAD(aad);
        d.setAuthTag(tag);
        return new Uint8Array(Buffer.concat([d.update(ciphertext), d.final()]));
      } catch {
        throw new CipherError('content decryption failed');
      }
    },
  });

export const AES_128_GCM = gcm(128, 6);
export const AES_192_GCM = gcm(192, 26);
export const AES_256_GCM = gcm(256, 46);
