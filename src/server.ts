/**
 * Starts a pqscep server from a validated configuration: data folder (CA, RA, challenge,
 * SQLite store), the SCEP environment, and an HTTP listener whose header limit admits GET
 * PKIOperation URLs as large as the message limit (RFC 8894 §4.3; post-quantum requests do not
 * fit the usual 8-16 KB). Used by `pqscep serve` and by the tests.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import { ALGORITHMS } from '../algorithms/index.ts';
import { createApp } from './app.ts';
import { loadOrCreateCa } from './ca/bootstrap.ts';
import { ConfigError, type ServerConfig } from './config.ts';
import { setPqBackend } from './crypto/backend.ts';
import type { Registry } from './crypto/registry.ts';
import type { KeyType } from './crypto/types.ts';
import { createRegistry } from './crypto/registry.ts';
import { staticChallenge } from './policy/challenge.ts';
import type { Logger, ScepEnv } from './scep/env.ts';
import { openSqliteStore } from './store/sqlite-store.ts';

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly env: ScepEnv;
  readonly challenge: string;
  /** True when this start created the CA (first start on an empty data folder). */
  readonly created: boolean;
  close(): Promise<void>;
}

/** The challenge password: configured, or generated once and kept in the data folder. */
function loadOrCreateChallenge(dir: string): string {
  const file = join(dir, 'challenge.txt');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(12).toString('base64url');
  writeFileSync(`${file}.tmp`, `${secret}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return secret;
}

/** `--ca-alg` must name a key type that signs, each `--ra-alg` one that can receive or sign. */
function checkKeyTypes(config: ServerConfig, registry: Registry): void {
  const keyTypes = registry.list('key');
  const names = (ok: (k: KeyType) => boolean) => keyTypes.filter(ok).map((k) => k.name).join(', ');
  const ca = keyTypes.find((k) => k.name === config.caKeyType);
  if (!ca?.usages.includes('sign')) throw new ConfigError(`invalid setting caKeyType (--ca-alg): ${config.caKeyType} is not one of ${names((k) => k.usages.includes('sign'))}`);
  for (const name of config.raKeyTypes) {
    if (!keyTypes.some((k) => k.name === name)) throw new ConfigError(`invalid setting raKeyTypes (--ra-alg): ${name} is not one of ${names(() => true)}`);
  }
}

export async function startServer(config: ServerConfig, log: Logger = pino({ level: config.logLevel })): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  setPqBackend(config.pqBackend);
  const registry = createRegistry(ALGORITHMS, { allowLegacy: config.allowLegacy });
  checkKeyTypes(config, registry);
  const { ca, ras, created } = await loadOrCreateCa(config.dataDir, registry, { caKeyType: config.caKeyType, raKeyTypes: config.raKeyTypes });
  const nextDir = join(config.dataDir, 'next');
  const nextCa = existsSync(join(nextDir, 'ca.pem')) ? await loadOrCreateCa(nextDir, registry, { raKeyTypes: config.raKeyTypes }) : undefined;
  const store = openSqliteStore(join(config.dataDir, 'pqscep.db'));
  const challenge = config.challenge ?? loadOrCreateChallenge(config.dataDir);
  const env: ScepEnv = Object.freeze({
    registry,
    ca,
    ras,
    nextCa: nextCa ? { ca: nextCa.ca, ras: nextCa.ras } : undefined,
    previousCas: [],
    store,
    challenge: staticChallenge(challenge),
    issuance: { validityDays: config.validityDays, extendedKeyUsage: config.extendedKeyUsage },
    approval: config.approval,
    pqReplyEnvelope: config.pqReplyEnvelope,
    crlValidityHours: config.crlValidityHours,
    log,
  });
  const app = createApp((fleet) => (fleet === 'default' ? env : undefined), { maxMessageBytes: config.maxMessageBytes }, log);
  const server: Server = createServer({ maxHeaderSize: Math.ceil(config.maxMessageBytes * 1.4) + 64 * 1024 }, app.callback());
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `http://${host}:${port}/scep`,
    port,
    env,
    challenge,
    created,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      store.close();
    },
  };
}
