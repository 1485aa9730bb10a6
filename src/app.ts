/**
 * createApp: the Koa application, pure wiring. Outermost first: shutdown drain, access log,
 * /healthz and /metrics (never rate-limited, so probes and scrapes keep working), metrics,
 * the per-address rate limit, error middleware, the SCEP router.
 * createAdminApp: the admin API's application (src/http/admin.ts), served on its own listener.
 * No I/O at import time; the server (src/server.ts) owns sockets, files and the store.
 * @module
 */
import Koa, { type Context, type Next } from 'koa';
import { accessLog, type AccessLogger } from './http/access-log.ts';
import { createAdminApp as adminApp, type AdminDeps } from './http/admin.ts';
import { errorMiddleware } from './http/errors.ts';
import type { Drain } from './http/listener.ts';
import type { ServerMetrics } from './http/metrics.ts';
import { rateLimitMiddleware, type RateLimit } from './http/rate-limit.ts';
import { scepRouter, type HttpOptions } from './http/router.ts';
import type { Logger, ScepEnv } from './scep/env.ts';

export interface AppOptions extends HttpOptions {
  /** Serves /metrics and counts requests; absent with `--no-metrics`. */
  readonly metrics?: ServerMetrics;
  /** `--rate-limit`; absent: no limit. */
  readonly rateLimit?: RateLimit;
  /** `--trust-proxy`: the client address is the one the nearest proxy put in X-Forwarded-For. */
  readonly trustProxy?: boolean;
  readonly drain?: Drain;
}

export function createApp(environment: (fleet: string) => ScepEnv | undefined, options: AppOptions, log: Logger & AccessLogger): Koa {
  const app = new Koa();
  app.silent = true; // errors are logged by errorMiddleware, never printed with stacks to clients
  if (options.trustProxy) {
    app.proxy = true;
    app.maxIpsCount = 1; // the last X-Forwarded-For entry: the one our proxy added, not one the client made up
  }
  if (options.drain) app.use(options.drain.middleware());
  app.use(accessLog(log));
  const metrics = options.metrics;
  app.use(async (ctx: Context, next: Next) => {
    if (ctx.path === '/healthz') {
      ctx.type = 'text/plain';
      ctx.body = 'ok\n';
      return;
    }
    if (ctx.path === '/metrics' && metrics && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
      const { contentType, body } = await metrics.exposition();
      ctx.type = contentType;
      ctx.body = body;
      return;
    }
    await next();
  });
  if (metrics) app.use(metrics.middleware());
  if (options.rateLimit) app.use(rateLimitMiddleware(options.rateLimit));
  app.use(errorMiddleware(log));
  const router = scepRouter(environment, options);
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));
  return app;
}

/** The admin API (fleets, profiles, audit, /metrics) behind a bearer token; never mounted on the SCEP app. */
export function createAdminApp(deps: AdminDeps, drain?: Drain): Koa {
  const app = adminApp(deps);
  if (drain) app.middleware.unshift(drain.middleware()); // outermost, so shutdown waits for admin changes too
  return app;
}
