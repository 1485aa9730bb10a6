/**
 * Legacy content ciphers, off unless configuration allows legacy algorithms:
 * DES-EDE3-CBC (RFC 3370 §5.1, node:crypto) and single DES-CBC (OIW desCBC 1.3.14.3.2.7, the
 * only cipher micromdm's scepclient uses). Node's OpenSSL 3 keeps single DES in its legacy
 * provider, which Node does not load, so DES-CBC runs on the `des.js` package.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ContentCipher } from '../src/crypto/types.ts';
import { CipherError } from '../src/crypto/types.ts';
import { cbcCipher, ivParameter, ivToParameter } from './aes.ts';

/** des-ede3-cbc { iso(1) member-body(2) us(840) rsadsi(113549) encryptionAlgorithm(3) 7 } */
export const DES_EDE3_CBC = cbcCipher({ name: 'DES-EDE3-CBC', oid: '1.2.840.113549.3.7', node: 'des-ede3-cbc', keySize: 24, ivSize: 8, strength: 112, legacy: true, capability: 'DES3' });

interface DesJsCipher { update(data: Uint8Array): number[]; final(): number[] }
interface DesJs { CBC: { instantiate(c: unknown): { create(o: { type: 'encrypt' | 'decrypt'; key: Uint8Array; iv: Uint8Array }): DesJsCipher } }; DES: unknown }
const des = createRequire(import.meta.url)('des.js') as DesJs;
const desCbc = des.CBC.instantiate(des.DES);

function run(type: 'encrypt' | 'decrypt', key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const c = desCbc.create({ type, key, iv });
  return new Uint8Array([...c.update(data), ...c.final()]);
}

/** desCBC { iso(1) identified-organization(3) oiw(14) secsig(3) algorithms(2) 7 } */
export const DES_CBC: ContentCipher = Object.freeze({
  kind: 'cipher',
  name: 'DES-CBC',
  oids: ['1.3.14.3.2.7'],
  legacy: true,
  implementation: 'des.js',
  keySize: 8,
  aead: false,
  strength: 56,
  encrypt(key: Uint8Array, plaintext: Uint8Array) {
    const iv = new Uint8Array(randomBytes(8));
    return { parameters: ivToParameter(iv), ciphertext: run('encrypt', key, iv, plaintext) };
  },
  decrypt(key: Uint8Array, parameters: Uint8Array | null, ciphertext: Uint8Array) {
    if (key.length !== 8 || ciphertext.length === 0 || ciphertext.length % 8 !== 0) throw new CipherError('bad DES input');
    const iv = ivParameter(parameters, 8);
    try {
      return run('decrypt', key, iv, ciphertext);
    } catch {
      throw new CipherError('content decryption failed'); // des.js asserts on bad padding
    }
  },
});
