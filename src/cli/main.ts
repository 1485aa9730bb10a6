/**
 * The `pqscep` command line (commander): serve, enroll, renew, caps, algorithms, profile,
 * fleet, audit, cert, challenge, requests, bench load. Any error ends the process with exit code 1 and one
 * line saying why, never a
 * stack trace; commander's own usage errors get the same `pqscep: ` form.
 * @module
 */
import { Command, Option } from 'commander';
import { capsCommand, enrollCommand, renewCommand, type EnrollFlags } from './enroll.ts';
import { serve } from './serve.ts';
import { algorithmsCommand } from './algorithms.ts';
import { auditList, auditVerify, fleetCreate, fleetDryRun, fleetList, fleetRollback, fleetSetProfile, fleetStatus } from './fleet.ts';
import { certList, certRevoke } from './cert.ts';
import { challengeIssue, challengeList, challengeRotate, requestsApprove, requestsList, requestsReject } from './lifecycle.ts';
import { profileList, profileShow, profileValidate } from './profile.ts';
import { benchLoadCommand } from './bench.ts';

// Set before any subcommand is defined: subcommands copy these settings.
// `pqscep ... | head` closes stdout early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command('pqscep').description('SCEP server (RFC 8894), ready for post-quantum cryptography').showHelpAfterError(false)
  .configureOutput({ outputError: (text, write) => write(`pqscep: ${text.replace(/^error: /, '').trim().split('\n').join('; ')}\n`) });

const run = <A extends unknown[]>(fn: (...args: A) => Promise<void>) => async (...args: A) => {
  try {
    await fn(...args);
  } catch (err) {
    process.stderr.write(`pqscep: ${(err as Error).message.split('\n').join('; ')}\n`);
    process.exit(1);
  }
};

program.command('serve').description('run the SCEP server')
  .option('--port <n>', 'TCP port (PQSCEP_PORT, default 8080)')
  .option('--host <h>', 'address to bind (PQSCEP_HOST, default 127.0.0.1)')
  .option('--data <dir>', 'data folder: CA, RA, database (PQSCEP_DATA, default ./data)')
  .option('--challenge <secret>', 'static challenge password (PQSCEP_CHALLENGE; default: generated and kept in the data folder)')
  .option('--allow-legacy', 'enable DES, 3DES and SHA-1 (off by default)')
  .addOption(new Option('--approval <mode>', 'auto, or manual: requests wait as PENDING until approved').choices(['auto', 'manual']))
  .option('--max-message-bytes <n>', 'largest PKIOperation message (default 1048576)')
  .option('--validity-days <n>', 'validity of issued certificates (default 365)')
  .option('--log-level <level>', 'fatal, error, warn, info, debug or silent (default info)')
  .option('--profile <name>', 'profile of the default fleet (/scep), from profiles/; see pqscep profile list')
  .option('--profiles <dir>', 'folder of profile files (default: the profiles/ folder of this package)')
  .option('--ca-alg <alg>', 'key type of a new CA, e.g. rsa-2048, ecdsa-p256, ml-dsa-65 (default rsa-2048)')
  .option('--ra-alg <alg...>', 'RA certificate key types, repeatable, e.g. --ra-alg ml-kem-768 --ra-alg rsa-2048 (default rsa-2048)')
  .addOption(new Option('--pq-backend <backend>', 'post-quantum implementation (default auto: native where this Node has it)').choices(['auto', 'native', 'noble']))
  .addOption(new Option('--pq-reply-envelope <policy>', 'how replies reach post-quantum clients (docs/pqc-scep.md §5)').choices(['require-kem', 'allow-classical']))
  .option('--workers <n>', 'threads answering PKIOperation: the main thread plus n-1 workers (PQSCEP_WORKERS; default: the number of cores; 1 = all on the main thread)')
  .option('--admin-port <n>', 'port of the admin API (PQSCEP_ADMIN_PORT; default the SCEP port + 1, i.e. 8081; 0 = any free port)')
  .option('--admin-host <h>', 'address the admin API binds (PQSCEP_ADMIN_HOST, default 127.0.0.1)')
  .option('--admin-token <token>', 'bearer token of the admin API (PQSCEP_ADMIN_TOKEN; default: generated and kept in <data>/admin-token.txt)')
  .option('--no-admin', 'do not start the admin API')
  .option('--no-metrics', 'do not serve Prometheus metrics at /metrics')
  .option('--rate-limit <rate>', 'requests per client address, e.g. 10/s or 600/min (PQSCEP_RATE_LIMIT; default off)')
  .option('--trust-proxy', 'take the client address from X-Forwarded-For, as the nearest proxy set it (PQSCEP_TRUST_PROXY)')
  .option('--request-timeout <duration>', 'longest time to receive a whole request, e.g. 60s (default 60s)')
  .option('--shutdown-timeout <duration>', 'on SIGTERM/SIGINT, how long requests in progress may take to finish (default 10s)')
  .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain); needs --tls-key (PQSCEP_TLS_CERT)')
  .option('--tls-key <file>', 'the PEM private key of --tls-cert (PQSCEP_TLS_KEY)')
  .option('--admin-tls', 'serve the admin API over HTTPS too, with --tls-cert and --tls-key')
  .action(run(serve));

