/**
 * `pqscep serve`: validate settings (flags over PQSCEP_* variables over defaults), start the
 * server, print where it listens, the challenge, one command to enroll and where the admin API
 * listens (and where its token is, never the token itself), and shut down cleanly on
 * SIGINT/SIGTERM (in-flight requests finish; the store closes).
 * @module
 */
import { availableParallelism } from 'node:os';
import { configFromEnv, parseConfig } from '../config.ts';
import { pqBackend, pqBackendChoice } from '../crypto/backend.ts';
import { startServer } from '../server.ts';
import { sqliteDriverName } from '../store/sqlite-driver.ts';

export interface ServeFlags {
  port?: string; host?: string; data?: string; challenge?: string; allowLegacy?: boolean;
  approval?: string; maxMessageBytes?: string; validityDays?: string; logLevel?: string;
  caAlg?: string; raAlg?: string[]; workers?: string; pqBackend?: string; pqReplyEnvelope?: string; profile?: string; profiles?: string;
  /** false with --no-admin */
  admin?: boolean; adminPort?: string; adminHost?: string; adminToken?: string;
  /** false with --no-metrics */
  metrics?: boolean; rateLimit?: string; trustProxy?: boolean; requestTimeout?: string; shutdownTimeout?: string;
  tlsCert?: string; tlsKey?: string; adminTls?: boolean;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export async function serve(flags: ServeFlags): Promise<void> {
  const config = parseConfig({
    ...configFromEnv(),
    // flags not given are undefined: drop them so they do not hide the PQSCEP_* variables
    ...Object.fromEntries(Object.entries({
      port: flags.port, host: flags.host, dataDir: flags.data, challenge: flags.challenge,
      allowLegacy: flags.allowLegacy || undefined, approval: flags.approval, maxMessageBytes: flags.maxMessageBytes,
      validityDays: flags.validityDays, logLevel: flags.logLevel,
    caKeyType: flags.caAlg, raKeyTypes: flags.raAlg, pqBackend: flags.pqBackend, pqReplyEnvelope: flags.pqReplyEnvelope,
    profile: flags.profile, profilesDir: flags.profiles,
    admin: flags.admin === false ? false : undefined, adminPort: flags.adminPort, adminHost: flags.adminHost, adminToken: flags.adminToken,
    metrics: flags.metrics === false ? false : undefined, rateLimitPerAddress: flags.rateLimit, trustProxy: flags.trustProxy || undefined,
    requestTimeout: flags.requestTimeout, shutdownTimeout: flags.shutdownTimeout, tlsCert: flags.tlsCert, tlsKey: flags.tlsKey, adminTls: flags.adminTls || undefined,
    }).filter(([, v]) => v !== undefined)),
    // One PKIOperation thread per core unless --workers or PQSCEP_WORKERS says otherwise.
    workers: flags.workers ?? configFromEnv().workers ?? availableParallelism(),
  });
  const server = await startServer(config);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (server.created) out(`created a new CA in ${config.dataDir}`);
  out(`listening on ${server.url}`);
  if (server.admin) {
    const from = server.admin.tokenFile ?? (flags.adminToken ? '--admin-token' : 'PQSCEP_ADMIN_TOKEN');
    out(`admin API on ${server.admin.url} (token ${server.admin.tokenFile ? 'in' : 'from'} ${from})`);
    if (!LOOPBACK.test(config.adminHost) && !config.adminTls) out(`warning: the admin API listens on ${config.adminHost} without TLS; anyone who can reach it and holds the token can switch fleets`);
  }
  const rotated = server.staticChallengeFleets.find((f) => f.fleet === 'default')?.rotated;
  out(rotated ? 'challenge password: rotated with pqscep challenge rotate (it printed the current one)' : `challenge password: ${server.challenge}`);
  if (server.staticChallengeFleets.length) {
    out(`warning: fleet(s) ${server.staticChallengeFleets.map((f) => f.fleet).join(', ')} accept the static challenge, a secret shared by every device: prefer one-time challenges (pqscep challenge issue) or a webhook, and rotate it (pqscep challenge rotate)`);
  }
  out(`enroll a device:  npx pqscep enroll --url ${server.url} --challenge '${server.challenge}' --subject "CN=device-1" --out device-1`);
  if (config.allowLegacy) out('legacy algorithms (DES, 3DES, SHA-1) are enabled');
  out(`profile ${server.env.profile}: CA ${server.env.ca.key.keyType}; RA ${server.env.ras.map((ra) => ra.key.keyType).join(" + ")}`);
  out(`post-quantum backend: ${(['ml-dsa', 'ml-kem', 'slh-dsa'] as const).map((f) => `${f} ${pqBackend(f)}`).join(', ')} (choice: ${pqBackendChoice()})`);
  out(`store: SQLite (${sqliteDriverName()})`);
  out(`PKIOperation threads: ${config.workers} (--workers)`);
  let closing = false;
  const stop = async () => {
    if (closing) {
      // A second signal: the operator does not want to wait for the drain.
      process.stderr.write('pqscep: second signal: exiting without waiting for requests in progress\n');
      process.exit(1);
    }
    closing = true;
    try {
      await server.close(); // stops accepting, lets requests in progress finish (--shutdown-timeout), closes the store
    } catch (err) {
      process.stderr.write(`pqscep: shutdown failed: ${(err as Error).message.split('\n')[0]}\n`);
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
