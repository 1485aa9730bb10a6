/**
 * One access log line per HTTP request (issue 6): method, path and query, status, milliseconds,
 * response bytes and the client address. The `message` query parameter is left out entirely: a
 * GET PKIOperation carries the whole pkiMessage there (up to megabytes of base64, with the
 * challenge password inside its encrypted envelope), and a GetCACert's CA-IDENT is not worth
 * the risk. Health checks and metric scrapes log at debug, so they do not drown the rest.
 * Leaves out: request and response headers (Authorization), bodies.
 * @module
 */
import type { Context, Next } from 'koa';

/** Subset of pino's logger this needs (debug is not in the SCEP Logger interface). */
export interface AccessLogger {
  info(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

const QUIET = new Set(['/healthz', '/metrics']);

/** The query string without any `message` parameter (raw, still percent-encoded). */
export function queryWithoutMessage(rawQuery: string): string {
  return rawQuery
    .split('&')
    .filter((pair) => pair !== '' && !/^message(=|$)/i.test(pair))
    .join('&');
}

export function accessLog(log: AccessLogger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const started = process.hrtime.bigint();
    // Read now: once a refused body has been cut off, the request has no socket any more.
    const address = ctx.ip;
    try {
      await next();
    } finally {
      logRequest(log, ctx, address, started);
    }
  };
}

/** Never throws: a failing log line must not turn an answer into a 500. */
function logRequest(log: AccessLogger, ctx: Context, address: string, started: bigint): void {
  try {
    const query = queryWithoutMessage(ctx.querystring);
    const line = {
      method: ctx.method,
      path: query ? `${ctx.path}?${query}` : ctx.path,
      status: ctx.status,
      ms: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
      bytes: ctx.length ?? 0,
      address,
    };
    if (QUIET.has(ctx.path)) log.debug?.(line, 'request');
    else log.info(line, 'request');
  } catch {
    // nothing sensible to do: the logger itself is what failed
  }
}
