/**
 * Property: whatever a client sends to PKIOperation, the server answers within RFC 8894's two
 * shapes: a 4xx with a one-line text reason (transaction not identified, §4), or HTTP 200 with
 * a signed CertRep (§3.3.2) whose pkiStatus is SUCCESS or FAILURE and whose failInfo (if
 * FAILURE) is 0..4. Never a 5xx, never a dropped connection.
 * Inputs: one valid PKCSReq, mutated at random (bit flips, truncation, insertion, deletion,
 * lying DER length octets, duplicated slices, an element replaced by NULL, a primitive retagged
 * as another universal type), POSTed as DER; its base64 GET form, mutated as
 * text; and, to get past the signature checks, a mutated pkcsPKIEnvelope, a mutated CSR, and a
 * mutated certificationRequestInfo re-signed by the key (so parsing, policy and issuance see
 * it), each wrapped in a correctly signed and enveloped request. Seeds are fixed, so a failure
 * replays the same mutations (the random nonces, IVs and keys of each run still differ).
 * Leaves out: what a particular mutation should yield (rfc8894-pki-operation.test.ts does that).
 */
import { derNodes } from './helpers/der-mutator.ts';
import * as asn1js from 'asn1js';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { algorithmIdentifier } from '../src/ca/certificate.ts';
import { buildCsr } from '../src/client/csr.ts';
import { serialize } from '../src/cms/der.ts';
import { sealEnvelope } from '../src/cms/enveloped-data.ts';
import { parseSignedData, spkiOf, verifySignerInfo } from '../src/cms/signed-data.ts';
import { signData } from '../src/cms/signed-data-build.ts';
import { octetString, printable, readString } from '../src/scep/attributes.ts';
import { FailInfo, PkiStatus, ScepOid } from '../src/scep/message.ts';
import { CHALLENGE, clientRegistry, device, request, testServer, type Device, type TestServer } from './helpers/server.ts';

const SEED = 0x5c3b_8894;
const RUNS = 400;

/** Offsets of every tag octet and first length octet in a DER tree (test/helpers/der-mutator.ts walks it). */
function headerOffsets(der: Uint8Array): { tags: number[]; lengths: number[] } {
  const nodes = derNodes(der);
  return { tags: nodes.map((n) => n.at), lengths: nodes.map((n) => n.lenAt) };
}

type Mutation =
  | { kind: 'flip'; pos: number; bit: number }
  | { kind: 'flipHeader'; pos: number; bit: number }
  | { kind: 'truncate'; pos: number }
  | { kind: 'insert'; pos: number; bytes: Uint8Array }
  | { kind: 'delete'; pos: number; len: number }
  | { kind: 'lengthLie'; pos: number; value: number }
  | { kind: 'duplicate'; pos: number; len: number }
  | { kind: 'nullify'; pos: number }
  | { kind: 'retag'; pos: number; tag: number };

// Unbiased, so positions spread over the whole message instead of clustering near offset 0.
const pos = fc.noBias(fc.nat({ max: 1 << 20 }));
// Bit flips keep the DER framing, so they reach past identification (signature, envelope, CSR)
// more often than the shifting mutations, which mostly stop at the parser: weight them up.
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), pos, bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('flipHeader' as const), pos, bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), pos }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), pos, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pos, len: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('lengthLie' as const), pos, value: fc.constantFrom(0x80, 0xff, 0x84) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pos, len: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('nullify' as const), pos }) },
  // Universal string, time and other primitive tags: asn1-schema may read a value it cannot write back.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('retag' as const), pos, tag: fc.constantFrom(1, 2, 4, 5, 6, 12, 19, 22, 23, 24, 30) }) },
);

/**
 * `input` with one element (the `pos`th child of a constructed element, in document order)
 * replaced by NULL, the enclosing lengths right: asn1-schema reads a NULL where it expects an
 * ANY as null, which the code after the parse must take as a value like any other.
 */
function nullify(input: Uint8Array, pos: number): Uint8Array {
  return replaceElement(input, pos, () => new asn1js.Null());
}

/** `input` with the tag of one primitive element (the `pos`th, in document order) made universal `tag`, its contents kept. */
function retag(input: Uint8Array, pos: number, tag: number): Uint8Array {
  return replaceElement(input, pos, (old) => {
    if (old.idBlock.isConstructed) return undefined;
    return new asn1js.Primitive({ idBlock: { tagClass: 1, tagNumber: tag }, valueHex: new Uint8Array(old.valueBeforeDecodeView).subarray(old.idBlock.blockLength + old.lenBlock.blockLength) });
  });
}

