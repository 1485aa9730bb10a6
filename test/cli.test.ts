/**
 * The `pqscep` command as a user runs it: `node bin/pqscep.js …` in child processes from the
 * repository root. `serve` on a free loopback port with a temporary data folder, then the
 * client commands (`caps`, `enroll`, `renew`) against it, the one-line errors (exit 1, one
 * stderr line starting `pqscep:`), and the PQSCEP_* environment variables.
 * Checked with the openssl CLI: enrolled and renewed certificates verify against the ca.pem the
 * client wrote.
 * Leaves out: --approval manual / PENDING, --get (covered in protocol tests), logging format.
 */
import { execFile } from 'node:child_process';
import { ECDH, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, freePort, pqscep, ROOT, spawnServe, type CliResult, type ServeProcess } from './helpers/cli.ts';
import { ConfigError, configFromEnv, parseConfig } from '../src/config.ts';
import { sameKey } from '../src/cli/enroll.ts';
import { parseSignedData } from '../src/cms/signed-data.ts';
import { readString } from '../src/scep/attributes.ts';
import { MessageType, PkiStatus, ScepOid } from '../src/scep/message.ts';

const exec = promisify(execFile);
const CHALLENGE = 'cli-challenge-0123';

const lines = (s: string) => s.split('\n').filter((l) => l !== '');

/** Exit 1 with exactly one stderr line, `pqscep: <reason>`; returns the reason. */
function expectOneLineError(r: CliResult): string {
  expect(r.code, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(1);
  expect(lines(r.stderr)).toHaveLength(1);
  expect(r.stderr).toMatch(/^pqscep: \S/);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  return r.stderr.slice('pqscep: '.length).trim();
}

type Served = ServeProcess;

const running: Served[] = [];

/** Spawns `pqscep serve ...args` (helpers/cli.ts) and remembers it for the clean-up. */
async function serve(args: string[], env: NodeJS.ProcessEnv = baseEnv()): Promise<Served> {
  const served = await spawnServe(args, env);
  running.push(served);
  return served;
}

/** SIGTERM, and wait for the exit (the server exits 0 on SIGTERM). */
async function stop(s: Served): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
  return s.exited;
}

async function openssl(...args: string[]): Promise<string> {
  const { stdout } = await exec('openssl', args, { encoding: 'utf8' });
  return stdout;
}

const work = mkdtempSync(join(tmpdir(), 'pqscep-cli-'));

afterAll(async () => {
  await Promise.all(running.map(stop));
  rmSync(work, { recursive: true, force: true });
});

