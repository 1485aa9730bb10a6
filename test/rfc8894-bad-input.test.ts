/**
 * RFC 8894 §4.1/§4.3 transport errors: input rejected before the transaction is identified
 * (transactionID, messageType, senderNonce) gets a plain HTTP 4xx with a one-line text reason,
 * never a CertRep, never a 5xx and never a stack trace. Covers malformed base64, non-DER and
 * wrong-type DER bodies, truncation, size limits (413 for bodies; a large but admissible GET URL
 * is parsed and refused with 400, not 414/431; one beyond the header limit is a 431 with a reason),
 * and missing SCEP attributes.
 * Leaves out: failures after identification (rfc8894-pki-operation.test.ts).
 */
import * as asn1js from 'asn1js';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltRequest } from '../src/client/pki-request.ts';
import { buildCsr } from '../src/client/csr.ts';
import { sealEnvelope } from '../src/cms/enveloped-data.ts';
import { certsOnly, signData } from '../src/cms/signed-data-build.ts';
import { octetString, printable } from '../src/scep/attributes.ts';
import { ScepOid } from '../src/scep/message.ts';
import { clientRegistry, device, post, request, testServer, type Device, type TestServer } from './helpers/server.ts';

interface Answer {
  status: number;
  type: string;
  text: string;
}

async function call(url: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(url, init);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

async function postBody(url: string, body: Uint8Array): Promise<Answer> {
  const res = await post(url, body);
  return { status: res.status, type: res.type, text: Buffer.from(res.body).toString('utf8') };
}

/** A transport error: the status, text/plain, exactly one non-empty line, no stack frames. */
function expectReason(a: Answer, status: number): void {
  expect(a.status, a.text).toBe(status);
  expect(a.type).toMatch(/^text\/plain/);
  expect(a.text).toMatch(/^[^\n]*\S[^\n]*\n?$/);
  expect(a.text).not.toMatch(/\n.+/);
  expect(a.text).not.toMatch(/\bat [\w.<>]+ \(|\bat .+:\d+:\d+/);
  expect(a.text.length).toBeLessThan(300);
}

type Attr = 'transactionID' | 'messageType' | 'senderNonce';

/** A PKCSReq signed correctly but with some SCEP attributes left out. */
async function withoutAttributes(d: Device, omit: readonly Attr[]): Promise<Uint8Array> {
  const csr = await buildCsr({ subject: d.subject, key: d.key, challenge: 'x' }, clientRegistry);
  const all = {
    transactionID: printable(ScepOid.transactionID, d.transactionId),
    messageType: printable(ScepOid.messageType, '19'),
    senderNonce: octetString(ScepOid.senderNonce, new Uint8Array(randomBytes(16))),
  };
  return signData({
    content: (await sealEnvelope(csr, d.recipient, clientRegistry.byName('cipher', 'AES-128-CBC'), clientRegistry, { keyTransport: clientRegistry.byName('key-transport', 'RSAES-PKCS1-v1_5') })),
    signerCertificate: d.signer,
    key: d.key,
    signature: clientRegistry.byName('signature', 'sha256WithRSAEncryption'),
    digest: clientRegistry.byName('digest', 'SHA-256'),
    certificates: [d.signer],
    attributes: (Object.keys(all) as Attr[]).filter((k) => !omit.includes(k)).map((k) => all[k]),
  });
}

describe('RFC 8894 §4.3 PKIOperation transport errors (before the transaction is identified)', () => {
  let server: TestServer;
  let d: Device;
  let valid: BuiltRequest;
  beforeAll(async () => {
    server = await testServer();
    d = await device(server.url, 'CN=bad-input,O=Test');
    valid = await request(d);
  });
  afterAll(() => server.stop());

  it.each([
    ['characters outside base64', '!!!not*base64!!!'],
    ['a lone character', 'Q'],
    ['padding in the middle', 'MII=ABCD'],
    ['bad percent-encoding', '%E0%A4%A'],
  ])('GET with malformed base64 (%s) → 400', async (_, message) => {
    expectReason(await call(`${server.url}?operation=PKIOperation&message=${message}`), 400);
  });

  it('GET PKIOperation without a message parameter → 400', async () => {
    expectReason(await call(`${server.url}?operation=PKIOperation`), 400);
  });

  it.each([
    ['text', new Uint8Array(Buffer.from('hello, SCEP server'))],
    ['random bytes', new Uint8Array([0x01, ...randomBytes(200)])],
    ['a SEQUENCE header with nothing inside', new Uint8Array([0x30, 0x82, 0x10, 0x00])],
    ['an empty body', new Uint8Array(0)],
  ])('POST with a non-DER body (%s) → 400', async (_, body) => {
    expectReason(await postBody(server.url, body), 400);
  });

  it('POST of a DER ContentInfo of the wrong content type (EnvelopedData) → 400', async () => {
    const csr = await buildCsr({ subject: d.subject, key: d.key }, clientRegistry);
    const envelope = (await sealEnvelope(csr, d.recipient, clientRegistry.byName('cipher', 'AES-128-CBC'), clientRegistry, { keyTransport: clientRegistry.byName('key-transport', 'RSAES-PKCS1-v1_5') }));
    expectReason(await postBody(server.url, envelope), 400);
  });

  it('POST of a ContentInfo whose content is NULL (id-signedData, [0] { NULL }) → 400', async () => {
    const nullContent = new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: '1.2.840.113549.1.7.2' }), new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [new asn1js.Null()] })] });
    expectReason(await postBody(server.url, new Uint8Array(nullContent.toBER())), 400);
  });

  it('POST of a certs-only SignedData (no SignerInfo) → 400', async () => {
    expectReason(await postBody(server.url, certsOnly(d.caCerts)), 400);
  });

  it.each([0.1, 0.5, 0.9])('POST of a valid request truncated to %s of its length → 400', async (fraction) => {
    expectReason(await postBody(server.url, valid.der.slice(0, Math.floor(valid.der.length * fraction))), 400);
  });

  it('POST of a valid request missing its last byte → 400', async () => {
    expectReason(await postBody(server.url, valid.der.slice(0, valid.der.length - 1)), 400);
  });

  it('GET of a valid request truncated → 400', async () => {
    const b64 = Buffer.from(valid.der.slice(0, valid.der.length - 40)).toString('base64');
    expectReason(await call(`${server.url}?operation=PKIOperation&message=${encodeURIComponent(b64)}`), 400);
  });

  it.each<[string, Attr[]]>([
    ['senderNonce', ['senderNonce']],
    ['transactionID', ['transactionID']],
    ['messageType', ['messageType']],
    ['all SCEP attributes', ['transactionID', 'messageType', 'senderNonce']],
  ])('a signed request without %s → 400', async (_, omit) => {
    expectReason(await postBody(server.url, await withoutAttributes(d, omit)), 400);
  });

  it('a ~900 KB GET message (valid base64 of garbage) under the 1 MiB limit → 400, the URL itself accepted', async () => {
    const garbage = new Uint8Array(randomBytes(675 * 1024));
    garbage[0] = 0x04; // an OCTET STRING tag: certainly not a ContentInfo
    const b64 = Buffer.from(garbage).toString('base64url');
    expect(b64.length).toBeGreaterThan(890 * 1024);
    expectReason(await call(`${server.url}?operation=PKIOperation&message=${b64}`), 400);
  });

  it('the server still answers a valid request after all of that', async () => {
    const res = await post(server.url, (await request(d)).der);
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/x-pki-message');
  });
});

