/**
 * The server's logger: pino JSON lines on stdout (issue 6: structured logs), with `redact` as a
 * second line of defence for secrets. The first line is not logging them at all: no log call
 * passes a challenge password, private key, token or Authorization header; `redact` catches a
 * future call that passes one under an obvious name. Also `withFields`, which binds fields
 * (e.g. the fleet) to every line of a Logger without needing pino's `child`.
 * Leaves out: log files and rotation (stdout goes to journald, docker or a collector).
 * @module
 */
import { pino, type DestinationStream } from 'pino';
import type { Logger } from './scep/env.ts';

/** Field names that hold secrets, at the top level and one level down (pino redact paths). */
const SECRET_FIELDS = ['challenge', 'challengePassword', 'password', 'token', 'adminToken', 'privateKey', 'authorization', 'cookie'];
export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  'req.headers.authorization',
  'headers.authorization',
  'config.challenge',
  'config.adminToken',
];

export function createLogger(level: string, destination?: DestinationStream): pino.Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}

/** A Logger that adds `fields` to every line (a call's own fields win). */
export function withFields(log: Logger, fields: Record<string, unknown>): Logger {
  return {
    info: (obj, msg) => log.info({ ...fields, ...obj }, msg),
    warn: (obj, msg) => log.warn({ ...fields, ...obj }, msg),
    error: (obj, msg) => log.error({ ...fields, ...obj }, msg),
  };
}