/** `input` with the `pos`th child of a constructed element replaced by what `by` makes of it (unchanged when it makes nothing). */
function replaceElement(input: Uint8Array, pos: number, by: (old: asn1js.AsnType) => asn1js.AsnType | undefined): Uint8Array {
  let root: asn1js.AsnType;
  try {
    root = asn1js.fromBER(input).result;
  } catch {
    return input; // asn1js throws on some malformed strings: an earlier mutation broke it beyond re-encoding
  }
  if (root.error) return input;
  const slots: [asn1js.AsnType[], number][] = [];
  const walk = (node: asn1js.AsnType): void => {
    if (!node.idBlock.isConstructed) return; // a primitive's embedded tree is not written back
    const children = (node.valueBlock as { value?: unknown }).value;
    if (!Array.isArray(children)) return;
    (children as asn1js.AsnType[]).forEach((child, i) => {
      slots.push([children, i]);
      walk(child);
    });
  };
  walk(root);
  if (slots.length === 0) return input;
  const [children, i] = slots[pos % slots.length];
  const replacement = by(children[i]);
  if (!replacement) return input;
  children[i] = replacement;
  return new Uint8Array(root.toBER());
}

/** Applies `m` to `input`; header-aimed mutations use the offsets of the original message. */
function mutate(input: Uint8Array, m: Mutation, headers: { tags: number[]; lengths: number[] }): Uint8Array {
  const n = input.length;
  if (n === 0) return input;
  const at = m.pos % n;
  const out = input.slice();
  switch (m.kind) {
    case 'flip':
      out[at] ^= 1 << m.bit;
      return out;
    case 'flipHeader': {
      const p = headers.tags[m.pos % headers.tags.length];
      if (p < n) out[p] ^= 1 << m.bit;
      return out;
    }
    case 'truncate':
      return input.slice(0, at);
    case 'insert':
      return new Uint8Array([...input.subarray(0, at), ...m.bytes, ...input.subarray(at)]);
    case 'delete':
      return new Uint8Array([...input.subarray(0, at), ...input.subarray(at + m.len)]);
    case 'lengthLie': {
      const p = headers.lengths[m.pos % headers.lengths.length];
      if (p < n) out[p] = m.value;
      return out;
    }
    case 'duplicate': {
      const slice = input.subarray(at, at + m.len);
      return new Uint8Array([...input.subarray(0, at + slice.length), ...slice, ...input.subarray(at + slice.length)]);
    }
    case 'nullify':
      return nullify(input, m.pos);
    case 'retag':
      return retag(input, m.pos, m.tag);
  }
}

type TextMutation =
  | { kind: 'replace'; pos: number; char: string }
  | { kind: 'insert'; pos: number; text: string }
  | { kind: 'delete'; pos: number; len: number }
  | { kind: 'truncate'; pos: number };

const b64char = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ %\n!*.~');
const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('replace' as const), pos, char: b64char }) },
  fc.record({ kind: fc.constant('insert' as const), pos, text: fc.string({ unit: b64char, minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('delete' as const), pos, len: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), pos }),
);

function mutateText(input: string, m: TextMutation): string {
  const at = m.pos % Math.max(1, input.length);
  switch (m.kind) {
    case 'replace':
      return input.slice(0, at) + m.char + input.slice(at + 1);
    case 'insert':
      return input.slice(0, at) + m.text + input.slice(at);
    case 'delete':
      return input.slice(0, at) + input.slice(at + m.len);
    case 'truncate':
      return input.slice(0, at);
  }
}

/** Signs `envelope` as a PKCSReq from `d` with fresh nonce: the signature always verifies. */
async function signedAround(d: Device, envelope: Uint8Array): Promise<Uint8Array> {
  return signData({
    content: envelope,
    signerCertificate: d.signer,
    key: d.key,
    signature: clientRegistry.byName('signature', 'sha256WithRSAEncryption'),
    digest: clientRegistry.byName('digest', 'SHA-256'),
    certificates: [d.signer],
    attributes: [
      printable(ScepOid.transactionID, d.transactionId),
      printable(ScepOid.messageType, '19'),
      octetString(ScepOid.senderNonce, new Uint8Array(randomBytes(16))),
    ],
  });
}

/** DER TLV with a definite length (X.690 §8.1.3). */
function tlv(tag: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return new Uint8Array([tag, ...len, ...body]);
}

/** A PKCS#10 request (RFC 2986 §4.2) over `info` exactly as given, with a valid signature by `d.key`. */
async function resignedCsr(d: Device, info: Uint8Array): Promise<Uint8Array> {
  const algorithm = clientRegistry.byName('signature', 'sha256WithRSAEncryption');
  const signature = await algorithm.sign(info, d.key, 'SHA-256');
  const bitString = tlv(0x03, new Uint8Array([0, ...signature]));
  return tlv(0x30, new Uint8Array([...info, ...serialize(algorithmIdentifier(algorithm)), ...bitString]));
}

