/**
 * RFC 8894 §4.1 HTTP binding on Koa: GET and POST on `/scep` and `/cgi-bin/pkiclient.exe`
 * (plus `/scep/<fleet>` routes for named fleets), `operation` query parameter. Decodes the
 * transport, calls the transport-neutral dispatcher and writes its answer; `ctx` stops here.
 * Also publishes each fleet's CRL at `GET /crl/<fleet>.crl` (DER, application/pkix-crl,
 * RFC 5280 §4.2.1.13 / RFC 2585 §4.2): the URL a profile's certificate.crlDistributionPoint names.
 * @module
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import { dispatch, type ScepResponse } from '../scep/operations.ts';
import { currentCrlDer } from '../scep/queries.ts';
import type { ScepEnv } from '../scep/env.ts';
import { ProtocolError } from '../scep/errors.ts';
import type { PkiObservation } from '../scep/pki-operation.ts';
import { operationLabel, requestFacts } from './metrics.ts';
import type { PkiRunner } from '../scep/pki-pool.ts';
import { decodeBase64Message, postedMessage, queryParam, readBody } from './request.ts';

export interface HttpOptions {
  /** Largest POST body, and largest GET `message`, in bytes. */
  readonly maxMessageBytes: number;
  /** Who answers PKIOperation (default: this thread; the server passes its worker pool). */
  readonly pkiOperation?: PkiRunner;
}

export const SCEP_PATHS = ['/scep', '/cgi-bin/pkiclient.exe', '/scep/pkiclient.exe'];

export function scepRouter(environment: (fleet: string) => ScepEnv | undefined, options: HttpOptions): Router {
  const router = new Router();
  const handle = async (ctx: Context, fleet: string) => {
    const env = environment(fleet);
    const facts = requestFacts(ctx);
    const operation = queryParam(ctx.querystring, 'operation');
    facts.operation = operationLabel(operation);
    if (!env) throw new ProtocolError(404, `no fleet named ${JSON.stringify(fleet.slice(0, 64))}`);
    facts.fleet = env.fleet; // only fleets that exist become metric labels
    let message: Uint8Array | undefined;
    let caIdent: string | undefined;
    if (ctx.method === 'POST') message = postedMessage(await readBody(ctx.req, options.maxMessageBytes));
    else if (operation?.toLowerCase() !== 'pkioperation') caIdent = queryParam(ctx.querystring, 'message')?.slice(0, 256);
    else {
      const text = queryParam(ctx.querystring, 'message');
      if (text === undefined) throw new ProtocolError(400, 'PKIOperation GET without a message parameter');
      if (text.length > Math.ceil(options.maxMessageBytes / 3) * 4 + 64) throw new ProtocolError(413, 'message parameter exceeds the size limit');
      message = decodeBase64Message(text);
    }
    const client = { address: ctx.ip, method: ctx.method }; // for the client compatibility record
    const observe = (pki: PkiObservation) => void (facts.pki = pki);
    send(ctx, await dispatch({ operation, method: ctx.method, message, caIdent, client, observe }, env, options.pkiOperation));
  };
  for (const path of SCEP_PATHS) {
    router.get(path, (ctx) => handle(ctx, 'default'));
    router.post(path, (ctx) => handle(ctx, 'default'));
  }
  for (const path of ['/scep/:fleet', '/scep/:fleet/pkiclient.exe']) {
    router.get(path, (ctx) => handle(ctx, ctx.params.fleet));
    router.post(path, (ctx) => handle(ctx, ctx.params.fleet));
  }
  router.get('/crl/:file', async (ctx) => {
    const fleet = /^(.+)\.crl$/.exec(ctx.params.file)?.[1];
    const env = fleet === undefined ? undefined : environment(fleet);
    requestFacts(ctx).operation = 'crl';
    if (env) requestFacts(ctx).fleet = env.fleet;
    if (!env) throw new ProtocolError(404, `no CRL named ${JSON.stringify(ctx.params.file.slice(0, 64))}; use /crl/<fleet>.crl`);
    // RFC 2585 §4.2: application/pkix-crl; the cached CRL changes with every revocation.
    send(ctx, { contentType: 'application/pkix-crl', body: await currentCrlDer(env) });
    ctx.set('Cache-Control', 'no-cache');
  });
  return router;
}

function send(ctx: Context, response: ScepResponse): void {
  ctx.status = 200;
  ctx.type = response.contentType;
  ctx.body = typeof response.body === 'string' ? response.body : Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength);
}