describe('pqscep --help', () => {
  it('lists the serve, enroll, renew and caps commands', async () => {
    const r = await pqscep(['--help']);
    expect(r.code).toBe(0);
    for (const cmd of ['serve', 'enroll', 'renew', 'caps']) expect(r.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
  });
});

describe('pqscep serve, then the client commands against it', () => {
  let server: Served;
  let port: number;
  let url: string;
  const data = join(work, 'data');

  beforeAll(async () => {
    port = await freePort();
    url = `http://127.0.0.1:${port}/scep`;
    server = await serve(['--port', String(port), '--data', data, '--challenge', CHALLENGE]);
  });

  it('prints exactly one "listening on" line with the URL, and the challenge', () => {
    const out = lines(server.stdout());
    expect(out.filter((l) => l.startsWith('listening on'))).toEqual([`listening on ${url}`]);
    expect(out).toContain(`challenge password: ${CHALLENGE}`);
    // a shared secret is the weakest way in: every start says so
    expect(out.filter((l) => l.startsWith('warning: fleet(s) default accept the static challenge'))).toHaveLength(1);
    expect(existsSync(join(data, 'ca.pem'))).toBe(true);
  });

  it('RFC 8894 §3.5.2 caps: prints the GetCACaps keywords, one per line (no legacy ones by default)', async () => {
    const r = await pqscep(['caps', '--url', url]);
    expect(r.code, r.stderr).toBe(0);
    const caps = lines(r.stdout);
    expect(caps).toEqual(expect.arrayContaining(['AES', 'POSTPKIOperation', 'Renewal', 'SCEPStandard', 'SHA-256']));
    expect(caps).not.toContain('DES3');
    expect(caps).not.toContain('SHA-1');
  });

  let first: string;
  it('enroll: exit 0, writes key.pem, cert.pem, ca.pem and the messages; the certificate verifies', async () => {
    first = join(work, 'cli-1');
    const msgs = join(first, 'msgs');
    const r = await pqscep(['enroll', '--url', url, '--challenge', CHALLENGE, '--subject', 'CN=cli-1', '--out', first, '--save-messages', msgs]);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ['key.pem', 'cert.pem', 'ca.pem']) expect(existsSync(join(first, f)), f).toBe(true);
    for (const f of ['pkcsreq.der', 'certrep.der']) expect(existsSync(join(msgs, f)), f).toBe(true);
    const cert = join(first, 'cert.pem');
    expect((await openssl('verify', '-CAfile', join(first, 'ca.pem'), cert)).trim()).toBe(`${cert}: OK`);
    expect((await openssl('verify', '-CAfile', join(data, 'ca.pem'), cert)).trim()).toBe(`${cert}: OK`);
    expect(await openssl('x509', '-pubkey', '-noout', '-in', cert)).toBe(await openssl('pkey', '-pubout', '-in', join(first, 'key.pem')));
    expect(await openssl('x509', '-subject', '-noout', '-in', cert)).toMatch(/CN = cli-1/);
    // the saved messages are the real PKCSReq and its SUCCESS CertRep
    const req = parseSignedData(new Uint8Array(readFileSync(join(msgs, 'pkcsreq.der')))).signedData.signerInfos[0].signedAttrs;
    const rep = parseSignedData(new Uint8Array(readFileSync(join(msgs, 'certrep.der')))).signedData.signerInfos[0].signedAttrs;
    expect(readString(req, ScepOid.messageType)).toBe(MessageType.PKCSReq);
    expect(readString(rep, ScepOid.messageType)).toBe(MessageType.CertRep);
    expect(readString(rep, ScepOid.pkiStatus)).toBe(PkiStatus.SUCCESS);
    expect(readString(rep, ScepOid.transactionID)).toBe(readString(req, ScepOid.transactionID));
  });

  it('renew --cert --key: exit 0, a new certificate for a new key that verifies', async () => {
    expect(first, 'needs the enroll test').toBeDefined();
    const out = join(work, 'cli-1-renewed');
    const msgs = join(out, 'msgs');
    const r = await pqscep(['renew', '--url', url, '--cert', join(first, 'cert.pem'), '--key', join(first, 'key.pem'), '--out', out, '--save-messages', msgs]);
    expect(r.code, r.stderr).toBe(0);
    const cert = join(out, 'cert.pem');
    expect((await openssl('verify', '-CAfile', join(out, 'ca.pem'), cert)).trim()).toBe(`${cert}: OK`);
    expect(await openssl('x509', '-pubkey', '-noout', '-in', cert)).toBe(await openssl('pkey', '-pubout', '-in', join(out, 'key.pem')));
    expect(await openssl('x509', '-serial', '-noout', '-in', cert)).not.toBe(await openssl('x509', '-serial', '-noout', '-in', join(first, 'cert.pem')));
    expect(readFileSync(join(out, 'key.pem'), 'utf8')).not.toBe(readFileSync(join(first, 'key.pem'), 'utf8'));
    expect(await openssl('x509', '-subject', '-noout', '-in', cert)).toMatch(/CN = cli-1/);
    // no challenge given: the RenewalReq is authenticated by the current certificate
    const req = parseSignedData(new Uint8Array(readFileSync(join(msgs, 'renewalreq.der')))).signedData.signerInfos[0].signedAttrs;
    expect(readString(req, ScepOid.messageType)).toBe(MessageType.RenewalReq);
  });

  it('a wrong challenge: exit 1 and one stderr line naming the failure', async () => {
    const out = join(work, 'wrong');
    const reason = expectOneLineError(await pqscep(['enroll', '--url', url, '--challenge', 'wrong', '--subject', 'CN=cli-2', '--out', out]));
    expect(reason).toMatch(/badRequest/);
    expect(existsSync(join(out, 'cert.pem'))).toBe(false);
  });

  it('enroll without --subject: exit 1 and one line naming the option', async () => {
    const reason = expectOneLineError(await pqscep(['enroll', '--url', url, '--challenge', CHALLENGE, '--out', join(work, 'no-subject')]));
    expect(reason).toMatch(/--subject/);
  });
});

