/**
 * The SCEP client's HTTP side (RFC 8894 §4): GetCACaps, GetCACert, GetNextCACert and
 * PKIOperation over POST or GET, with Node's fetch. Any non-200 answer becomes a ScepHttpError
 * carrying the server's one-line reason.
 * @module
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { parseSignedData } from '../cms/signed-data.ts';

export class ScepHttpError extends Error {
  override readonly name = 'ScepHttpError';
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const withOp = (url: string, operation: string, message?: string) => {
  const u = new URL(url);
  u.searchParams.set('operation', operation);
  if (message !== undefined) u.searchParams.set('message', message);
  return u;
};

async function call(url: URL, init?: RequestInit): Promise<{ type: string; body: Uint8Array }> {
  let res: Response;
  try {
    // NOTE: one retry on a network error. A keep-alive connection that the server closed while
    // we were busy (a noble SLH-DSA signature can outlast Node's 5 s keep-alive timeout) fails
    // at once with "other side closed"; the retry opens a fresh one. Safe for PKIOperation too:
    // an exact replay gets the same answer and never a second certificate (RFC 8894 §3.3.1).
    res = await fetch(url, init).catch(() => fetch(url, init));
  } catch (err) {
    throw new ScepHttpError(0, `cannot reach ${url.origin}: ${((err as Error).cause as Error)?.message ?? (err as Error).message}`);
  }
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) throw new ScepHttpError(res.status, `HTTP ${res.status} from server: ${Buffer.from(body).toString('utf8').trim().slice(0, 200)}`);
  return { type: res.headers.get('content-type') ?? '', body };
}

export async function getCaps(url: string): Promise<string[]> {
  const { body } = await call(withOp(url, 'GetCACaps'));
  return Buffer.from(body).toString('utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
}

/** GetCACert (RFC 8894 §4.2): a lone DER certificate or a certs-only SignedData. */
export async function getCaCerts(url: string, caIdent?: string): Promise<{ certificates: Certificate[]; der: Uint8Array }> {
  const { type, body } = await call(withOp(url, 'GetCACert', caIdent));
  if (type.startsWith('application/x-x509-ca-cert')) return { certificates: [AsnConvert.parse(body, Certificate)], der: body };
  return { certificates: [...parseSignedData(body).certificates], der: body };
}

/** GetNextCACert (RFC 8894 §4.7): the raw SignedData (signed by the current CA). */
export async function getNextCaCert(url: string): Promise<Uint8Array> {
  return (await call(withOp(url, 'GetNextCACert'))).body;
}

export async function sendPkiMessage(url: string, der: Uint8Array, method: 'POST' | 'GET'): Promise<Uint8Array> {
  if (method === 'GET') return (await call(withOp(url, 'PKIOperation', Buffer.from(der).toString('base64')))).body;
  const init: RequestInit = { method: 'POST', body: Buffer.from(der), headers: { 'content-type': 'application/x-pki-message' } };
  return (await call(withOp(url, 'PKIOperation'), init)).body;
}
