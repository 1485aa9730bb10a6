/**
 * X.690 §8.19 OBJECT IDENTIFIER and §8.2 BOOLEAN parse cost (src/cms/der-limits.ts): input whose
 * parse would cost far more than its size is refused before asn1js sees it, and nothing real is.
 * - a 1 MB OID (one sub-identifier per byte) and many 1 KB OIDs are flagged; OIDs inside
 *   indefinite-length constructions, inside OCTET STRINGs (parsed as embedded BER) and overrunning
 *   their parent count too; only what asn1js parses is walked (an OCTET STRING's first element,
 *   within the string), so random signature and ciphertext bytes are never refused;
 * - every captured or generated DER file under test/vectors passes, and so do requests of
 *   three suites built by our client;
 * - over HTTP: a pkiMessage whose contentType OID is 1 MB is a one-line 400 (RFC 8894 §4, not a
 *   5xx); a correctly signed request whose enveloped CSR holds a 512 KB OID is CertRep FAILURE
 *   badRequest (RFC 8894 §3.3.2.2).
 * Leaves out: how long a parse takes (no timing assertions); the fuzz suite bounds memory.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsr } from '../src/ca/csr.ts';
import { derCostProblem, MAX_OID_BYTES } from '../src/cms/der-limits.ts';
import { derLength } from './helpers/der-mutator.ts';
import { device, exchange, post, request, testServer, type TestServer } from './helpers/server.ts';

const tlv = (tag: number, content: Uint8Array) => new Uint8Array(Buffer.concat([Uint8Array.of(tag), derLength(content.length), content]));
const oid = (bytes: number) => tlv(0x06, new Uint8Array(bytes).fill(0x01));
const seq = (...parts: Uint8Array[]) => tlv(0x30, new Uint8Array(Buffer.concat(parts)));

function derFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? derFiles(path) : name.endsWith('.der') ? [path] : [];
  });
}

describe('X.690 §8.19 OBJECT IDENTIFIER contents are capped in total', () => {
  it('flags a 1 MB OID and forty 1 KB OIDs; passes a thousand ordinary ones', () => {
    expect(derCostProblem(seq(oid(1024 * 1024)))).toMatch(/OBJECT IDENTIFIER/);
    expect(derCostProblem(seq(...Array.from({ length: 40 }, () => oid(1024))))).toMatch(/OBJECT IDENTIFIER/);
    expect(derCostProblem(seq(...Array.from({ length: 1000 }, () => oid(9))))).toBeUndefined();
    expect(derCostProblem(seq(oid(MAX_OID_BYTES)))).toBeUndefined();
  });

  it('counts OIDs inside indefinite lengths and inside OCTET STRINGs (embedded BER)', () => {
    const big = oid(MAX_OID_BYTES + 1);
    const indefinite = new Uint8Array(Buffer.concat([Uint8Array.of(0x30, 0x80, 0x31, 0x80), big, Uint8Array.of(0, 0, 0, 0)]));
    expect(derCostProblem(indefinite)).toMatch(/OBJECT IDENTIFIER/);
    expect(derCostProblem(seq(tlv(0x04, seq(big))))).toMatch(/OBJECT IDENTIFIER/);
    expect(derCostProblem(seq(tlv(0x03, new Uint8Array(Buffer.concat([Uint8Array.of(0), big])))))).toMatch(/OBJECT IDENTIFIER/);
  });

  it('X.690 §8.2.1 BOOLEAN: flags a 100 KB one and sixty-four 1 KB ones (quadratic to decode); passes one of 4 KB', () => {
    const bool = (bytes: number) => tlv(0x01, new Uint8Array(bytes).fill(0xff));
    expect(derCostProblem(seq(bool(100 * 1024)))).toMatch(/BOOLEAN/);
    expect(derCostProblem(seq(...Array.from({ length: 64 }, () => bool(1024))))).toMatch(/BOOLEAN/);
    expect(derCostProblem(seq(bool(4096)))).toBeUndefined();
    expect(derCostProblem(seq(...Array.from({ length: 1000 }, () => bool(1))))).toBeUndefined();
  });

  it('counts an OID whose length overruns its parent but fits the input (asn1js reads it first)', () => {
    const overrun = new Uint8Array(Buffer.concat([Uint8Array.of(0x30, 0x05), oid(MAX_OID_BYTES + 1)]));
    expect(derCostProblem(overrun)).toMatch(/OBJECT IDENTIFIER/);
  });

  it('walks only what asn1js parses of an OCTET STRING: its first element, within the string (random signature bytes are not refused)', () => {
    const bool = (bytes: number) => tlv(0x01, new Uint8Array(bytes).fill(0xff));
    // Bytes after a first element that look like a 9372-byte BOOLEAN header: asn1js never reads them.
    const signatureLike = new Uint8Array(Buffer.concat([Uint8Array.of(0x05, 0x00, 0x01, 0x82, 0x24, 0x9c), new Uint8Array(3300).fill(0xa5)]));
    expect(derCostProblem(seq(tlv(0x04, signatureLike), tlv(0x04, new Uint8Array(12000))))).toBeUndefined();
    expect(derCostProblem(seq(tlv(0x03, new Uint8Array(Buffer.concat([Uint8Array.of(0), signatureLike]))), tlv(0x04, new Uint8Array(12000))))).toBeUndefined();
    // A first element longer than the string: asn1js parses the string's contents alone, so it stops there.
    const overrunning = new Uint8Array(Buffer.concat([Uint8Array.of(0x01, 0x82, 0x24, 0x9c), new Uint8Array(96)]));
    expect(derCostProblem(seq(tlv(0x04, overrunning), tlv(0x04, new Uint8Array(12000))))).toBeUndefined();
    // What asn1js does parse is still counted: a long BOOLEAN that is the string's first element.
    expect(derCostProblem(seq(tlv(0x04, bool(100 * 1024))))).toMatch(/BOOLEAN/);
    // Bytes after the input's first element are not parsed by fromBER either.
    expect(derCostProblem(new Uint8Array(Buffer.concat([seq(oid(9)), bool(100 * 1024)])))).toBeUndefined();
  });

  it('follows what asn1js follows: UNIVERSAL 0 (no contents consumed), 5-8 length octets, long tag numbers, [n] IMPLICIT strings decoded again', () => {
    const bool = tlv(0x01, new Uint8Array(150_000));
    const after = (head: number[]) => seq(Uint8Array.from(head), bool);
    expect(derCostProblem(after([0x04, 0x85, 0, 0, 0, 0, 1, 0x00]))).toMatch(/BOOLEAN/); // a 5-octet length before it
    expect(derCostProblem(seq(Uint8Array.of(0x00), derLength(bool.length), bool))).toMatch(/BOOLEAN/); // "contents" of a UNIVERSAL 0
    expect(derCostProblem(after([0x9f, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01, 0x01, 0x00]))).toMatch(/BOOLEAN/); // a 7-octet tag before it
    expect(derCostProblem(seq(tlv(0x80, bool)))).toMatch(/BOOLEAN/); // inside [0] IMPLICIT OCTET STRING
    expect(derCostProblem(seq(tlv(0x80, new Uint8Array(20)), tlv(0x04, Uint8Array.of(0x30, 0x00))))).toBeUndefined();
  });

  it('passes every DER file under test/vectors', () => {
    const files = derFiles(join(import.meta.dirname, 'vectors'));
    expect(files.length).toBeGreaterThan(100);
    expect(files.filter((f) => derCostProblem(new Uint8Array(readFileSync(f))) !== undefined)).toEqual([]);
  });
});

describe('X.690 §8.19 over HTTP (RFC 8894 §4, §3.3.2.2)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer();
  });
  afterAll(() => server.stop());

  it('requests of three suites built by our client pass the check', async () => {
    for (const keyType of ['rsa-2048', 'ecdsa-p256', 'ml-dsa-65']) {
      const d = await device(server.url, `CN=cost-${keyType},O=Test`, keyType);
      expect(derCostProblem((await request(d)).der), keyType).toBeUndefined();
    }
  });

  it('a pkiMessage whose contentType OID is 1 MB, or that holds a 100 KB BOOLEAN, gets a one-line 400', async () => {
    const res = await post(server.url, seq(oid(1000 * 1000), tlv(0xa0, seq())));
    expect(res.status).toBe(400);
    expect(Buffer.from(res.body).toString()).toMatch(/^[^\n]*OBJECT IDENTIFIER[^\n]*\n$/);
    const bool = await post(server.url, seq(oid(9), tlv(0xa0, seq(tlv(0x01, new Uint8Array(100 * 1024))))));
    expect(bool.status).toBe(400);
    expect(Buffer.from(bool.body).toString()).toMatch(/^[^\n]*BOOLEAN[^\n]*\n$/);
  });

  it('a signed request whose enveloped CSR holds a 512 KB OID gets CertRep FAILURE badRequest', async () => {
    const payload = seq(seq(oid(512 * 1024)));
    expect(() => parseCsr(payload)).toThrow(/OBJECT IDENTIFIER/);
    const d = await device(server.url, 'CN=oid-bomb,O=Test', 'ecdsa-p256');
    const reply = await exchange(server.url, d, await request(d, { payload }));
    expect(reply).toMatchObject({ status: 'FAILURE', failInfo: 'badRequest' });
  });
});
