/**
 * Rate limit per client address (issue 6): a token bucket per address holding up to N tokens,
 * refilled at N per second or minute, one token per request. An empty bucket answers HTTP 429
 * with `Retry-After` (RFC 9110 §10.2.3, seconds) and a one-line body. The address is Koa's
 * `ctx.ip`: the socket peer, or with `--trust-proxy` the address the nearest proxy appended to
 * X-Forwarded-For. Behind a proxy without `--trust-proxy` every client shares the proxy's
 * address, and so one bucket; that is why the limit is off by default.
 * Memory stays bounded: buckets that have refilled completely are dropped once there are many.
 * Leaves out: per-challenge limits (the challenge validators' job), limits shared between
 * processes.
 * @module
 */
import type { Context, Next } from 'koa';

export interface RateLimit {
  /** Requests allowed per `periodMs` (and the burst size). */
  readonly requests: number;
  readonly periodMs: number;
}

export const RATE_LIMIT_FORMAT = /^\s*(\d+)\s*\/\s*(s|sec|second|m|min|minute)\s*$/i;

/** Parses "N/s" or "N/min" (the config schema has already checked the format). */
export function parseRateLimit(text: string): RateLimit {
  const m = RATE_LIMIT_FORMAT.exec(text);
  if (!m || Number(m[1]) < 1) throw new Error(`invalid rate limit ${JSON.stringify(text)}: use N/s or N/min, N >= 1`);
  return { requests: Number(m[1]), periodMs: m[2].toLowerCase().startsWith('s') ? 1000 : 60_000 };
}

interface Bucket {
  tokens: number;
  at: number;
}

const SWEEP_AT = 10_000;

/** Takes a token for `key`; returns 0 when allowed, else the milliseconds until one is available. */
export function tokenBuckets(limit: RateLimit, now: () => number = Date.now) {
  const buckets = new Map<string, Bucket>();
  const perMs = limit.requests / limit.periodMs;
  const refill = (b: Bucket, t: number) => {
    b.tokens = Math.min(limit.requests, b.tokens + (t - b.at) * perMs);
    b.at = t;
  };
  return (key: string): number => {
    const t = now();
    if (buckets.size >= SWEEP_AT) {
      for (const [k, b] of buckets) {
        refill(b, t);
        if (b.tokens >= limit.requests) buckets.delete(k);
      }
    }
    let bucket = buckets.get(key);
    if (!bucket) buckets.set(key, (bucket = { tokens: limit.requests, at: t }));
    refill(bucket, t);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / perMs);
  };
}

export function rateLimitMiddleware(limit: RateLimit, now?: () => number) {
  const take = tokenBuckets(limit, now);
  const per = limit.periodMs === 1000 ? 's' : 'min';
  return async (ctx: Context, next: Next): Promise<void> => {
    const waitMs = take(ctx.ip);
    if (waitMs === 0) return next();
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    ctx.status = 429;
    ctx.set('Retry-After', String(seconds));
    ctx.type = 'text/plain';
    ctx.body = `too many requests: the limit is ${limit.requests}/${per} per client address; retry after ${seconds} s\n`;
  };
}
