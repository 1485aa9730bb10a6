/**
 * Test fixtures (no assertions) for fleet status and dry-run tests: real clients whose
 * behaviour is fixed, the answer they get read straight from the CertRep, and an HTTP proxy
 * that refuses long GET query strings the way IIS's maxQueryString does (the intermediary a
 * "message too large for GET" prediction is about).
 */
import type { Certificate } from '@peculiar/asn1-x509';
import { createServer, type IncomingMessage } from 'node:http';
import { getCaCerts, ScepHttpError } from '../../src/client/http.ts';
import { enroll, EnrollError, type EnrollOptions } from '../../src/client/enroll.ts';
import { recipientKindFor, type RecipientKind } from '../../src/cms/enveloped-data.ts';
import { parseSignedData, spkiOf } from '../../src/cms/signed-data.ts';
import { readString } from '../../src/scep/attributes.ts';
import { FailInfo, nameOf, PkiStatus, ScepOid } from '../../src/scep/message.ts';
import { clientRegistry, device, post, request, type Device, type RequestSpec } from './server.ts';

/** 'SUCCESS', 'PENDING' or 'FAILURE:<failInfo>' of a CertRep, read from its signed attributes (RFC 8894 §3.2.1). */
export function answerOf(certRep: Uint8Array): string {
  const attrs = parseSignedData(certRep).signedData.signerInfos[0].signedAttrs;
  const status = nameOf(PkiStatus, readString(attrs, ScepOid.pkiStatus) ?? '');
  return status === 'FAILURE' ? `FAILURE:${String(nameOf(FailInfo, readString(attrs, ScepOid.failInfo) ?? ''))}` : String(status);
}

/** Runs our reference client (src/client/enroll.ts) and says what it got: the CertRep's answer, or 'HTTP error'. */
export async function attempt(o: EnrollOptions): Promise<string> {
  let certRep: Uint8Array | undefined;
  try {
    await enroll({ ...o, save: (name, der) => void (name === 'certrep.der' && (certRep = der)) });
    return 'SUCCESS';
  } catch (err) {
    if (err instanceof ScepHttpError) return 'HTTP error';
    if (err instanceof EnrollError && certRep) return answerOf(certRep);
    throw err;
  }
}

/** The first RA of GetCACert's post-quantum view (every RA) that receives `kind` envelopes. */
export async function raOfKind(url: string, kind: RecipientKind): Promise<Certificate | undefined> {
  const { certificates } = await getCaCerts(url, 'pqc');
  return certificates.slice(0, -1).find((c) => recipientKindFor(spkiOf(c), clientRegistry) === kind);
}

/**
 * A device with fixed algorithms: one key type, one envelope kind (to the first RA of that
 * kind), the digest and cipher of `spec`, and no KEM certificate for the reply.
 */
export async function fixedDevice(url: string, subject: string, keyType: string, kind: RecipientKind): Promise<Device> {
  const d = await device(url, subject, keyType);
  const recipient = await raOfKind(url, kind);
  if (!recipient) throw new Error(`no ${kind} RA at ${url}`);
  return { ...d, recipient };
}

/** Sends a PKCSReq from `d` and returns the server's answer. */
export async function send(url: string, d: Device, spec: RequestSpec = {}): Promise<string> {
  const res = await post(url, (await request(d, spec)).der);
  if (res.status !== 200) return 'HTTP error';
  return answerOf(res.body);
}

export interface GetLimitProxy {
  readonly url: string;
  /** Largest query string length allowed on GET (raw, percent-encoded, as IIS counts it). */
  limit: number;
  /** Longest GET query string seen (passed or refused). */
  longestGet: number;
  close(): Promise<void>;
}

const bodyOf = async (req: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

/** A reverse proxy to `origin` that answers 414 to a GET whose query string exceeds `limit`. */
export async function getLimitProxy(origin: string): Promise<GetLimitProxy> {
  const state = { limit: Number.POSITIVE_INFINITY, longestGet: 0 };
  const server = createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
    void (async () => {
      const query = req.url!.includes('?') ? req.url!.slice(req.url!.indexOf('?') + 1) : '';
      if (req.method === 'GET') state.longestGet = Math.max(state.longestGet, query.length);
      if (req.method === 'GET' && query.length > state.limit) {
        res.writeHead(414, { 'content-type': 'text/plain' }).end('query string too long');
        return;
      }
      const body = req.method === 'POST' ? await bodyOf(req) : undefined;
      const upstream = await fetch(new URL(req.url!, origin), { method: req.method, body: body && new Uint8Array(body), headers: { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' } });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    })().catch((err: Error) => res.writeHead(502).end(err.message));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  });
}
