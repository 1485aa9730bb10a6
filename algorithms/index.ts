/**
 * Every algorithm pqscep knows, in one explicit list (nothing registers itself). Adding an
 * algorithm = one file in this folder + one line here. Order matters only for display and for
 * preference among equals (earlier = preferred).
 * @module
 */
import type { Algorithm } from '../src/crypto/types.ts';
import { AES_128_CBC, AES_128_GCM, AES_192_CBC, AES_192_GCM, AES_256_CBC, AES_256_GCM } from './aes.ts';
import { DES_CBC, DES_EDE3_CBC } from './des.ts';
import {
  RSA_2048, RSA_3072, RSA_4096, RSA_PKCS1, RSAES_OAEP, RSAES_PKCS1_V1_5,
  SHA1_WITH_RSA, SHA256_WITH_RSA, SHA384_WITH_RSA, SHA512_WITH_RSA,
} from './rsa.ts';
import { SHA_1, SHA_256, SHA_384, SHA_512 } from './sha.ts';

export const ALGORITHMS: readonly Algorithm[] = Object.freeze([
  // digests
  SHA_256, SHA_384, SHA_512, SHA_1,
  // key pairs
  RSA_2048, RSA_3072, RSA_4096,
  // signatures
  RSA_PKCS1, SHA256_WITH_RSA, SHA384_WITH_RSA, SHA512_WITH_RSA, SHA1_WITH_RSA,
  // key transport
  RSAES_PKCS1_V1_5, RSAES_OAEP,
  // content encryption
  AES_256_GCM, AES_192_GCM, AES_128_GCM, AES_256_CBC, AES_192_CBC, AES_128_CBC, DES_EDE3_CBC, DES_CBC,
]);
