/**
 * Server configuration: defaults, environment variables (PQSCEP_*), and validation with zod so
 * a mistake is reported as one line naming the setting and what is allowed.
 * @module
 */
import { z } from 'zod';

const DURATION = /^(\d+)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

const showMs = (ms: number) => (ms % 3_600_000 === 0 && ms > 0 ? `${ms / 3_600_000}h` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/** A duration as milliseconds: a number (ms) or text like 500ms, 30s, 2m, 1h; within [min, max]. */
const duration = (minMs: number, maxMs: number) =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const m = typeof value === 'string' ? DURATION.exec(value.trim()) : null;
    const ms = typeof value === 'number' ? value : m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : NaN;
    if (!Number.isInteger(ms) || ms < minMs || ms > maxMs) {
      ctx.addIssue({ code: 'custom', message: `must be a duration from ${showMs(minMs)} to ${showMs(maxMs)}, e.g. 30s or 2m (got ${JSON.stringify(value)})` });
      return z.NEVER;
    }
    return ms;
  });

/**
 * A whole number written in decimal digits (spaces around allowed), else NaN. NOTE: not
 * Number() (nor z.coerce.number()), which reads '0x10' as 16, '1e3' as 1000 and '' as 0, so
 * `--port 0x10` would listen on 16 and `--port ''` on a random port. The CLI reads its numbers so too.
 */
export const decimal = (text: string): number => (/^\s*\d+\s*$/.test(text) ? Number(text) : NaN);