/** The certificationRequestInfo of a DER CSR: the first element of the outer SEQUENCE. */
function requestInfoOf(csr: Uint8Array): Uint8Array {
  const header = csr[1] & 0x80 ? 2 + (csr[1] & 0x7f) : 2;
  const inner = csr.subarray(header);
  const len = inner[1] & 0x80 ? [...inner.subarray(2, 2 + (inner[1] & 0x7f))].reduce((a, b) => a * 256 + b, 0) : inner[1];
  return inner.slice(0, (inner[1] & 0x80 ? 2 + (inner[1] & 0x7f) : 2) + len);
}

describe('RFC 8894 §3.3.2 / §4: every mutated PKIOperation gets a 4xx reason or a well-formed CertRep', () => {
  let server: TestServer;
  let d: Device;
  let valid: Uint8Array;
  let headers: { tags: number[]; lengths: number[] };
  const seen = { clientError: 0, success: 0, failure: 0 };

  beforeAll(async () => {
    server = await testServer();
    d = await device(server.url, 'CN=mutation,O=Test');
    valid = (await request(d)).der;
    headers = headerOffsets(valid);
  });
  afterAll(() => server.stop());

  /** The property's oracle: throws (fails the run) unless the answer is one of the two allowed shapes. */
  async function check(res: Response): Promise<void> {
    const body = new Uint8Array(await res.arrayBuffer());
    const type = res.headers.get('content-type') ?? '';
    if (res.status >= 400 && res.status < 500) {
      const text = Buffer.from(body).toString('utf8');
      expect(type).toMatch(/^text\/plain/);
      expect(text).toMatch(/^[^\n]*\S[^\n]*\n?$/);
      expect(text).not.toMatch(/\bat .+:\d+:\d+/);
      seen.clientError++;
      return;
    }
    expect(res.status).toBe(200);
    expect(type).toBe('application/x-pki-message');
    const sd = parseSignedData(body);
    expect(sd.signedData.signerInfos).toHaveLength(1);
    const signer = sd.signedData.signerInfos[0];
    verifySignerInfo(sd, signer, spkiOf(server.env.ras[0].certificate), clientRegistry);
    const attrs = signer.signedAttrs;
    expect(readString(attrs, ScepOid.messageType)).toBe('3');
    const status = readString(attrs, ScepOid.pkiStatus);
    expect([PkiStatus.SUCCESS, PkiStatus.FAILURE]).toContain(status);
    if (status === PkiStatus.FAILURE) {
      expect(Object.values(FailInfo)).toContain(readString(attrs, ScepOid.failInfo));
      seen.failure++;
    } else {
      expect(sd.content).toBeDefined();
      seen.success++;
    }
  }

  it(`DER mutations POSTed (seed ${SEED}, ${RUNS} runs)`, async () => {
    expect(headers.lengths.length).toBeGreaterThan(20);
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const body = mutations.reduce((acc, m) => mutate(acc, m, headers), valid);
        await check(await fetch(`${server.url}?operation=PKIOperation`, { method: 'POST', body: Buffer.from(body) }));
      }),
      { numRuns: RUNS, seed: SEED },
    );
    // The oracle saw both sides of the identification boundary, so neither branch is vacuous.
    expect(seen.clientError).toBeGreaterThan(0);
    expect(seen.failure).toBeGreaterThan(0);
  });

  it(`base64 text mutations sent by GET (seed ${SEED + 1}, ${RUNS} runs)`, async () => {
    const b64 = Buffer.from(valid).toString('base64');
    await fc.assert(
      fc.asyncProperty(fc.array(textMutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const text = mutations.reduce(mutateText, b64);
        await check(await fetch(`${server.url}?operation=PKIOperation&message=${text}`));
      }),
      { numRuns: RUNS, seed: SEED + 1 },
    );
  });

  it(`envelope mutations under a valid signature (seed ${SEED + 2}, ${RUNS} runs)`, async () => {
    const csr = await buildCsr({ subject: d.subject, key: d.key, challenge: CHALLENGE, sans: ['DNS:m.example', 'IP:192.0.2.1'] }, clientRegistry);
    const seen0 = { ...seen };
    for (const cipher of ['AES-128-CBC', 'AES-256-GCM']) {
      const envelope = (await sealEnvelope(csr, d.recipient, clientRegistry.byName('cipher', cipher), clientRegistry, { keyTransport: clientRegistry.byName('key-transport', 'RSAES-PKCS1-v1_5') }));
      const envelopeHeaders = headerOffsets(envelope);
      await fc.assert(
        fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
          const mutated = mutations.reduce((acc, m) => mutate(acc, m, envelopeHeaders), envelope);
          const body = await signedAround(d, mutated);
          await check(await fetch(`${server.url}?operation=PKIOperation`, { method: 'POST', body: Buffer.from(body) }));
        }),
        { numRuns: RUNS / 2, seed: SEED + 2 },
      );
    }
    // Past identification every answer is a CertRep: no 4xx may come out of this property.
    expect(seen.clientError).toBe(seen0.clientError);
  });

  it(`CSR mutations under a valid envelope and signature (seed ${SEED + 3}, ${RUNS} runs)`, async () => {
    const csr = await buildCsr({ subject: d.subject, key: d.key, challenge: CHALLENGE, sans: ['DNS:m.example', 'IP:192.0.2.1', 'email:m@example.com', 'URI:urn:x'] }, clientRegistry);
    const csrHeaders = headerOffsets(csr);
    const seen0 = { ...seen };
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const payload = mutations.reduce((acc, m) => mutate(acc, m, csrHeaders), csr);
        const body = (await request(d, { payload })).der;
        await check(await fetch(`${server.url}?operation=PKIOperation`, { method: 'POST', body: Buffer.from(body) }));
      }),
      { numRuns: RUNS, seed: SEED + 3 },
    );
    expect(seen.clientError).toBe(seen0.clientError);
    expect(seen.failure).toBeGreaterThan(seen0.failure);
  });

  it(`certificationRequestInfo mutations, re-signed by the key (seed ${SEED + 4}, ${RUNS} runs)`, async () => {
    const csr = await buildCsr({ subject: 'CN=resigned,O=Test,C=DE', key: d.key, challenge: CHALLENGE, sans: ['DNS:r.example', 'IP:192.0.2.1', 'IP:2001:db8::1', 'email:r@example.com', 'URI:urn:x'] }, clientRegistry);
    const info = requestInfoOf(csr);
    expect(Buffer.from(await resignedCsr(d, info)).equals(Buffer.from(csr))).toBe(true); // the rebuild is exact
    const infoHeaders = headerOffsets(info);
    const seen0 = { ...seen };
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const payload = await resignedCsr(d, mutations.reduce((acc, m) => mutate(acc, m, infoHeaders), info));
        const body = (await request(d, { payload })).der;
        await check(await fetch(`${server.url}?operation=PKIOperation`, { method: 'POST', body: Buffer.from(body) }));
      }),
      { numRuns: RUNS, seed: SEED + 4 },
    );
    expect(seen.clientError).toBe(seen0.clientError);
    expect(seen.success).toBeGreaterThan(seen0.success);
  });

  it(`signed-attribute mutations, re-signed by the key over the bytes sent (seed ${SEED + 5}, ${RUNS} runs)`, async () => {
    const kids = (n: asn1js.AsnType) => (n as asn1js.Constructed).valueBlock.value;
    const base = (await request(d)).der;
    const attrsOf = (tree: asn1js.AsnType) => kids(kids(kids(kids(tree)[1])[0]).at(-1)!)[0];
    const original: Uint8Array = new Uint8Array(kids(attrsOf(asn1js.fromBER(base).result))[3].toBER());
    const attrHeaders = headerOffsets(original);
    const rsa = clientRegistry.byName('signature', 'sha256WithRSAEncryption');
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 2 }), async (mutations) => {
        const attrs = mutations.reduce((acc, m) => mutate(acc, m, attrHeaders), original);
        let parsed: ReturnType<typeof asn1js.fromBER>;
        try {
          parsed = asn1js.fromBER(attrs);
        } catch {
          return; // asn1js throws on some malformed strings (e.g. a GeneralizedTime of odd length): nothing to put in place
        }
        if (parsed.offset !== attrs.length || parsed.result.error) return; // not one element: nothing to put in place
        const tree = asn1js.fromBER(base).result;
        const signerInfo = attrsOf(tree);
        kids(signerInfo)[3] = parsed.result;
        const sent = attrs.slice();
        sent[0] = 0x31; // RFC 5652 §5.4: the signature covers them with the SET OF tag
        (kids(signerInfo)[5] as asn1js.OctetString).valueBlock.valueHexView = await rsa.sign(sent, d.key, 'SHA-256');
        await check(await fetch(`${server.url}?operation=PKIOperation`, { method: 'POST', body: Buffer.from(tree.toBER()) }));
      }),
      { numRuns: RUNS, seed: SEED + 5 },
    );
  });

  it('the server is still healthy and still enrolls afterwards', async () => {
    const health = await fetch(`${new URL(server.url).origin}/healthz`);
    expect(health.status).toBe(200);
    const d = await device(server.url, 'CN=after-mutation,O=Test');
    const res = await fetch(`${server.url}?operation=PKIOperation`, { method: 'POST', body: Buffer.from((await request(d)).der) });
    expect(res.status).toBe(200);
    const attrs = parseSignedData(new Uint8Array(await res.arrayBuffer())).signedData.signerInfos[0].signedAttrs;
    expect(readString(attrs, ScepOid.pkiStatus)).toBe(PkiStatus.SUCCESS);
  });
});
