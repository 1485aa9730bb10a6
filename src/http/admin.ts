/**
 * The admin API: the fleet operations of src/fleet/admin-ops.ts as JSON over HTTP, on a listener
 * of its own (never the SCEP port; loopback unless configured). Every request needs
 * `Authorization: Bearer <token>`, checked before routing so nothing is revealed without it.
 *
 *   GET  /fleets                                  list
 *   POST /fleets               {name, profile}    create
 *   GET  /fleets/:name/status?expiringDays=30     status (format=text: as the CLI prints it)
 *   POST /fleets/:name/profile {profile, at?, overlap?}
 *   POST /fleets/:name/rollback {overlap?}
 *   GET  /fleets/:name/dry-run?profile=P          (format=text: as the CLI prints it)
 *   GET  /profiles
 *   GET  /audit?from=N
 *   GET  /certificates?fleet=F&alg=A&expiringDays=30&revoked=1   inventory
 *   POST /certificates/:serial/revoke {reason}                  RFC 5280 §5.3.1 reason name
 *   GET  /metrics                                 the server's Prometheus metrics (unless --no-metrics)
 *
 * Errors are one JSON line, `{"error": "..."}`: 401 without the token, 400 for a malformed
 * request (or an unknown profile name), 413 for a body over 64 KiB, 404 for an unknown fleet or serial, 409 for a refused operation, 500 (logged, never a stack).
 * Changes are recorded with actor `admin-api@<remote address>` and applied (`afterChange`)
 * before the response is sent. Leaves out: CORS. TLS only with `--admin-tls` (else bind to loopback, or put a proxy in front).
 * @module
 */
import Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { FleetInputError, FleetNotFound, localAdmin, type FleetAdmin } from '../fleet/admin-ops.ts';
import { FleetError, type FleetContext } from '../fleet/fleet-ops.ts';
import type { Logger } from '../scep/env.ts';
import { ProtocolError } from '../scep/errors.ts';
import { queryParam, readBody } from './request.ts';

export interface AdminDeps {
  readonly fleets: FleetContext;
  readonly token: string;
  /** Applies a change to the running server (FleetManager.refresh). */
  readonly afterChange: () => Promise<void>;
  /** The server's `--allow-legacy` (dry-run judges with it). */
  readonly allowLegacy: boolean;
  readonly log: Logger;
  /** The SCEP listener's metrics exposition (src/http/metrics.ts); absent with --no-metrics. */
  readonly metrics?: () => Promise<{ contentType: string; body: string }>;
}

const MAX_BODY_BYTES = 64 * 1024;

class AdminHttpError extends Error {
  constructor(readonly status: 400 | 401 | 413, message: string) {
    super(message);
  }
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Bearer token check in constant time: both sides are hashed to 32 bytes first, so neither the
 * token's length nor its content leaks through timing.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const presented = /^Bearer ([^\s]+)\s*$/i.exec(header ?? '')?.[1] ?? '';
  return timingSafeEqual(sha256(presented), sha256(token)) && presented !== '';
}