const clientOptions = (cmd: Command) => cmd
  .requiredOption('--url <url>', 'SCEP URL, e.g. http://127.0.0.1:8080/scep')
  .option('--challenge <secret>', 'challenge password')
  .option('--subject <dn>', 'subject, e.g. "CN=device-1,O=Acme"')
  .option('--san <name...>', 'subject alternative names: DNS:x IP:x email:x URI:x')
  .option('--key-alg <alg>', 'key algorithm of the new key (enroll: default rsa-2048; renew: default the current key\'s)')
  .requiredOption('--out <dir>', 'writes key.pem, cert.pem and ca.pem here')
  .option('--save-messages <dir>', 'write every request and reply as DER here')
  .option('--get', 'send PKIOperation with GET instead of POST')
  .option('--timeout <seconds>', 'give up polling a PENDING request after this long', '300');

clientOptions(program.command('enroll').description('enroll for a certificate (PKCSReq)'))
  .action(run((flags: EnrollFlags) => enrollCommand(flags)));

clientOptions(program.command('renew').description('renew a certificate (RenewalReq signed with the current one)'))
  .requiredOption('--cert <file>', 'current certificate (PEM)')
  .requiredOption('--key <file>', 'current private key (PEM)')
  .option('--reuse-key', 'keep the current key instead of generating a new one')
  .action(run((flags: EnrollFlags) => renewCommand(flags)));

program.command('algorithms').description('print the algorithm table generated from the registry')
  .option('--update-readme', 'rewrite the table in README.md')
  .action(run(algorithmsCommand));

const profile = program.command('profile').description('policy profiles (profiles/*.json)');
profile.command('list').description('list the profiles').option('--profiles <dir>', 'profile folder').action(run(profileList));
profile.command('show <name>').description('print a profile as loaded').option('--profiles <dir>', 'profile folder').action(run(profileShow));
profile.command('validate <file>').description('check a profile file; exit 1 with the problems').action(run(profileValidate));

/** Where fleet and audit commands act: the data folder, or the admin API. */
const target = (cmd: Command) => cmd
  .option('--data <dir>', 'the server\'s data folder: change its database directly (PQSCEP_DATA, default ./data)')
  .option('--profiles <dir>', 'with --data: folder of profile files (default: the profiles/ folder of this package)')
  .option('--admin <url>', 'go through the admin API instead, e.g. http://127.0.0.1:8081')
  .option('--token <token>', 'with --admin: its bearer token (PQSCEP_ADMIN_TOKEN)');

const fleet = program.command('fleet').description('fleets: named SCEP endpoints /scep/<fleet>, each bound to one profile');
target(fleet.command('create <name>').description('create a fleet at /scep/<name>'))
  .requiredOption('--profile <profile>', 'its profile (see pqscep profile list)')
  .action(run(fleetCreate));
target(fleet.command('list').description('list the fleets, their profiles and pending switches'))
  .option('--json', 'print JSON')
  .action(run(fleetList));
target(fleet.command('set-profile <name> <profile>').description('switch a fleet to another profile, now or at a time'))
  .option('--at <time>', 'start the switch at this ISO 8601 time, e.g. 2030-01-01T02:00:00Z (default now)')
  .option('--overlap <duration>', 'announce the new CA through GetNextCACert this long before it becomes current, e.g. 15m')
  .action(run(fleetSetProfile));
target(fleet.command('rollback <name>').description('return to the profile before the last switch (or cancel a pending one)'))
  .option('--overlap <duration>', 'announce the CA this long before it becomes current, e.g. 15m')
  .action(run(fleetRollback));
target(fleet.command('status [name]').description('status of one fleet, or of every fleet'))
  .option('--json', 'print JSON')
  .option('--expiring <duration>', 'count certificates expiring within this window, e.g. 30d (default 30d)')
  .action(run(fleetStatus));
target(fleet.command('dry-run <name>').description('replay the fleet\'s recorded clients against another profile'))
  .requiredOption('--profile <profile>', 'the candidate profile')
  .option('--allow-legacy', 'with --data: judge as a server running with --allow-legacy (through --admin the server\'s setting applies)')
  .option('--json', 'print JSON')
  .action(run(fleetDryRun));