describe('RFC 8894 §4.3 message size limit', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer({ maxMessageBytes: 65536 });
  });
  afterAll(() => server.stop());

  it('POST body over the limit (70 KB with a 64 KiB limit) → 413', async () => {
    expectReason(await postBody(server.url, new Uint8Array(70 * 1024).fill(0x30)), 413);
  });

  it('POST body over the limit without a Content-Length (chunked) → 413', async () => {
    const chunk = new Uint8Array(10 * 1024).fill(0x41);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 7; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await fetch(`${server.url}?operation=PKIOperation`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expectReason({ status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() }, 413);
  });

  it('GET message over the limit → 413', async () => {
    const b64 = Buffer.from(randomBytes(70 * 1024)).toString('base64url');
    expectReason(await call(`${server.url}?operation=PKIOperation&message=${b64}`), 413);
  });

  it('a URL beyond the header limit → 431 with a one-line reason (Node\'s parser refuses it before Koa)', async () => {
    expectReason(await call(`${server.url}?operation=GetCACert&message=${'A'.repeat(200 * 1024)}`), 431);
  });

  it('a request under the limit is still answered', async () => {
    const d = await device(server.url, 'CN=small,O=Test');
    const res = await post(server.url, (await request(d)).der);
    expect(res.status).toBe(200);
  });
});