/** The JSON body of a POST (an empty body is `{}`), checked against `schema`. */
async function body<T>(ctx: Context, schema: z.ZodType<T>): Promise<T> {
  let raw: Uint8Array;
  try {
    raw = await readBody(ctx.req, MAX_BODY_BYTES);
  } catch (err) {
    if (err instanceof ProtocolError) throw new AdminHttpError(err.status === 413 ? 413 : 400, err.message);
    throw err;
  }
  const text = Buffer.from(raw).toString('utf8').trim();
  let json: unknown;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new AdminHttpError(400, 'request body is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new AdminHttpError(400, parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return parsed.data;
}

function query(ctx: Context, name: string): string | undefined {
  try {
    return queryParam(ctx.querystring, name);
  } catch (err) {
    if (err instanceof ProtocolError) throw new AdminHttpError(400, err.message);
    throw err;
  }
}

const numberParam = (ctx: Context, name: string, fallback: number): number => {
  const text = query(ctx, name);
  if (text === undefined) return fallback;
  if (text.trim() === '' || !(Number(text) >= 0) || !Number.isFinite(Number(text))) throw new AdminHttpError(400, `${name} must be a non-negative number (got ${JSON.stringify(text.slice(0, 32))})`);
  return Number(text);
};

const CreateBody = z.strictObject({ name: z.string(), profile: z.string() });
const SwitchBody = z.strictObject({ profile: z.string(), at: z.string().optional(), overlap: z.string().optional() });
const RollbackBody = z.strictObject({ overlap: z.string().optional() });
const RevokeBody = z.strictObject({ reason: z.string().default('unspecified') });
const ChallengesBody = z.strictObject({ fleet: z.string().optional(), ttl: z.string().optional(), subjectPattern: z.string().optional(), count: z.number().int().optional() });
const RotateBody = z.strictObject({ overlap: z.string().optional() });
const RejectBody = z.strictObject({ reason: z.string() });
const ApproveBody = z.strictObject({});

/** `revoked=1|true|0|false` (absent: false). */
function flagParam(ctx: Context, name: string): boolean {
  const text = query(ctx, name);
  if (text === undefined || text === '0' || text === 'false') return false;
  if (text === '1' || text === 'true' || text === '') return true;
  throw new AdminHttpError(400, `${name} must be 1 or 0 (got ${JSON.stringify(text.slice(0, 32))})`);
}

/** Plain text when `format=text`, else JSON. */
async function answer(ctx: Context, json: () => Promise<unknown>, text: () => Promise<string>): Promise<void> {
  const format = query(ctx, 'format') ?? 'json';
  if (format !== 'json' && format !== 'text') throw new AdminHttpError(400, 'format must be json or text');
  if (format === 'text') {
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = await text();
  } else ctx.body = await json();
}

function adminRouter(admin: (ctx: Context) => FleetAdmin, metrics: AdminDeps['metrics']): Router {
  const r = new Router();
  if (metrics) {
    r.get('/metrics', async (ctx) => {
      const { contentType, body } = await metrics();
      ctx.type = contentType;
      ctx.body = body;
    });
  }
  r.get('/fleets', async (ctx) => void (ctx.body = await admin(ctx).fleets()));
  r.post('/fleets', async (ctx) => {
    const b = await body(ctx, CreateBody);
    ctx.body = await admin(ctx).create(b.name, b.profile);
    ctx.status = 201;
  });
  r.get('/fleets/:name/status', async (ctx) => {
    const days = numberParam(ctx, 'expiringDays', 30);
    await answer(ctx, () => admin(ctx).status(ctx.params.name, days), () => admin(ctx).statusText(ctx.params.name, days));
  });
  r.post('/fleets/:name/profile', async (ctx) => {
    const b = await body(ctx, SwitchBody);
    ctx.body = await admin(ctx).setProfile(ctx.params.name, b.profile, b);
  });
  r.post('/fleets/:name/rollback', async (ctx) => {
    ctx.body = await admin(ctx).rollback(ctx.params.name, await body(ctx, RollbackBody));
  });
  r.get('/fleets/:name/dry-run', async (ctx) => {
    const profile = query(ctx, 'profile');
    if (!profile) throw new AdminHttpError(400, 'profile query parameter is required, e.g. ?profile=pq-ml-dsa-65');
    await answer(ctx, () => admin(ctx).dryRun(ctx.params.name, profile), () => admin(ctx).dryRunText(ctx.params.name, profile));
  });
  r.get('/profiles', async (ctx) => void (ctx.body = await admin(ctx).profiles()));
  r.get('/audit', async (ctx) => void (ctx.body = await admin(ctx).audit(numberParam(ctx, 'from', 1))));
  r.get('/certificates', async (ctx) => {
    const days = query(ctx, 'expiringDays') === undefined ? undefined : numberParam(ctx, 'expiringDays', 0);
    ctx.body = await admin(ctx).certificates({ fleet: query(ctx, 'fleet'), alg: query(ctx, 'alg'), expiringDays: days, revoked: flagParam(ctx, 'revoked') });
  });
  r.post('/certificates/:serial/revoke', async (ctx) => {
    ctx.body = await admin(ctx).revoke(ctx.params.serial, (await body(ctx, RevokeBody)).reason);
  });
  r.post('/challenges', async (ctx) => {
    ctx.body = await admin(ctx).issueChallenges(await body(ctx, ChallengesBody));
    ctx.status = 201;
  });
  r.get('/fleets/:name/challenges', async (ctx) => void (ctx.body = await admin(ctx).challenges(ctx.params.name)));
  r.post('/fleets/:name/challenge/rotate', async (ctx) => {
    ctx.body = await admin(ctx).rotateChallenge(ctx.params.name, (await body(ctx, RotateBody)).overlap);
  });
  r.get('/requests', async (ctx) => void (ctx.body = await admin(ctx).requests({ fleet: query(ctx, 'fleet'), status: query(ctx, 'status') })));
  r.post('/requests/:id/approve', async (ctx) => {
    await body(ctx, ApproveBody);
    ctx.body = await admin(ctx).approve(ctx.params.id);
  });
  r.post('/requests/:id/reject', async (ctx) => {
    ctx.body = await admin(ctx).reject(ctx.params.id, (await body(ctx, RejectBody)).reason);
  });
  return r;
}

/** The status an error becomes; undefined for our own bugs (500). */
function statusOf(err: unknown): number | undefined {
  if (err instanceof AdminHttpError) return err.status;
  if (err instanceof FleetNotFound) return 404;
  if (err instanceof FleetInputError) return 400;
  if (err instanceof FleetError) return 409;
  return undefined;
}

/** Normalises `::ffff:127.0.0.1` to `127.0.0.1` for the audit actor. */
const addressOf = (ctx: Context) => (ctx.req.socket.remoteAddress ?? 'unknown').replace(/^::ffff:(?=\d+\.)/, '');

export function createAdminApp(deps: AdminDeps): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(async (ctx: Context, next: Next) => {
    try {
      if (!bearerMatches(ctx.get('Authorization') || undefined, deps.token)) {
        ctx.set('WWW-Authenticate', 'Bearer realm="pqscep admin"');
        throw new AdminHttpError(401, 'missing or wrong bearer token (Authorization: Bearer <token>)');
      }
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { error: `no admin endpoint ${ctx.method} ${ctx.path}` };
      } else if (ctx.status === 405 && ctx.body === undefined) {
        ctx.status = 405;
        ctx.body = { error: `${ctx.method} is not allowed on ${ctx.path} (allowed: ${ctx.response.get('Allow')})` };
      }
    } catch (err) {
      const status = statusOf(err);
      if (status === undefined) deps.log.error({ err, path: ctx.path }, 'admin API: unhandled error');
      else deps.log.warn({ status, reason: (err as Error).message, path: ctx.path, address: addressOf(ctx) }, 'admin API: request refused');
      ctx.status = status ?? 500;
      ctx.body = { error: status === undefined ? 'internal error' : (err as Error).message.split('\n').join('; ') };
    }
  });
  const router = adminRouter((ctx) => localAdmin(deps.fleets, `admin-api@${addressOf(ctx)}`, { afterChange: deps.afterChange, allowLegacy: deps.allowLegacy }), deps.metrics);
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));
  return app;
}