describe('pqscep errors before any server answers', () => {
  it('an unreachable URL: exit 1 and one line', async () => {
    const port = await freePort(); // closed again: nothing listens there
    const reason = expectOneLineError(await pqscep(['enroll', '--url', `http://127.0.0.1:${port}/scep`, '--challenge', CHALLENGE, '--subject', 'CN=cli-3', '--out', join(work, 'unreachable')]));
    expect(reason).toContain(`127.0.0.1:${port}`);
  });

  it('enroll --timeout 172800 (a request under --approval manual may wait out a weekend): accepted, as before the option was checked', async () => {
    const port = await freePort(); // nothing listens: the option check passes, then the request fails
    const reason = expectOneLineError(await pqscep(['enroll', '--url', `http://127.0.0.1:${port}/scep`, '--challenge', CHALLENGE, '--subject', 'CN=cli-4', '--out', join(work, 'weekend'), '--timeout', '172800']));
    expect(reason).toContain(`127.0.0.1:${port}`);
  });

  it('enroll / renew / caps / profile validate: a wrong option value or input file is named in one line before any request is sent', async () => {
    const port = await freePort(); // nothing listens: every refusal below must come before the network
    const url = `http://127.0.0.1:${port}/scep`;
    const file = join(work, 'client-a-file');
    writeFileSync(file, 'x\n');
    const keyPem = join(work, 'client-key.pem');
    writeFileSync(keyPem, '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHcHbQpzGKV9PBbBclGyZkXfTC+H68CZKrF3+6UduSwq\n-----END PRIVATE KEY-----\n');
    const badCert = join(work, 'client-bad-cert.pem');
    writeFileSync(badCert, '-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n');
    const enroll = (...extra: string[]) => pqscep(['enroll', '--url', url, '--challenge', CHALLENGE, '--subject', 'CN=x', '--out', join(work, 'client-out'), ...extra]);
    // A certificate and another key's PKCS#8 (test/vectors/interop: micromdm scepclient's client, our interop RA).
    const VECTOR_CERT = join(ROOT, 'test', 'vectors', 'interop', 'scepclient-client-cert.pem');
    const VECTOR_OTHER_KEY = join(ROOT, 'test', 'vectors', 'interop', 'interop-ra-key.pem');
    const renew = (cert: string, key: string) => pqscep(['renew', '--url', url, '--out', join(work, 'client-out'), '--cert', cert, '--key', key]);
    const cases: [Promise<CliResult>, string][] = [
      [enroll('--timeout', 'abc'), 'invalid --timeout "abc": use a whole number of seconds from 1 to 604800 (a week)'],
      [enroll('--timeout', '1e999'), 'invalid --timeout "1e999": use a whole number of seconds from 1 to 604800 (a week)'],
      [enroll('--key-alg', 'ml-kem-768'), 'invalid --key-alg ml-kem-768: it cannot sign a CSR; choose one of: '],
      [pqscep(['enroll', '--url', url, '--challenge', CHALLENGE, '--subject', 'CN=x', '--out', file]), `invalid --out ${file}: ${file} is a file, not a folder`],
      [pqscep(['caps', '--url', 'notaurl']), 'invalid --url "notaurl": use e.g. http://127.0.0.1:8080/scep'],
      [pqscep(['caps', '--url', 'ftp://host/scep']), 'invalid --url "ftp://host/scep": use http:// or https://'],
      [renew(join(work, 'no-such.pem'), keyPem), `cannot read --cert ${join(work, 'no-such.pem')}: no such file`],
      [renew(work, keyPem), `cannot read --cert ${work}: it is a folder`],
      [renew(keyPem, keyPem), `--cert ${keyPem}: holds a PRIVATE KEY, not a CERTIFICATE`],
      [renew(badCert, keyPem), `--cert ${badCert}: not an X.509 certificate`],
      [renew(VECTOR_CERT, VECTOR_OTHER_KEY), `--key ${VECTOR_OTHER_KEY} is not the key of --cert ${VECTOR_CERT}`],
      [pqscep(['profile', 'validate', work]), `cannot read profile ${work}: it is a folder`],
      [pqscep(['profile', 'validate', join(work, 'no-such.json')]), `cannot read profile ${join(work, 'no-such.json')}: no such file`],
    ];
    for (const [run, expected] of cases) {
      const r = await run;
      expect(expectOneLineError(r).startsWith(expected), `${r.stderr} (expected ${expected})`).toBe(true);
    }
    expect(existsSync(join(work, 'client-out'))).toBe(false);
  });

  it('serve on a port in use, or on a host that does not resolve: one line naming --port / --host', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const reason = expectOneLineError(await pqscep(['serve', '--port', String(port), '--no-admin', '--data', join(work, 'port-in-use')], baseEnv(), 30_000));
      expect(reason).toBe(`SCEP listener on 127.0.0.1:${port} (--host, --port): address already in use (EADDRINUSE); choose another --port`);
    } finally {
      busy.close();
    }
    const reason = expectOneLineError(await pqscep(['serve', '--port', '0', '--host', 'no-such-host.invalid', '--no-admin', '--data', join(work, 'bad-host')], baseEnv(), 30_000));
    expect(reason).toBe('SCEP listener on no-such-host.invalid:0 (--host, --port): no such host (ENOTFOUND); choose another --host');
  });

  it('serve --port notanumber: exit 1 and one line naming the setting', async () => {
    const reason = expectOneLineError(await pqscep(['serve', '--port', 'notanumber', '--data', join(work, 'bad-port')], baseEnv(), 20_000));
    expect(reason).toMatch(/\bport\b/);
  });

  it('PQSCEP_PORT=notanumber: exit 1 and one line naming the setting', async () => {
    const reason = expectOneLineError(await pqscep(['serve', '--data', join(work, 'bad-env-port')], { ...baseEnv(), PQSCEP_PORT: 'notanumber' }, 20_000));
    expect(reason).toMatch(/\bport\b/);
  });
});