const audit = program.command('audit').description('the hash-chained audit log');
target(audit.command('list').description('print the audit log'))
  .option('--json', 'print JSON')
  .option('--from <seq>', 'start at this sequence number')
  .action(run(auditList));
target(audit.command('verify').description('recompute the hash chain; exit 1 at the first bad record'))
  .action(run(auditVerify));

const cert = program.command('cert').description('issued certificates: inventory and revocation');
target(cert.command('list').description('list issued certificates'))
  .option('--fleet <fleet>', 'only this fleet\'s certificates')
  .option('--alg <alg>', 'only this key algorithm, e.g. ml-dsa-65')
  .option('--expiring <duration>', 'only valid certificates expiring within this window, e.g. 30d')
  .option('--revoked', 'only revoked certificates')
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
  .action(run(certList));
target(cert.command('revoke <serial>').description('revoke a certificate; its CA\'s CRL lists it at once'))
  .option('--reason <reason>', 'RFC 5280 §5.3.1 reason, e.g. keyCompromise, superseded, cessationOfOperation (default unspecified)')
  .action(run(certRevoke));

const challenge = program.command('challenge').description('enrollment challenges: one-time, and the static one\'s rotation');
target(challenge.command('issue').description('issue one-time challenges (printed once, stored hashed)'))
  .option('--fleet <fleet>', 'the fleet they enroll into (default: default)')
  .option('--ttl <duration>', 'how long they stay valid, e.g. 1h, 7d (default 1h)')
  .option('--subject-pattern <regex>', 'only for CSR subjects matching this regular expression in full, e.g. "CN=printer-[0-9]+"')
  .option('--count <n>', 'how many (default 1)')
  .option('--json', 'print JSON')
  .action(run(challengeIssue));
target(challenge.command('list').description('list a fleet\'s stored challenges (ids and states, never the challenges)'))
  .option('--fleet <fleet>', 'the fleet (default: default)')
  .option('--json', 'print JSON')
  .action(run(challengeList));
target(challenge.command('rotate').description('replace a fleet\'s static challenge; the old one stays valid for --overlap'))
  .option('--fleet <fleet>', 'the fleet (default: default)')
  .option('--overlap <duration>', 'how long the previous static challenge stays valid (default 24h)')
  .option('--json', 'print JSON')
  .action(run(challengeRotate));

const requests = program.command('requests').description('enrollment requests waiting for manual approval (profile "approval": "manual")');
target(requests.command('list').description('list requests'))
  .option('--fleet <fleet>', 'only this fleet\'s requests')
  .addOption(new Option('--status <status>', 'which requests').choices(['pending', 'approved', 'rejected', 'issued', 'all']).default('pending'))
  .option('--json', 'print JSON')
  .action(run(requestsList));
target(requests.command('approve <id>').description('approve a pending request (the id or its first 8+ characters)'))
  .action(run(requestsApprove));
target(requests.command('reject <id>').description('reject a pending request'))
  .requiredOption('--reason <reason>', 'why (the audit log keeps it; the client gets FAILURE badRequest)')
  .action(run(requestsReject));
const bench = program.command('bench').description('benchmarks against a running server');
bench.command('load').description('HTTP load: pre-built PKCSReqs at each concurrency; enrollments/s, latency, errors, sizes, server RSS')
  .requiredOption('--url <url>', 'SCEP URL of any RFC 8894 server, e.g. http://127.0.0.1:8080/scep')
  .option('--suite <name>', 'client key type, e.g. rsa-2048, ecdsa-p256, ml-dsa-65, slh-dsa-128s', 'rsa-2048')
  .option('--concurrency <list>', 'comma-separated concurrency levels', '1,4,16')
  .option('--requests <n>', 'requests per concurrency level', '200')
  .option('--warmup <n>', 'requests sent first and not counted (default: a tenth of --requests, 2 to 32)')
  .option('--challenge <secret>', 'challenge password')
  .option('--pid <pid>', 'the server\'s process id: report its peak RSS (with its child processes), from /proc')
  .option('--label <name>', 'name of the server in the output (default the URL)')
  .option('--json', 'print the result as JSON instead of a table')
  .option('--out <file>', 'also write the JSON result to this file')
  .option('--quick', 'smoke run: 4 requests at concurrency 1 and 2')
  .action(run(benchLoadCommand));

program.command('caps').description('print the server\'s GetCACaps').requiredOption('--url <url>', 'SCEP URL')
  .action(run(capsCommand));

program.exitOverride((err) => process.exit(err.exitCode));
await program.parseAsync(process.argv);
