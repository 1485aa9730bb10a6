/**
 * Starts a pqscep server from a validated configuration: data folder (CA, RA, challenge,
 * SQLite store), the SCEP environment, an HTTP listener whose header limit admits GET
 * PKIOperation URLs as large as the message limit (RFC 8894 §4.3; post-quantum requests do not
 * fit the usual 8-16 KB), and the admin API on a second listener (loopback by default, bearer
 * token from the configuration or `<data>/admin-token.txt`). HTTPS, time limits and the
 * shutdown drain are src/http/listener.ts; metrics src/http/metrics.ts. Used by `pqscep serve`
 * and by the tests.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { fileInTheWay } from './fs-reasons.ts';
import { ALGORITHMS } from '../algorithms/index.ts';
import { createAdminApp, createApp } from './app.ts';
import { createListener, Drain, loadTls } from './http/listener.ts';
import { ServerMetrics } from './http/metrics.ts';
import { parseRateLimit } from './http/rate-limit.ts';
import { createLogger } from './log.ts';
import { answerClientErrors } from './http/client-error.ts';
import { toPem } from './ca/pem.ts';
import { FleetManager } from './fleet/fleet-manager.ts';
import { setProfile } from './fleet/fleet-ops.ts';
import { resolveProfiles } from './server-profiles.ts';
import { adminPortOf, ConfigError, type ServerConfig } from './config.ts';
import { setPqBackend } from './crypto/backend.ts';
import type { Registry } from './crypto/registry.ts';
import type { KeyType } from './crypto/types.ts';
import { createRegistry } from './crypto/registry.ts';
import type { Logger, ScepEnv } from './scep/env.ts';
import { openSqliteStore } from './store/sqlite-store.ts';
import { PkiPool } from './scep/pki-pool.ts';
import { deferringStore } from './store/group-commit.ts';

/** Where the admin API listens, and the token it wants. */
export interface AdminEndpoint {
  /** Base URL without a path, e.g. http://127.0.0.1:8081 */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  /** The file the token was read from or generated into; undefined when it was configured. */
  readonly tokenFile?: string;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** The default fleet's current environment. */
  readonly env: ScepEnv;
  readonly fleets: FleetManager;
  readonly challenge: string;
  /** Fleets whose profile accepts the static challenge, and whether each was rotated away from `challenge`. */
  readonly staticChallengeFleets: readonly { readonly fleet: string; readonly rotated: boolean }[];
  /** True when this start created the CA (first start on an empty data folder). */
  readonly created: boolean;
  /** The admin API; undefined with `--no-admin`. */
  readonly admin?: AdminEndpoint;
  close(): Promise<void>;
}