describe('pqscep renew: --key must be the key of --cert (RFC 5480 §2.2: an EC point compressed or not)', () => {
  it('the same P-256 key in a compressed and an uncompressed SubjectPublicKeyInfo is one key; another key is not', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    const point = ECDH.convertKey(spki.subarray(spki.length - 65), 'prime256v1', undefined, undefined, 'compressed') as Buffer;
    const algorithm = spki.subarray(2, 2 + 21); // SEQUENCE { id-ecPublicKey, prime256v1 }
    const compressed = Buffer.concat([Buffer.from([0x30, algorithm.length + 3 + point.length]), algorithm, Buffer.from([0x03, point.length + 1, 0]), point]);
    expect(compressed.equals(spki)).toBe(false);
    expect(sameKey(new Uint8Array(compressed), new Uint8Array(spki))).toBe(true);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    expect(sameKey(new Uint8Array(other), new Uint8Array(spki))).toBe(false);
    expect(sameKey(new Uint8Array([0x30, 0]), new Uint8Array(spki))).toBe(false); // unreadable: bytes decide
  });
});

describe('pqscep serve with PQSCEP_* environment variables', () => {
  let server: Served;
  let port: number;
  const secret = 'env-challenge-4567';

  beforeAll(async () => {
    port = await freePort();
    server = await serve([], { ...baseEnv(), PQSCEP_PORT: String(port), PQSCEP_CHALLENGE: secret, PQSCEP_DATA: join(work, 'env-data') });
  });

  it('listens on PQSCEP_PORT, keeps its data in PQSCEP_DATA and uses PQSCEP_CHALLENGE', async () => {
    const url = `http://127.0.0.1:${port}/scep`;
    expect(lines(server.stdout()).filter((l) => l.startsWith('listening on'))).toEqual([`listening on ${url}`]);
    expect(lines(server.stdout())).toContain(`challenge password: ${secret}`);
    expect(existsSync(join(work, 'env-data', 'ca.pem'))).toBe(true);
    const out = join(work, 'env-device');
    const r = await pqscep(['enroll', '--url', url, '--challenge', secret, '--subject', 'CN=env-device', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect((await openssl('verify', '-CAfile', join(out, 'ca.pem'), join(out, 'cert.pem'))).trim()).toBe(`${join(out, 'cert.pem')}: OK`);
  });

  it('a --port flag overrides PQSCEP_PORT', async () => {
    const flagPort = await freePort();
    const other = await serve(['--port', String(flagPort)], { ...baseEnv(), PQSCEP_PORT: String(port), PQSCEP_CHALLENGE: secret, PQSCEP_DATA: join(work, 'env-data-2') });
    expect(lines(other.stdout()).filter((l) => l.startsWith('listening on'))).toEqual([`listening on http://127.0.0.1:${flagPort}/scep`]);
    expect(await stop(other)).toEqual({ code: 0, signal: null });
  });

  it('exits 0 on SIGTERM', async () => {
    expect(await stop(server)).toEqual({ code: 0, signal: null });
  });
});

describe('serve settings (src/config.ts): a number or a switch is read exactly, or refused in one line', () => {
  it('numbers are decimal digits: hex, binary, exponent or empty text are refused, not read as another number', () => {
    expect(parseConfig({ port: '8443', workers: ' 2 ', validityDays: 30 })).toMatchObject({ port: 8443, workers: 2, validityDays: 30 });
    // Number('0x10') is 16 and Number('') is 0 (a random port): neither is what was typed.
    for (const [setting, bad] of [['port', '0x10'], ['port', ''], ['port', ' '], ['port', '1e3'], ['port', '0b11'], ['validityDays', '0x10'],
      ['workers', '0o7'], ['adminPort', '8e3'], ['maxMessageBytes', '1e6'], ['crlValidityHours', '-0']] as const) {
      expect(() => parseConfig({ [setting]: bad }), `${setting}=${JSON.stringify(bad)}`).toThrow(ConfigError);
      expect(() => parseConfig({ [setting]: bad })).toThrow(new RegExp(`^invalid setting ${setting}: must be a whole number from \\d+ to \\d+ \\(got "[^\\n]*"\\)$`));
    }
    expect(() => parseConfig({ port: '70000' })).toThrow(/^invalid setting port: must be a whole number from 0 to 65535 \(got "70000"\)$/);
  });

  it('PQSCEP_* switches take 1/true/yes or 0/false/no; anything else is refused, not read as off', () => {
    expect(configFromEnv({ PQSCEP_TRUST_PROXY: 'YES', PQSCEP_ALLOW_LEGACY: '0' })).toMatchObject({ trustProxy: true, allowLegacy: false });
    expect(configFromEnv({ PQSCEP_TRUST_PROXY: 'off' })).toMatchObject({ trustProxy: false });
    for (const name of ['PQSCEP_TRUST_PROXY', 'PQSCEP_ALLOW_LEGACY']) {
      expect(() => configFromEnv({ [name]: 'maybe' })).toThrow(ConfigError);
      expect(() => configFromEnv({ [name]: 'maybe' })).toThrow(new RegExp(`^invalid setting ${name}: must be 1, true, yes, on or 0, false, no, off \\(got "maybe"\\)$`));
    }
  });

  it('PQSCEP_PQ_BACKEND (README) reaches the configuration, and a bad value is refused in one line', () => {
    expect(parseConfig(configFromEnv({ PQSCEP_PQ_BACKEND: 'noble' })).pqBackend).toBe('noble');
    expect(() => parseConfig(configFromEnv({ PQSCEP_PQ_BACKEND: 'bogus' }))).toThrow(/^invalid setting pqBackend: [^\n]*"noble"[^\n]*$/);
  });

  it('PQSCEP_* values padded by an env file (CRLF line ends, spaces): trimmed like numbers and switches; a blank one counts as unset, like an empty one', () => {
    // docker --env-file / systemd EnvironmentFile written on Windows: every value ends in \r.
    const crlf = { PQSCEP_PQ_BACKEND: 'noble\r', PQSCEP_HOST: ' 0.0.0.0\r', PQSCEP_DATA: '/srv/pqscep\r', PQSCEP_RATE_LIMIT: '10/s\r', PQSCEP_PORT: '8443\r', PQSCEP_TRUST_PROXY: 'yes\r' };
    expect(parseConfig(configFromEnv(crlf))).toMatchObject({ pqBackend: 'noble', host: '0.0.0.0', dataDir: '/srv/pqscep', rateLimitPerAddress: '10/s', port: 8443, trustProxy: true });
    const blank = configFromEnv({ PQSCEP_PQ_BACKEND: ' ', PQSCEP_PORT: '\r', PQSCEP_TRUST_PROXY: ' ', PQSCEP_WORKERS: '\t', PQSCEP_HOST: ' ' });
    expect(blank).toEqual({});
    // Secrets are taken exactly as given.
    expect(configFromEnv({ PQSCEP_CHALLENGE: ' s3cret ' })).toEqual({ challenge: ' s3cret ' });
  });

  it('serve --port 0x10: exit 1 and one line, nothing listens and no data folder is made', async () => {
    const data = join(work, 'hex-port');
    const reason = expectOneLineError(await pqscep(['serve', '--port', '0x10', '--data', data, '--no-admin'], baseEnv(), 20_000));
    expect(reason).toMatch(/^invalid setting port: must be a whole number/);
    expect(existsSync(data)).toBe(false);
  });

  it('PQSCEP_TRUST_PROXY=maybe: exit 1 and one line naming the variable', async () => {
    const reason = expectOneLineError(await pqscep(['serve', '--data', join(work, 'bad-switch'), '--port', '0', '--no-admin'], { ...baseEnv(), PQSCEP_TRUST_PROXY: 'maybe' }, 20_000));
    expect(reason).toMatch(/PQSCEP_TRUST_PROXY/);
  });
});

describe('pqscep serve: a wrong data or profiles folder is refused in one line, and nothing is half-made', () => {
  it('--data naming a file, or a folder under a file: one line naming --data', async () => {
    const file = join(work, 'data-is-a-file');
    writeFileSync(file, 'not a folder\n');
    for (const data of [file, join(file, 'sub')]) {
      const reason = expectOneLineError(await pqscep(['serve', '--port', '0', '--no-admin', '--data', data], baseEnv(), 20_000));
      expect(reason).toBe(`invalid setting dataDir (--data): ${file} is a file, not a folder`);
    }
    expect(readFileSync(file, 'utf8')).toBe('not a folder\n');
  });

  it('--data holding a pqscep.db that is not a pqscep store: one line naming the file; no CA is created beside it', async () => {
    const data = join(work, 'foreign-db');
    mkdirSync(data);
    writeFileSync(join(data, 'pqscep.db'), Buffer.alloc(2048, 0x41));
    const reason = expectOneLineError(await pqscep(['serve', '--port', '0', '--no-admin', '--data', data], baseEnv(), 20_000));
    expect(reason).toBe(`${join(data, 'pqscep.db')}: not a pqscep store (not an SQLite database)`);
    expect(readdirSync(data)).toEqual(['pqscep.db']);
  });

  it('--profiles naming a folder that does not exist, or a file: one line naming --profiles (not silently no profiles)', async () => {
    const data = join(work, 'profiles-typo');
    const file = join(work, 'profiles-is-a-file.json');
    writeFileSync(file, '{}');
    for (const [dir, what] of [[join(work, 'no-such-profiles'), 'does not exist'], [file, 'is not a folder']]) {
      const reason = expectOneLineError(await pqscep(['serve', '--port', '0', '--no-admin', '--data', data, '--profiles', dir], baseEnv(), 20_000));
      expect(reason).toBe(`invalid setting profilesDir (--profiles): ${dir} ${what}`);
      const cli = expectOneLineError(await pqscep(['profile', 'list', '--profiles', dir]));
      expect(cli).toBe(`invalid setting profilesDir (--profiles): ${dir} ${what}`);
    }
    expect(existsSync(data)).toBe(false);
  });
});
