/**
 * createApp: the Koa application, pure wiring (error middleware + SCEP router + health), and
 * createAdminApp: the admin API's application (src/http/admin.ts), served on its own listener.
 * No I/O at import time; the server (src/server.ts) owns sockets, files and the store.
 * @module
 */
import Koa from 'koa';
import { createAdminApp as adminApp, type AdminDeps } from './http/admin.ts';
import { errorMiddleware } from './http/errors.ts';
import { scepRouter, type HttpOptions } from './http/router.ts';
import type { Logger, ScepEnv } from './scep/env.ts';

export function createApp(environment: (fleet: string) => ScepEnv | undefined, options: HttpOptions, log: Logger): Koa {
  const app = new Koa();
  app.silent = true; // errors are logged by errorMiddleware, never printed with stacks to clients
  app.use(errorMiddleware(log));
  app.use(async (ctx, next) => {
    if (ctx.path === '/healthz') {
      ctx.type = 'text/plain';
      ctx.body = 'ok\n';
      return;
    }
    await next();
  });
  const router = scepRouter(environment, options);
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));
  return app;
}

/** The admin API (fleets, profiles, audit) behind a bearer token; never mounted on the SCEP app. */
export function createAdminApp(deps: AdminDeps): Koa {
  return adminApp(deps);
}