/** A whole number within [min, max]: a number, or text of decimal digits ({@link decimal}). */
const wholeNumber = (min: number, max: number) =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const n = typeof value === 'number' ? value : decimal(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max} (got ${JSON.stringify(typeof value === 'string' ? value.slice(0, 32) : value)})` });
      return z.NEVER;
    }
    return n;
  });

export const ConfigSchema = z.object({
  port: wholeNumber(0, 65535).default(8080),
  host: z.string().min(1).default('127.0.0.1'),
  dataDir: z.string().min(1).default('data'),
  /** Static challenge password; generated and kept in the data folder when not given. */
  challenge: z.string().min(1).optional(),
  /** DES, 3DES and SHA-1 (RFC 8894 §3.5.2 DES3 / SHA-1): off unless asked for. */
  allowLegacy: z.boolean().default(false),
  /** Largest PKIOperation message (POST body or decoded GET message). */
  maxMessageBytes: wholeNumber(64 * 1024, 64 * 1024 * 1024).default(1024 * 1024),
  validityDays: wholeNumber(1, 3650).default(365),
  /** Extended key usages of issued certificates, as OIDs (default id-kp-clientAuth). */
  extendedKeyUsage: z.array(z.string().regex(/^\d+(\.\d+)+$/, 'must be a dotted OID')).default(['1.3.6.1.5.5.7.3.2']),
  approval: z.enum(['auto', 'manual']).default('auto'),
  crlValidityHours: wholeNumber(1, 24 * 365).default(24),
  /** Key type of the CA (`--ca-alg`), e.g. rsa-2048, ecdsa-p256, ml-dsa-65; overrides the profile's. */
  caKeyType: z.string().min(1).optional(),
  /** Key types of the RA certificates (`--ra-alg`, repeatable); overrides the profile's. */
  raKeyTypes: z.array(z.string().min(1)).min(1).optional(),
  /** Profile of the default fleet (`--profile`); without one, every registered algorithm is allowed. */
  profile: z.string().min(1).optional(),
  /** Where profiles are read from (`--profiles`); default the package's profiles/ folder. */
  profilesDir: z.string().min(1).optional(),
  /** Post-quantum implementation: native node:crypto where the runtime has it, or noble. */
  pqBackend: z.enum(['auto', 'native', 'noble']).default('auto'),
  /** How replies reach post-quantum clients (docs/pqc-scep.md §5). */
  pqReplyEnvelope: z.enum(['require-kem', 'allow-classical']).default('require-kem'),
  /**
   * Threads answering PKIOperation (`--workers`): the main thread plus `workers - 1` worker
   * threads (src/scep/pki-pool.ts). 1 keeps everything on the main thread. `pqscep serve`
   * defaults to the number of cores; embedding code and tests get 1 unless they ask.
   */
  workers: wholeNumber(1, 64).default(1),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'silent']).default('info'),
  /** The admin API (fleets, profiles, audit) on its own listener; `--no-admin` turns it off. */
  admin: z.boolean().default(true),
  /**
   * Its port (`--admin-port`); 0 picks a free one. Default: the SCEP port + 1 (8081 next to the
   * default 8080), or a free one when the SCEP port is 0.
   */
  adminPort: wholeNumber(0, 65535).optional(),
  /** Its address (`--admin-host`): loopback unless configured, so only local users reach it. */
  adminHost: z.string().min(1).default('127.0.0.1'),
  /** Its bearer token (`--admin-token`); generated once and kept in `<data>/admin-token.txt` when not given. */
  adminToken: z.string().min(16, 'must be at least 16 characters').regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').optional(),
  /** Prometheus metrics at /metrics (`--no-metrics` turns them off). */
  metrics: z.boolean().default(true),
  /** Requests per client address (`--rate-limit 10/s`, `600/min`); off by default (behind a proxy every client shares one address). */
  rateLimitPerAddress: z.string().regex(/^\s*[1-9]\d*\s*\/\s*(s|sec|second|m|min|minute)\s*$/i, 'must be N/s or N/min with N >= 1, e.g. 10/s').optional(),
  /** Take the client address from X-Forwarded-For (the entry the nearest proxy added). */
  trustProxy: z.boolean().default(false),
  /** Longest time to receive a whole request (`--request-timeout`, ms); headers get min(30 s, this). */
  requestTimeout: duration(1000, 3_600_000).default(60_000),
  /** How long shutdown waits for requests in progress (`--shutdown-timeout`, ms). */
  shutdownTimeout: duration(0, 3_600_000).default(10_000),
  /** HTTPS for the SCEP listener: PEM certificate (chain) and key files, both or neither. */
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  /** The admin API over HTTPS too, with the same certificate and key (`--admin-tls`). */
  adminTls: z.boolean().default(false),
});
export type ServerConfig = z.infer<typeof ConfigSchema>;

/**
 * A PQSCEP_* switch: 1, true, yes or on (any case) turn it on; 0, false, no or off turn it off.
 * Anything else is a mistake, refused rather than read as off.
 */
function yes(name: string, value: string): boolean {
  const v = value.toLowerCase(); // trimmed by configFromEnv
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`invalid setting ${name}: must be 1, true, yes, on or 0, false, no, off (got ${JSON.stringify(value.slice(0, 32))})`);
}

/**
 * Settings read from the environment; CLI flags override them. Surrounding whitespace is dropped
 * (env files written on Windows end every value in \r), and a blank value counts as unset, like
 * an empty one (`docker run -e PQSCEP_PORT=`). NOTE: the secrets are taken exactly as given.
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<Record<keyof ServerConfig, unknown>> {
  const out: Partial<Record<keyof ServerConfig, unknown>> = {};
  const setting = (name: string): string | undefined => env[name]?.trim() || undefined;
  const set = (key: keyof ServerConfig, name: string) => {
    const value = setting(name);
    if (value !== undefined) out[key] = value;
  };
  set('port', 'PQSCEP_PORT');
  set('host', 'PQSCEP_HOST');
  set('dataDir', 'PQSCEP_DATA');
  if (env.PQSCEP_CHALLENGE) out.challenge = env.PQSCEP_CHALLENGE;
  set('adminPort', 'PQSCEP_ADMIN_PORT');
  set('adminHost', 'PQSCEP_ADMIN_HOST');
  if (env.PQSCEP_ADMIN_TOKEN) out.adminToken = env.PQSCEP_ADMIN_TOKEN;
  set('rateLimitPerAddress', 'PQSCEP_RATE_LIMIT');
  const setSwitch = (key: keyof ServerConfig, name: string) => {
    const value = setting(name);
    if (value !== undefined) out[key] = yes(name, value);
  };
  setSwitch('trustProxy', 'PQSCEP_TRUST_PROXY');
  set('tlsCert', 'PQSCEP_TLS_CERT');
  set('tlsKey', 'PQSCEP_TLS_KEY');
  set('workers', 'PQSCEP_WORKERS');
  set('pqBackend', 'PQSCEP_PQ_BACKEND');
  setSwitch('allowLegacy', 'PQSCEP_ALLOW_LEGACY');
  return out;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Validates merged settings; throws ConfigError with one line per problem. */
export function parseConfig(input: Record<string, unknown>): ServerConfig {
  const clean = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const result = ConfigSchema.safeParse(clean);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `invalid setting ${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new ConfigError(lines.join('\n'));
}

/** The admin API's port: `adminPort`, else the SCEP port + 1 (a free one when the SCEP port is 0). */
export function adminPortOf(config: ServerConfig): number {
  if (config.adminPort !== undefined) return config.adminPort;
  return config.port === 0 || config.port === 65535 ? 0 : config.port + 1;
}