/** A secret generated once (`bytes` random bytes, base64url) and kept in `file`, mode 0600. */
function loadOrCreateSecret(file: string, bytes: number): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(bytes).toString('base64url');
  writeFileSync(`${file}.tmp`, `${secret}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return secret;
}

/** The admin token: configured, or generated once (256 bits) and kept in `<data>/admin-token.txt`. */
function adminToken(config: ServerConfig): { token: string; tokenFile?: string } {
  if (config.adminToken) return { token: config.adminToken };
  const tokenFile = join(config.dataDir, 'admin-token.txt');
  const token = loadOrCreateSecret(tokenFile, 32);
  if (token.length < 16) throw new ConfigError(`admin token file ${tokenFile} holds fewer than 16 characters; delete it to generate a new token`);
  return { token, tokenFile };
}

const hostInUrl = (host: string) => (host.includes(':') ? `[${host}]` : host);

/** Why a listener could not bind, in words (the errno code kept for scripts), and which option to change. */
const LISTEN_ERRORS: Readonly<Record<string, readonly [reason: string, change: 'port' | 'host']>> = Object.freeze({
  EADDRINUSE: ['address already in use', 'port'],
  EACCES: ['permission denied (ports below 1024 need privileges)', 'port'],
  EADDRNOTAVAIL: ['no such address on this machine', 'host'],
  ENOTFOUND: ['no such host', 'host'],
  EAI_AGAIN: ['the host name could not be resolved now', 'host'],
});

/** A listener that could not bind as one ConfigError line naming the options, e.g. `--host, --port`. */
function listenError(err: NodeJS.ErrnoException, what: string, host: string, port: number, options: { host: string; port: string; more?: string }): ConfigError {
  const known = LISTEN_ERRORS[err.code ?? ''];
  const reason = known ? `${known[0]} (${err.code})` : err.message.split('\n')[0];
  const change = `choose another ${known?.[1] === 'host' ? options.host : options.port}${options.more ?? ''}`;
  return new ConfigError(`${what} on ${host}:${port} (${options.host}, ${options.port}): ${reason}; ${change}`);
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

/** `--ca-alg` must name a key type that signs, each `--ra-alg` one that can receive or sign. */
function checkKeyTypes(config: ServerConfig, registry: Registry): void {
  const keyTypes = registry.list('key');
  const names = (ok: (k: KeyType) => boolean) => keyTypes.filter(ok).map((k) => k.name).join(', ');
  const ca = keyTypes.find((k) => k.name === config.caKeyType);
  if (config.caKeyType && !ca?.usages.includes('sign')) throw new ConfigError(`invalid setting caKeyType (--ca-alg): ${config.caKeyType} is not one of ${names((k) => k.usages.includes('sign'))}`);
  for (const name of config.raKeyTypes ?? []) {
    if (!keyTypes.some((k) => k.name === name)) throw new ConfigError(`invalid setting raKeyTypes (--ra-alg): ${name} is not one of ${names(() => true)}`);
  }
}

/**
 * Keeps `data/ca.pem` equal to the default fleet's current CA certificate, for operators and
 * clients that pin it (`openssl verify -CAfile data/ca.pem`); keys stay in `data/ca/<key type>/`.
 */
function publishCaCertificate(dataDir: string, env: ScepEnv | undefined): void {
  if (!env) return;
  const file = join(dataDir, 'ca.pem');
  const pem = toPem('CERTIFICATE', env.ca.der);
  if (existsSync(file) && readFileSync(file, 'utf8') === pem) return;
  writeFileSync(`${file}.tmp`, pem);
  renameSync(`${file}.tmp`, file);
}

export { DEFAULT_PROFILES_DIR } from './server-profiles.ts';

/** Makes the data folder (0700); a file in its way is a configuration mistake named in one line. */
function makeDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const reason = fileInTheWay(dir) ?? `cannot create ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    throw new ConfigError(`invalid setting dataDir (--data): ${reason}`);
  }
}

