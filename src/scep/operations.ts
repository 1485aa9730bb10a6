/**
 * The SCEP operations (RFC 8894 §3.5, §4) as one dispatch table: which HTTP methods each
 * accepts and what it answers. Transport-neutral: the HTTP layer hands in the operation name,
 * method and message bytes and gets back a content type and body.
 * @module
 */
import { certsOnly, signData } from '../cms/signed-data-build.ts';
import { capabilities } from './capabilities.ts';
import { caCertificates, type ScepEnv } from './env.ts';
import { ProtocolError } from './errors.ts';
import { ContentType } from './message.ts';
import { pkiOperation, type Observe } from './pki-operation.ts';
import type { PkiRunner } from './pki-pool.ts';
import type { ClientInfo } from './client-record.ts';
import { replySignature } from './pki-message.ts';

export interface ScepRequest {
  readonly operation: string | undefined;
  readonly method: string;
  /** PKIOperation message bytes (GET: decoded `message` parameter; POST: the body). */
  readonly message?: Uint8Array;
  /** The `message` parameter of the other operations: a CA identifier (RFC 8894 §4.2.1). */
  readonly caIdent?: string;
  /** Who sent it, for the client compatibility record (client-record.ts); absent outside HTTP. */
  readonly client?: ClientInfo;
  /** Told what a PKIOperation came to (metrics); optional. */
  readonly observe?: Observe;
}

export interface ScepResponse {
  readonly contentType: string;
  readonly body: Uint8Array | string;
}

type Handle = (request: ScepRequest, env: ScepEnv, run: PkiRunner) => Promise<ScepResponse>;

export const OPERATIONS = Object.freeze({
  GetCACaps: { methods: ['GET'], handle: getCACaps },
  GetCACert: { methods: ['GET'], handle: getCACert },
  GetNextCACert: { methods: ['GET'], handle: getNextCACert },
  PKIOperation: { methods: ['GET', 'POST'], handle: postPkiOperation },
} as const satisfies Record<string, { methods: readonly string[]; handle: Handle }>);
export type Operation = keyof typeof OPERATIONS;

/** `run` answers PKIOperation: in this thread by default, or through a worker pool (pki-pool.ts). */
export function dispatch(request: ScepRequest, env: ScepEnv, run: PkiRunner = pkiOperation): Promise<ScepResponse> {
  const name = request.operation;
  if (!name) throw new ProtocolError(400, 'missing operation parameter');
  // Operation names are case-sensitive in RFC 8894 §4.1, but some clients vary the case.
  const op = (Object.keys(OPERATIONS) as Operation[]).find((k) => k.toLowerCase() === name.toLowerCase());
  if (!op) throw new ProtocolError(400, `unknown operation ${JSON.stringify(name.slice(0, 40))}`);
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  if (!(OPERATIONS[op].methods as readonly string[]).includes(method)) throw new ProtocolError(405, `${op} does not accept ${request.method}`);
  return OPERATIONS[op].handle(request, env, run);
}

/** RFC 8894 §3.5.2: one keyword per line. Notes the fetch for the client record (never fails the answer). */
async function getCACaps(request: ScepRequest, env: ScepEnv): Promise<ScepResponse> {
  const address = request.client?.address;
  if (address) {
    try {
      env.store.recordCapsFetch(env.fleet, address, new Date());
    } catch (err) {
      env.log.warn({ err, fleet: env.fleet }, 'GetCACaps fetch not recorded');
    }
  }
  const keywords = capabilities(env.registry, env.policy, { nextCaCert: env.nextCa !== undefined, raKeys: env.ras.map((ra) => ra.key.spki) });
  return { contentType: ContentType.caps, body: keywords.join('\n') + '\n' };
}

/**
 * RFC 8894 §4.2.1: a lone CA certificate, or with an RA a certs-only SignedData holding the RA
 * and CA certificates (clients given a lone certificate would take it for the RA and could not
 * verify replies).
 */
async function getCACert(request: ScepRequest, env: ScepEnv): Promise<ScepResponse> {
  const chain = caCertificates(env.ca, env.ras, request.caIdent, env.registry);
  if (chain.length === 1) return { contentType: ContentType.caCert, body: env.ca.der };
  return { contentType: ContentType.caRaCert, body: certsOnly(chain) };
}

/** RFC 8894 §4.7: the next CA (and RA) certificates in a SignedData signed by the current CA. */
async function getNextCACert(request: ScepRequest, env: ScepEnv): Promise<ScepResponse> {
  const next = env.nextCa;
  if (!next) throw new ProtocolError(404, 'no next CA certificate is staged');
  const certs = caCertificates(next.ca, next.ras, request.caIdent, env.registry);
  const body = await signData({
    content: certsOnly(certs),
    signerCertificate: env.ca.certificate,
    key: env.ca.key,
    signature: replySignature(env.ca.certificate, env.registry),
    digest: env.registry.byName('digest', replySignature(env.ca.certificate, env.registry).cmsDigest ?? 'SHA-256'),
    attributes: [],
    certificates: [env.ca.certificate],
  });
  return { contentType: ContentType.nextCaCert, body };
}

async function postPkiOperation(request: ScepRequest, env: ScepEnv, run: PkiRunner): Promise<ScepResponse> {
  if (!request.message?.length) throw new ProtocolError(400, 'PKIOperation without a message');
  return { contentType: ContentType.pkiMessage, body: await run(request.message, env, request.client, request.observe) };
}
