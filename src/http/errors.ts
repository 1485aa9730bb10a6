/**
 * The only place errors become HTTP statuses. A ProtocolError is a client mistake: its status
 * and one-line reason (RFC 8894 §4: no CertRep can be built yet). Anything else is our bug:
 * logged with its stack, answered with a generic 500 line and never the stack itself.
 * @module
 */
import type { Context, Next } from 'koa';
import { ProtocolError } from '../scep/errors.ts';
import type { Logger } from '../scep/env.ts';

export function errorMiddleware(log: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.type = 'text/plain';
        ctx.body = 'not found: SCEP is served at /scep and /cgi-bin/pkiclient.exe\n';
      }
    } catch (err) {
      ctx.type = 'text/plain';
      if (err instanceof ProtocolError) {
        ctx.status = err.status;
        ctx.body = `${err.message}\n`;
        log.warn({ status: err.status, reason: err.message, path: ctx.path }, 'request rejected');
        return;
      }
      ctx.status = 500;
      ctx.body = 'internal error\n';
      log.error({ err, path: ctx.path }, 'unhandled error');
    }
  };
}