export async function startServer(config: ServerConfig, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  // Every check that needs no data folder comes first, so a mistake leaves none behind.
  setPqBackend(config.pqBackend);
  checkKeyTypes(config, createRegistry(ALGORITHMS, { allowLegacy: true }));
  const tls = loadTls(config.tlsCert, config.tlsKey);
  if (config.adminTls && !tls) throw new ConfigError('invalid setting adminTls (--admin-tls): needs --tls-cert and --tls-key, whose certificate and key it uses');
  const { profiles, defaultProfile, explicit } = resolveProfiles(config);
  makeDataDir(config.dataDir);
  const created = !existsSync(join(config.dataDir, 'ca'));
  const store = openSqliteStore(join(config.dataDir, 'pqscep.db'));
  const challenge = config.challenge ?? loadOrCreateSecret(join(config.dataDir, 'challenge.txt'), 12);
  const fleets = new FleetManager(
    // PKIOperation writes go through the pool's group commit (src/store/group-commit.ts).
    { dataDir: config.dataDir, store: deferringStore(store), log, staticSecret: challenge, allowLegacy: config.allowLegacy, crlValidityHours: config.crlValidityHours },
    profiles,
    (envs) => {
      publishCaCertificate(config.dataDir, envs.get('default'));
      pool?.fleetsChanged();
    },
  );
  let pool: PkiPool | undefined;
  const stored = store.fleet('default');
  // The default fleet (/scep) always has a record, so the CLI and admin API see what it runs.
  // `serve --profile P` is an explicit switch of it; without --profile the stored choice stands.
  if (!stored) store.saveFleet({ name: 'default', profile: defaultProfile.name, updatedAt: new Date() }, { actor: 'serve', action: 'fleet.create', subject: 'default', details: { profile: defaultProfile.name } });
  else if (explicit && stored.profile !== defaultProfile.name) setProfile({ store, profiles }, 'default', defaultProfile.name, {}, 'serve --profile');
  const metrics = config.metrics ? new ServerMetrics() : undefined;
  const drain = new Drain();
  const rateLimit = config.rateLimitPerAddress ? parseRateLimit(config.rateLimitPerAddress) : undefined;
  const app = createApp((fleet) => fleets.env(fleet), { maxMessageBytes: config.maxMessageBytes, metrics, rateLimit, trustProxy: config.trustProxy, drain, pkiOperation: (der, env, client, observe) => pool!.run(der, env, client, observe) }, log);
  const maxHeaderSize = Math.ceil(config.maxMessageBytes * 1.4) + 64 * 1024;
  const server = createListener(app.callback(), { maxHeaderSize, requestTimeoutMs: config.requestTimeout, tls });
  answerClientErrors(server);
  let adminServer: Server | undefined;
  // Graceful: stop accepting, let answers in progress finish (bounded), then close the store,
  // so every answer a client received is in it.
  const close = async () => {
    await fleets.stop();
    log.info({ inFlight: drain.inFlight, shutdownTimeoutMs: config.shutdownTimeout }, 'shutting down: letting requests in progress finish');
    await drain.drain([server, adminServer], Date.now() + config.shutdownTimeout);
    if (drain.inFlight > 0) log.warn({ inFlight: drain.inFlight }, 'shutdown timeout: connections of unfinished requests were closed; those requests were not answered');
    await pool?.close();
    store.close();
  };
  let port: number;
  let admin: AdminEndpoint | undefined;
  try {
    await fleets.refresh();
    fleets.start();
    // After the first refresh: the CA and RA keys exist, so workers only read them.
    pool = await PkiPool.start(config, challenge, store, log);
    port = await listen(server, config.port, config.host).catch((err: NodeJS.ErrnoException) => {
      throw listenError(err, 'SCEP listener', config.host, config.port, { host: '--host', port: '--port' });
    });
    if (config.admin) {
      const { token, tokenFile } = adminToken(config);
      const adminApp = createAdminApp({ fleets: { store, profiles }, token, afterChange: () => fleets.refresh(), allowLegacy: config.allowLegacy, log, metrics: metrics && (() => metrics.exposition()) }, drain);
      adminServer = createListener(adminApp.callback(), { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, tls: config.adminTls ? tls : undefined });
      const adminPort = await listen(adminServer, adminPortOf(config), config.adminHost).catch((err: NodeJS.ErrnoException) => {
        throw listenError(err, 'admin API', config.adminHost, adminPortOf(config), { host: '--admin-host', port: '--admin-port', more: ', or --no-admin' });
      });
      admin = { url: `${config.adminTls ? 'https' : 'http'}://${hostInUrl(config.adminHost)}:${adminPort}`, port: adminPort, token, tokenFile };
    }
  } catch (err) {
    await close();
    throw err;
  }
  // A shared secret is the weakest way in: say so at every start (issue: lifecycle).
  const staticChallengeFleets = store.fleets()
    .filter((f) => profiles.get(f.profile)?.challenge.validators.includes('static') ?? true)
    .map((f) => ({ fleet: f.name, rotated: store.challenges(f.name, 'static').length > 0 }));
  if (staticChallengeFleets.length) {
    log.warn({ fleets: staticChallengeFleets.map((f) => f.fleet) }, 'these fleets accept the static challenge, a secret shared by every device: prefer one-time challenges (pqscep challenge issue) or a webhook, and rotate it (pqscep challenge rotate)');
  }
  return {
    url: `${tls ? 'https' : 'http'}://${hostInUrl(config.host)}:${port}/scep`,
    port,
    get env() {
      return fleets.env('default')!;
    },
    fleets,
    challenge,
    staticChallengeFleets,
    created,
    admin,
    close,
  };
}
