/**
 * RSASSA-PSS (RFC 8017 §8.1, RFC 4055 §3) and SHAKE digests (RFC 8702 §3), checked against the
 * OpenSSL CLI: its PSS CSRs, CMS SignedData and raw signatures verify with ours, ours verify
 * with it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ALGORITHMS } from '../algorithms/index.ts';
import { RSA_2048, RSASSA_PSS } from '../algorithms/rsa.ts';
import { SHAKE128, SHAKE256 } from '../algorithms/sha.ts';
import { parseCsr, verifyCsr } from '../src/ca/csr.ts';
import { fromPem, toPem } from '../src/ca/pem.ts';
import { parseSignedData, verifySignerInfo } from '../src/cms/signed-data.ts';
import { signData } from '../src/cms/signed-data-build.ts';
import { selfSignedSigner } from '../src/client/csr.ts';
import { createRegistry } from '../src/crypto/registry.ts';

const registry = createRegistry(ALGORITHMS);
const dir = mkdtempSync(join(tmpdir(), 'pqscep-pss-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir }).toString();
const file = (name: string) => join(dir, name);

describe('RFC 4055 §3 RSASSA-PSS against OpenSSL', () => {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-subj', '/CN=pss', '-days', '2');
  const key = RSA_2048.importPkcs8(fromPem(readFileSync(file('key.pem'), 'utf8'))[0].der);

  for (const [md, salt] of [['sha256', '32'], ['sha384', '48'], ['sha512', '20']] as const) {
    it(`an OpenSSL PSS CSR (${md}, salt ${salt}) verifies as proof of possession`, () => {
      openssl('req', '-new', '-key', 'key.pem', '-subj', '/CN=pss-csr', `-${md}`, '-sigopt', 'rsa_padding_mode:pss', '-sigopt', `rsa_pss_saltlen:${salt}`, '-outform', 'DER', '-out', `${md}.csr`);
      const csr = parseCsr(new Uint8Array(readFileSync(file(`${md}.csr`))));
      expect(csr.request.signatureAlgorithm.algorithm).toBe(RSASSA_PSS.oids[0]);
      expect(() => verifyCsr(csr, registry)).not.toThrow();
      csr.request.signature = new Uint8Array(csr.request.signature).map((b, i) => (i === 5 ? b ^ 1 : b)).buffer;
      expect(() => verifyCsr(csr, registry)).toThrow(/does not verify/);
    });
  }

  it('OpenSSL CMS SignedData with PSS (-keyopt rsa_padding_mode:pss) verifies', () => {
    writeFileSync(file('msg.bin'), 'hello pss');
    openssl('cms', '-sign', '-binary', '-nodetach', '-in', 'msg.bin', '-signer', 'cert.pem', '-inkey', 'key.pem', '-md', 'sha256', '-keyopt', 'rsa_padding_mode:pss', '-outform', 'DER', '-out', 'pss.p7');
    const sd = parseSignedData(new Uint8Array(readFileSync(file('pss.p7'))));
    const signer = sd.signedData.signerInfos[0];
    expect(signer.signatureAlgorithm.algorithm).toBe(RSASSA_PSS.oids[0]);
    const spki = key.spki;
    expect(verifySignerInfo(sd, signer, spki, registry).signature.name).toBe('RSASSA-PSS');
  });

  it('our PSS signatures verify with openssl dgst (SHA-256, MGF1-SHA-256, salt 32)', async () => {
    const data = new TextEncoder().encode('pqscep pss');
    const sig = await RSASSA_PSS.sign(data, key, 'SHA-256');
    writeFileSync(file('data.bin'), data);
    writeFileSync(file('sig.bin'), sig);
    writeFileSync(file('pub.pem'), toPem('PUBLIC KEY', key.spki));
    const out = openssl('dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32', '-verify', 'pub.pem', '-signature', 'sig.bin', 'data.bin');
    expect(out).toMatch(/Verified OK/);
    expect(RSASSA_PSS.verify(sig, data, key.spki, 'SHA-256', RSASSA_PSS.parameters as Uint8Array)).toBe(true);
  });

  it('refuses parameters node cannot honour (MGF1 hash different from the hash) and garbage, without throwing', async () => {
    const data = new TextEncoder().encode('x');
    const sig = await RSASSA_PSS.sign(data, key, 'SHA-256');
    expect(RSASSA_PSS.verify(sig, data, key.spki, 'SHA-256', new Uint8Array([0x30, 0x03, 0x02, 0x01]))).toBe(false);
    expect(RSASSA_PSS.verify(sig, data, key.spki, 'SHA-256', new Uint8Array([0x05, 0x00]))).toBe(false);
    // absent parameters mean SHA-1 / salt 20 (RFC 4055 §3.1 defaults): our SHA-256 signature must not verify as that
    expect(RSASSA_PSS.verify(sig, data, key.spki, 'SHA-256', null)).toBe(false);
  });
});

describe('RFC 8702 §3 SHAKE digests in CMS', () => {
  it('SHAKE128 gives 32 bytes and SHAKE256 64 bytes, as node:crypto with those output lengths', () => {
    const data = new TextEncoder().encode('abc');
    expect(Buffer.from(SHAKE128.hash(data)).toString('hex')).toBe(createHash('shake128', { outputLength: 32 }).update(data).digest('hex'));
    expect(SHAKE256.hash(data)).toHaveLength(64);
    expect(SHAKE256.oids[0]).toBe('2.16.840.1.101.3.4.2.12');
  });

  it('RFC 9882 §3: an ML-DSA SignedData with a SHAKE256 message digest verifies, and fails when the content changes', async () => {
    const key = await registry.byName('key', 'ml-dsa-44').generate();
    const cert = await selfSignedSigner('CN=shake', key, registry);
    const der = await signData({ content: new TextEncoder().encode('shake me'), signerCertificate: cert, key, signature: registry.byName('signature', 'ML-DSA-44'), digest: SHAKE256, attributes: [] });
    const sd = parseSignedData(der);
    expect(sd.signedData.signerInfos[0].digestAlgorithm.algorithm).toBe(SHAKE256.oids[0]);
    expect(verifySignerInfo(sd, sd.signedData.signerInfos[0], key.spki, registry).digest.name).toBe('SHAKE256');
    const tampered = { ...sd, content: new TextEncoder().encode('shake you') };
    expect(() => verifySignerInfo(tampered, sd.signedData.signerInfos[0], key.spki, registry)).toThrow(/message-digest/);
  });
});
