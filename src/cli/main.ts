/**
 * The `pqscep` command line (commander): serve, enroll, renew, caps. Any error ends the process
 * with exit code 1 and one line saying why, never a stack trace.
 * @module
 */
import { Command, Option } from 'commander';
import { capsCommand, enrollCommand, renewCommand, type EnrollFlags } from './enroll.ts';
import { serve } from './serve.ts';
import { algorithmsCommand } from './algorithms.ts';
import { profileList, profileShow, profileValidate } from './profile.ts';

const program = new Command('pqscep').description('SCEP server (RFC 8894), ready for post-quantum cryptography').showHelpAfterError(false);

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

program.command('caps').description('print the server\'s GetCACaps').requiredOption('--url <url>', 'SCEP URL')
  .action(run(capsCommand));

program.exitOverride((err) => process.exit(err.exitCode));
await program.parseAsync(process.argv);
