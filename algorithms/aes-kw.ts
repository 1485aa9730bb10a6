/**
 * AES key wrap (RFC 3394) through node:crypto, the KeyEncryptionAlgorithm of KEMRecipientInfo
 * (RFC 9629 §3, RFC 9936 §3: aes128-wrap for ML-KEM-512, aes256-wrap for 768/1024) and of
 * KeyAgreeRecipientInfo (RFC 5753 §7.2). Parameters are absent (RFC 3565 §2.3.2).
 * Leaves out: AES key wrap with padding (RFC 5649).
 * @module
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { KeyWrap } from '../src/crypto/types.ts';
import { CipherError } from '../src/crypto/types.ts';

/** RFC 3394 §2.2.3.1 default initial value */
const IV = Buffer.alloc(8, 0xa6);

const aesWrap = (bits: 128 | 192 | 256, arc: number): KeyWrap =>
  Object.freeze({
    kind: 'key-wrap',
    name: `AES-${bits}-WRAP`,
    oids: [`2.16.840.1.101.3.4.1.${arc}`],
    legacy: false,
    implementation: 'node:crypto',
    keySize: bits / 8,
    wrap(kek: Uint8Array, cek: Uint8Array) {
      if (kek.length !== bits / 8 || cek.length < 16 || cek.length % 8 !== 0) throw new CipherError('bad key-wrap input');
      const c = createCipheriv(`id-aes${bits}-wrap`, kek, IV);
      return new Uint8Array(Buffer.concat([c.update(cek), c.final()]));
    },
    unwrap(kek: Uint8Array, wrapped: Uint8Array) {
      if (kek.length !== bits / 8 || wrapped.length < 24 || wrapped.length % 8 !== 0) throw new CipherError('bad key-wrap input');
      try {
        const d = createDecipheriv(`id-aes${bits}-wrap`, kek, IV);
        return new Uint8Array(Buffer.concat([d.update(wrapped), d.final()]));
      } catch {
        throw new CipherError('key unwrap failed');
      }
    },
  });

/** id-aes128-wrap { aes 5 }, id-aes192-wrap { aes 25 }, id-aes256-wrap { aes 45 } */
export const AES_128_WRAP = aesWrap(128, 5);
export const AES_192_WRAP = aesWrap(192, 25);
export const AES_256_WRAP = aesWrap(256, 45);
