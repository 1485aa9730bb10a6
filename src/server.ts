/**
 * Starts a pqscep server from a validated configuration: data folder (CA, RA, challenge,
 * SQLite store), the SCEP environment, an HTTP listener whose header limit admits GET
 * PKIOperation URLs as large as the message limit (RFC 8894 §4.3; post-quantum requests do not
 * fit the usual 8-16 KB), and the admin API on a second listener (loopback by default, bearer
 * token from the configuration or `<data>/admin-token.txt`). Used by `pqscep serve` and by the
 * tests.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import { ALGORITHMS } from '../algorithms/index.ts';
import { createAdminApp, createApp } from './app.ts';
import { answerClientErrors } from './http/client-error.ts';
import { toPem } from './ca/pem.ts';
import { flagsProfile } from './fleet/fleet-env.ts';
import { FleetManager } from './fleet/fleet-manager.ts';
import { setProfile } from './fleet/fleet-ops.ts';
import { loadProfiles, ProfileError, type Profile } from './policy/profile.ts';
import { fileURLToPath } from 'node:url';
import { adminPortOf, ConfigError, type ServerConfig } from './config.ts';
import { setPqBackend } from './crypto/backend.ts';
import type { Registry } from './crypto/registry.ts';
import type { KeyType } from './crypto/types.ts';
import { createRegistry } from './crypto/registry.ts';
import { staticChallenge } from './policy/challenge.ts';
import type { Logger, ScepEnv } from './scep/env.ts';
import { openSqliteStore } from './store/sqlite-store.ts';

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

async function closeHttp(server: Server): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  server.closeAllConnections();
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

export const DEFAULT_PROFILES_DIR = fileURLToPath(new URL('../profiles', import.meta.url));

/**
 * The profiles this server knows, and the default fleet's: `--profile NAME` (with `--ca-alg` /
 * `--ra-alg` overriding its CA and RA), else the `flags` profile.
 */
function resolveProfiles(config: ServerConfig): { profiles: Map<string, Profile>; defaultProfile: Profile; explicit: boolean } {
  const registry = createRegistry(ALGORITHMS, { allowLegacy: true });
  const dir = config.profilesDir ?? DEFAULT_PROFILES_DIR;
  let profiles: Map<string, Profile>;
  try {
    profiles = existsSync(dir) ? loadProfiles(dir, registry) : new Map();
  } catch (err) {
    if (err instanceof ProfileError) throw new ConfigError(err.message);
    throw err;
  }
  const flags = flagsProfile(config);
  profiles.set(flags.name, flags);
  if (!config.profile) return { profiles, defaultProfile: flags, explicit: false };
  const base = profiles.get(config.profile);
  if (!base) throw new ConfigError(`invalid setting profile (--profile): no profile named ${config.profile} in ${dir}; profiles: ${[...profiles.keys()].join(', ')}`);
  if (!config.caKeyType && !config.raKeyTypes) return { profiles, defaultProfile: base, explicit: true };
  const overridden: Profile = Object.freeze({
    ...base, name: `${base.name}+flags`, source: `${base.source} with --ca-alg/--ra-alg`,
    ca: { ...base.ca, algorithm: config.caKeyType ?? base.ca.algorithm }, ra: config.raKeyTypes ?? base.ra,
  });
  profiles.set(overridden.name, overridden);
  return { profiles, defaultProfile: overridden, explicit: true };
}

export async function startServer(config: ServerConfig, log: Logger = pino({ level: config.logLevel })): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  setPqBackend(config.pqBackend);
  checkKeyTypes(config, createRegistry(ALGORITHMS, { allowLegacy: true }));
  const { profiles, defaultProfile, explicit } = resolveProfiles(config);
  const created = !existsSync(join(config.dataDir, 'ca'));
  const store = openSqliteStore(join(config.dataDir, 'pqscep.db'));
  const challenge = config.challenge ?? loadOrCreateSecret(join(config.dataDir, 'challenge.txt'), 12);
  const fleets = new FleetManager(
    { dataDir: config.dataDir, store, log, challenge: staticChallenge(challenge), allowLegacy: config.allowLegacy, crlValidityHours: config.crlValidityHours },
    profiles,
    (envs) => publishCaCertificate(config.dataDir, envs.get('default')),
  );
  const stored = store.fleet('default');
  // The default fleet (/scep) always has a record, so the CLI and admin API see what it runs.
  // `serve --profile P` is an explicit switch of it; without --profile the stored choice stands.
  if (!stored) store.saveFleet({ name: 'default', profile: defaultProfile.name, updatedAt: new Date() }, { actor: 'serve', action: 'fleet.create', subject: 'default', details: { profile: defaultProfile.name } });
  else if (explicit && stored.profile !== defaultProfile.name) setProfile({ store, profiles }, 'default', defaultProfile.name, {}, 'serve --profile');
  const app = createApp((fleet) => fleets.env(fleet), { maxMessageBytes: config.maxMessageBytes }, log);
  const server: Server = createServer({ maxHeaderSize: Math.ceil(config.maxMessageBytes * 1.4) + 64 * 1024 }, app.callback());
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  answerClientErrors(server);
  let adminServer: Server | undefined;
  const close = async () => {
    await fleets.stop();
    await Promise.all([closeHttp(server), adminServer && closeHttp(adminServer)]);
    store.close();
  };
  let port: number;
  let admin: AdminEndpoint | undefined;
  try {
    await fleets.refresh();
    fleets.start();
    port = await listen(server, config.port, config.host);
    if (config.admin) {
      const { token, tokenFile } = adminToken(config);
      const adminApp = createAdminApp({ fleets: { store, profiles }, token, afterChange: () => fleets.refresh(), allowLegacy: config.allowLegacy, log });
      adminServer = createServer(adminApp.callback());
      adminServer.requestTimeout = 30_000;
      adminServer.headersTimeout = 10_000;
      const adminPort = await listen(adminServer, adminPortOf(config), config.adminHost).catch((err: Error) => {
        throw new ConfigError(`admin API on ${config.adminHost}:${adminPortOf(config)} (--admin-host, --admin-port): ${err.message}; choose another --admin-port, or --no-admin`);
      });
      admin = { url: `http://${hostInUrl(config.adminHost)}:${adminPort}`, port: adminPort, token, tokenFile };
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    url: `http://${hostInUrl(config.host)}:${port}/scep`,
    port,
    get env() {
      return fleets.env('default')!;
    },
    fleets,
    challenge,
    created,
    admin,
    close,
  };
}
