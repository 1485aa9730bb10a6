/**
 * Drivers for two real SCEP clients installed from Debian 12, for interop tests against a SCEP
 * server listening on loopback:
 *
 *  - micromdm `scepclient` 2.1.0 (package `scep`)
 *  - strongSwan `pki --scepca` / `pki --scep` 5.9.8 (packages `strongswan-pki` and
 *    `libstrongswan-extra-plugins`, which provides the curl fetcher the HTTP requests need)
 *
 * No assertions here: every helper resolves with exit code, output and the paths of the files the
 * client wrote, and never rejects because the client failed (only on a bad argument or I/O error).
 * The behaviour these helpers rely on is documented, with captured requests, in
 * test/vectors/interop/README.md.
 *
 * Things to know before pointing them at a server:
 *  - The URL is the SCEP endpoint without a query string (both clients append `?operation=...`;
 *    strongSwan appends it blindly). Only loopback URLs are accepted.
 *  - scepclient: GetCACert -> GetCACaps -> PKIOperation. It POSTs when the caps contain the
 *    substring `POSTPKIOperation` or `SCEPStandard`, otherwise it GETs with URL-safe base64.
 *    It envelopes with single DES and signs with SHA-1 whatever the caps say. GetCACert must be
 *    either one or more concatenated DER certificates (any content type) or a degenerate PKCS#7
 *    with Content-Type exactly `application/x-x509-ca-ra-cert`. It encrypts to every certificate
 *    GetCACert returned and verifies the CertRep signature only against those certificates. The
 *    issued certificate must be the first certificate of the degenerate PKCS#7 in the reply.
 *    On PENDING it sleeps 30 s and re-sends the identical PKCSReq, forever: give PENDING tests a
 *    timeout above 30 s (or expect `timedOut`).
 *  - strongSwan: `pki --scepca` only calls GetCACert; `pki --scep` calls GetCACaps then POSTs.
 *    Debian's 5.9.8 misreads the caps: the default `--cipher aes` is accepted only if the server
 *    lists `SHA-384`, `--cipher des3` only if it lists `AES`, SHA-256 signing only if it lists
 *    `DES3` or `SHA-384`, renewal only if it lists `DES3` or `SHA-384`. It only accepts a CertRep
 *    whose SignerInfo signatureAlgorithm is rsaEncryption (1.2.840.113549.1.1.1), whose
 *    transactionID equals its own, and whose envelope has a single RecipientInfo (it takes the
 *    issuer/serial of the first and the encryptedKey of the last). PENDING makes it poll with
 *    CertPoll every `interval` seconds (default here 2 s) up to `maxPollTime` (default here: 3 s less
 *    than the timeout).
 */
import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Binaries, overridable for unusual installs. */
export const SCEPCLIENT_BIN = process.env.PQSCEP_SCEPCLIENT ?? 'scepclient';
export const PKI_BIN = process.env.PQSCEP_PKI ?? 'pki';

function findInPath(bin: string): string | undefined {
  if (bin.includes('/')) return isExecutable(bin) ? bin : undefined;
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, bin);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** strongSwan needs a fetcher plugin for http:// URLs; on Debian it is the curl plugin. */
function hasStrongswanFetcher(): boolean {
  const dirs = ['/usr/lib/ipsec/plugins', '/usr/lib/x86_64-linux-gnu/ipsec/plugins', '/usr/local/lib/ipsec/plugins'];
  const present = dirs.filter((d) => existsSync(d));
  if (present.length === 0) return true; // unknown layout (static build?): assume it works
  return present.some((d) => existsSync(path.join(d, 'libstrongswan-curl.so')));
}

export const hasScepclient: boolean = findInPath(SCEPCLIENT_BIN) !== undefined;
export const hasStrongswan: boolean = findInPath(PKI_BIN) !== undefined && hasStrongswanFetcher();

export interface RunResult {
  /** Exit code; null when killed by a signal (timeout) or when the binary could not be started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** argv actually run, for error messages. */
  command: string[];
  /** spawn error such as ENOENT, if any */
  spawnError?: string;
}

export interface RunOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Run a binary, never rejecting; kills it with SIGKILL after timeoutMs. */
export function run(bin: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve) => {
    const command = [bin, ...args];
    execFile(
      bin,
      args,
      {
        timeout: opts.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 32 * 1024 * 1024,
        encoding: 'utf8',
        env: opts.env ?? process.env,
        cwd: opts.cwd,
      },
      (err, stdout, stderr) => {
        if (!err) {
          resolve({ code: 0, signal: null, timedOut: false, stdout, stderr, command });
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: NodeJS.Signals | null; code?: number | string };
        const code = typeof e.code === 'number' ? e.code : null;
        const signal = e.signal ?? null;
        resolve({
          code,
          signal,
          timedOut: Boolean(e.killed) && signal === 'SIGKILL',
          stdout: stdout ?? '',
          stderr: stderr ?? '',
          command,
          spawnError: typeof e.code === 'string' ? `${e.code}: ${e.message}` : undefined,
        });
      },
    );
  });
}

/** Refuse anything but http(s) on loopback: these helpers are for a local server only. */
export function assertLoopbackUrl(url: string): URL {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`not an http(s) URL: ${url}`);
  const h = u.hostname.replace(/^\[|\]$/g, '');
  const loopback = h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
  if (!loopback) throw new Error(`interop clients may only target loopback, got ${u.hostname}`);
  if (u.search) throw new Error(`SCEP URL must not carry a query string (clients append ?operation=): ${url}`);
  return u;
}

const DEFAULT_TIMEOUT_MS = 20_000;

function parseFailInfo(text: string): string | undefined {
  // scepclient: "PKCSReq (19) request failed, failInfo: badRequest (2)"
  // strongSwan: "failInfo:     badRequest - transaction not permitted or supported"
  const m = /failInfo:\s*([A-Za-z]+)/.exec(text);
  return m ? m[1] : undefined;
}

async function readIfExists(p: string): Promise<string | undefined> {
  try {
    return await readFile(p, 'utf8');
  } catch {
    return undefined;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* micromdm scepclient                                                                         */
/* ------------------------------------------------------------------------------------------ */

export interface ScepclientResult extends RunResult {
  /** <dir>/client.pem: written (PEM) only on success. */
  certPath: string;
  /** <dir>/client.key: PKCS#1 "RSA PRIVATE KEY" PEM, generated by scepclient if absent. */
  keyPath: string;
  /** <dir>/csr.pem: scepclient's CSR (with the challenge), reused by later runs in the same dir. */
  csrPath: string;
  /** PEM of the issued certificate when the run succeeded. */
  cert?: string;
  /** transactionID as logged by scepclient (base64 of the first 20 bytes of SHA-256 of the RSAPublicKey). */
  transactionId?: string;
  /** failInfo name when the server answered FAILURE, e.g. "badRequest". */
  failInfo?: string;
}

export interface ScepclientEnrollOptions {
  url: string;
  /** Goes into the CSR's challengePassword; omit for none. */
  challenge?: string;
  /** Working directory (created). One enrollment per directory. */
  dir: string;
  cn: string;
  /** RSA key size for a key scepclient generates (default 2048). */
  keySize?: number;
  organization?: string;
  ou?: string;
  country?: string;
  /** hex SHA-256 of the one GetCACert certificate to encrypt to and verify with (-ca-fingerprint). */
  caFingerprint?: string;
  /** Sent as GetCACert `message=` (-cacert-message). */
  caCertMessage?: string;
  /** Reuse this existing RSA key (copied to <dir>/client.key) instead of letting scepclient make one. */
  keyPem?: string;
  timeoutMs?: number;
}

function scepclientArgs(o: {
  url: string;
  keyPath: string;
  certPath: string;
  cn: string;
  challenge?: string;
  keySize?: number;
  organization?: string;
  ou?: string;
  country?: string;
  caFingerprint?: string;
  caCertMessage?: string;
}): string[] {
  const a = ['-server-url', o.url, '-private-key', o.keyPath, '-certificate', o.certPath, '-cn', o.cn, '-debug'];
  if (o.challenge !== undefined && o.challenge !== '') a.push('-challenge', o.challenge);
  if (o.keySize !== undefined) a.push('-keySize', String(o.keySize));
  if (o.organization !== undefined) a.push('-organization', o.organization);
  if (o.ou !== undefined) a.push('-ou', o.ou);
  if (o.country !== undefined) a.push('-country', o.country);
  if (o.caFingerprint !== undefined) a.push('-ca-fingerprint', o.caFingerprint);
  if (o.caCertMessage !== undefined) a.push('-cacert-message', o.caCertMessage);
  return a;
}

async function finishScepclient(r: RunResult, dir: string): Promise<ScepclientResult> {
  const certPath = path.join(dir, 'client.pem');
  const keyPath = path.join(dir, 'client.key');
  const csrPath = path.join(dir, 'csr.pem');
  const cert = r.code === 0 ? await readIfExists(certPath) : undefined;
  const tid = /transaction_id="?([A-Za-z0-9+/=]+)"?/.exec(r.stderr);
  return {
    ...r,
    certPath,
    keyPath,
    csrPath,
    cert,
    transactionId: tid ? tid[1] : undefined,
    failInfo: parseFailInfo(r.stdout + '\n' + r.stderr),
  };
}

/**
 * First enrollment (PKCSReq). scepclient keeps csr.pem (and, until success, self.pem) next to the
 * key and reuses them on the next run, and turns any run whose -certificate file exists into a
 * renewal; so this removes client.pem, csr.pem and self.pem from `dir` first (an existing
 * client.key is kept and reused).
 *
 *   scepclient -server-url URL -private-key DIR/client.key -certificate DIR/client.pem -cn CN
 *              -debug [-challenge PW] [-keySize N]
 *
 * Exit 0 on SUCCESS; exit 1 with "PKCSReq (19) request failed, failInfo: badRequest (2)" on
 * stdout for a FAILURE CertRep; exit 1 with the Go error on stdout for transport/parse errors.
 */
export async function scepclientEnroll(opts: ScepclientEnrollOptions): Promise<ScepclientResult> {
  assertLoopbackUrl(opts.url);
  const dir = path.resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  for (const f of ['client.pem', 'csr.pem', 'self.pem']) await rm(path.join(dir, f), { force: true });
  const keyPath = path.join(dir, 'client.key');
  if (opts.keyPem !== undefined) await writeFile(keyPath, opts.keyPem, { mode: 0o600 });
  const args = scepclientArgs({ ...opts, url: opts.url, keyPath, certPath: path.join(dir, 'client.pem') });
  const r = await run(SCEPCLIENT_BIN, args, { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, cwd: dir });
  return finishScepclient(r, dir);
}

export interface ScepclientRenewOptions {
  url: string;
  /** A directory where scepclientEnroll succeeded (client.key, client.pem, csr.pem). */
  dir: string;
  /**
   * false (default): reuse csr.pem from the enrollment, which still carries the enrollment's
   * challenge. true: delete csr.pem so scepclient builds a new CSR (same key) with `challenge`
   * (or no challengePassword at all when `challenge` is omitted); `cn` is then required.
   */
  newCsr?: boolean;
  challenge?: string;
  cn?: string;
  timeoutMs?: number;
}

export interface ScepclientRenewResult extends ScepclientResult {
  /** Copy of the certificate that signed the RenewalReq (<dir>/client-old.pem). */
  oldCertPath: string;
}

/**
 * Renewal (RenewalReq, messageType 17): scepclient sends a RenewalReq whenever the -certificate
 * file exists. It is signed (SHA-1) by that certificate with the same key, carries the same CSR
 * bytes as the enrollment (unless newCsr) and the same transactionID (it is derived from the
 * key). On success client.pem is overwritten with the new certificate; the old one is kept as
 * client-old.pem. `-challenge` is not used for the message itself (only for a new CSR).
 */
export async function scepclientRenew(opts: ScepclientRenewOptions): Promise<ScepclientRenewResult> {
  assertLoopbackUrl(opts.url);
  const dir = path.resolve(opts.dir);
  const certPath = path.join(dir, 'client.pem');
  const keyPath = path.join(dir, 'client.key');
  const oldCertPath = path.join(dir, 'client-old.pem');
  if (!existsSync(certPath) || !existsSync(keyPath)) throw new Error(`scepclientRenew: ${dir} has no client.pem/client.key`);
  await copyFile(certPath, oldCertPath);
  await rm(path.join(dir, 'self.pem'), { force: true });
  if (opts.newCsr) {
    if (!opts.cn) throw new Error('scepclientRenew: cn is required with newCsr');
    await rm(path.join(dir, 'csr.pem'), { force: true });
  } else if (!existsSync(path.join(dir, 'csr.pem'))) {
    throw new Error(`scepclientRenew: ${dir} has no csr.pem (pass newCsr: true)`);
  }
  const args = scepclientArgs({
    url: opts.url,
    keyPath,
    certPath,
    cn: opts.cn ?? 'scepclient',
    challenge: opts.newCsr ? opts.challenge : undefined,
  });
  const r = await run(SCEPCLIENT_BIN, args, { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, cwd: dir });
  const res = await finishScepclient(r, dir);
  // scepclient does not touch client.pem on failure, but don't report the old cert as the new one
  if (res.code !== 0) res.cert = undefined;
  return { ...res, oldCertPath };
}

/* ------------------------------------------------------------------------------------------ */
/* strongSwan pki                                                                              */
/* ------------------------------------------------------------------------------------------ */

export interface StrongswanCaResult extends RunResult {
  /** Root CA certificate (<dir>/ca.pem) if the server returned one. */
  caPath?: string;
  /** RA certificate(s): <dir>/ra.pem, or ra-1.pem, ra-2.pem... when there are several. */
  raPaths: string[];
  /** Intermediate CA certificates: <dir>/ca-1.pem, ca-2.pem... */
  subCaPaths: string[];
}

/**
 * GetCACert via `pki --scepca --url URL --caout DIR/ca.pem --raout DIR/ra.pem --outform pem --force`.
 * Accepts a single DER certificate or a degenerate PKCS#7; classifies self-signed CA certs as
 * root, other CA certs as sub CA and non-CA certs as RA. Exit 0 even when no file was written.
 */
export async function strongswanGetCA(opts: { url: string; dir: string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<StrongswanCaResult> {
  assertLoopbackUrl(opts.url);
  const dir = path.resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  const caout = path.join(dir, 'ca.pem');
  const raout = path.join(dir, 'ra.pem');
  const r = await run(PKI_BIN, ['--scepca', '--url', opts.url, '--caout', caout, '--raout', raout, '--outform', 'pem', '--force'], {
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    env: opts.env,
    cwd: dir,
  });
  const files = await readdir(dir);
  const raPaths = files.filter((f) => /^ra(-\d+)?\.pem$/.test(f)).sort().map((f) => path.join(dir, f));
  const subCaPaths = files.filter((f) => /^ca-\d+\.pem$/.test(f)).sort().map((f) => path.join(dir, f));
  return { ...r, caPath: existsSync(caout) ? caout : undefined, raPaths, subCaPaths };
}

export interface StrongswanEnrollOptions {
  url: string;
  /** --password: challengePassword (UTF8String) in the CSR. */
  challenge?: string;
  dir: string;
  /** Subject is "CN=<cn>" unless `dn` is given. */
  cn: string;
  dn?: string;
  san?: string[];
  /** --cipher (default aes = AES-128-CBC; see the caps bug in the module comment). */
  cipher?: 'aes' | 'des3';
  /** --digest (default sha256). */
  digest?: 'sha256' | 'sha384' | 'sha512' | 'sha224' | 'sha1';
  /** --rsa-padding pss signs the request with RSASSA-PSS. */
  rsaPadding?: 'pkcs1' | 'pss';
  keySize?: number;
  /** Reuse this key (PEM) instead of generating one with `pki --gen`. */
  keyPem?: string;
  /**
   * Certificates from a previous strongswanGetCA; fetched with `pki --scepca` when omitted.
   * Default: encrypt to the (first) RA if there is one, else the CA; verify with the same.
   */
  encCertPath?: string;
  sigCertPath?: string;
  /** Extra trusted certificates (--cacert). The CA and sub CAs are added automatically. */
  extraCaPaths?: string[];
  /** CertPoll interval and limit in seconds on PENDING (defaults here: 2, and timeoutMs/1000 - 3; pki's own are 60 and 0 = forever). */
  interval?: number;
  maxPollTime?: number;
  timeoutMs?: number;
}

export interface StrongswanResult extends RunResult {
  /** <dir>/client.pem, written (PEM) only on success. */
  certPath: string;
  /** <dir>/client-key.pem: PKCS#1 PEM RSA key used for the CSR. */
  keyPath: string;
  cert?: string;
  /** Uppercase hex SHA-1 of the SubjectPublicKeyInfo of the CSR key, as logged. */
  transactionId?: string;
  failInfo?: string;
  /** The GetCACert step, when this call ran it. */
  getCA?: StrongswanCaResult;
  /** Which step's result this is. */
  stage: 'gen' | 'scepca' | 'scep';
}

async function genStrongswanKey(keyPath: string, keySize: number, timeoutMs: number): Promise<RunResult> {
  const r = await run(PKI_BIN, ['--gen', '--type', 'rsa', '--size', String(keySize), '--outform', 'pem'], { timeoutMs });
  if (r.code === 0) await writeFile(keyPath, r.stdout, { mode: 0o600 });
  return r;
}

interface CaFiles {
  enc: string;
  sig: string;
  trusted: string[];
}

async function resolveCaFiles(
  opts: { url: string; dir: string; encCertPath?: string; sigCertPath?: string; extraCaPaths?: string[]; timeoutMs?: number },
): Promise<{ files?: CaFiles; getCA?: StrongswanCaResult }> {
  let getCA: StrongswanCaResult | undefined;
  let enc = opts.encCertPath;
  let sig = opts.sigCertPath;
  const trusted = [...(opts.extraCaPaths ?? [])];
  if (!enc || !sig) {
    getCA = await strongswanGetCA({ url: opts.url, dir: opts.dir, timeoutMs: opts.timeoutMs });
    const dflt = getCA.raPaths[0] ?? getCA.caPath ?? getCA.subCaPaths[0];
    if (getCA.code !== 0 || !dflt) return { getCA };
    enc ??= dflt;
    sig ??= dflt;
    for (const p of [getCA.caPath, ...getCA.subCaPaths]) if (p && p !== sig) trusted.push(p);
  }
  return { files: { enc, sig, trusted }, getCA };
}

function strongswanScepArgs(o: StrongswanEnrollOptions, keyPath: string, ca: CaFiles): string[] {
  const a = ['--scep', '--url', o.url, '--in', keyPath, '--dn', o.dn ?? `CN=${o.cn}`, '--cacert-enc', ca.enc, '--cacert-sig', ca.sig];
  for (const p of ca.trusted) a.push('--cacert', p);
  if (o.challenge !== undefined && o.challenge !== '') a.push('--password', o.challenge);
  for (const s of o.san ?? []) a.push('--san', s);
  if (o.cipher) a.push('--cipher', o.cipher);
  if (o.digest) a.push('--digest', o.digest);
  if (o.rsaPadding) a.push('--rsa-padding', o.rsaPadding);
  // stop polling a few seconds before the process timeout so a PENDING run ends with pki's own error
  const maxPoll = o.maxPollTime ?? Math.max(1, Math.floor((o.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000) - 3);
  a.push('--interval', String(o.interval ?? 2), '--maxpolltime', String(maxPoll));
  a.push('--outform', 'pem');
  return a;
}

async function finishStrongswan(r: RunResult, certPath: string, keyPath: string, getCA: StrongswanCaResult | undefined): Promise<StrongswanResult> {
  let cert: string | undefined;
  if (r.code === 0 && r.stdout.includes('-----BEGIN CERTIFICATE-----')) {
    cert = r.stdout;
    await writeFile(certPath, cert);
  }
  const tid = /transaction ID: ([0-9A-Fa-f]+)/.exec(r.stderr);
  return {
    ...r,
    certPath,
    keyPath,
    cert,
    transactionId: tid ? tid[1] : undefined,
    failInfo: parseFailInfo(r.stderr),
    getCA,
    stage: 'scep',
  };
}

/**
 * Enrollment (PKCSReq) with strongSwan:
 *
 *   pki --gen --type rsa --size 2048 --outform pem > DIR/client-key.pem
 *   pki --scepca --url URL --caout DIR/ca.pem --raout DIR/ra.pem --outform pem --force
 *   pki --scep --url URL --in DIR/client-key.pem --dn CN=... --cacert-enc DIR/ra.pem|ca.pem
 *       --cacert-sig DIR/ra.pem|ca.pem [--cacert DIR/ca.pem] --password PW
 *       [--cipher aes|des3] --interval 2 --maxpolltime T-3 --outform pem > DIR/client.pem
 *
 * Exit 0 on SUCCESS (certificate on stdout), 1 on any failure (reason on stderr, e.g.
 * "failInfo:     badRequest - ...", "AES_CBC encryption algorithm not supported by CA",
 * "only RSA digest encryption supported" + "unable to verify PKCS#7 container",
 * "did not receive a valid SCEP response: HTTP 500").
 */
export async function strongswanEnroll(opts: StrongswanEnrollOptions): Promise<StrongswanResult> {
  assertLoopbackUrl(opts.url);
  const dir = path.resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const keyPath = path.join(dir, 'client-key.pem');
  const certPath = path.join(dir, 'client.pem');
  await rm(certPath, { force: true });
  if (opts.keyPem !== undefined) {
    await writeFile(keyPath, opts.keyPem, { mode: 0o600 });
  } else if (!existsSync(keyPath)) {
    const g = await genStrongswanKey(keyPath, opts.keySize ?? 2048, timeoutMs);
    if (g.code !== 0) return { ...g, certPath, keyPath, stage: 'gen' };
  }
  const { files, getCA } = await resolveCaFiles({ ...opts, dir, timeoutMs });
  if (!files) return { ...(getCA as StrongswanCaResult), code: getCA && getCA.code !== 0 ? getCA.code : 1, certPath, keyPath, getCA, stage: 'scepca' };
  const r = await run(PKI_BIN, strongswanScepArgs(opts, keyPath, files), { timeoutMs, cwd: dir });
  return finishStrongswan(r, certPath, keyPath, getCA);
}

export interface StrongswanRenewOptions extends Omit<StrongswanEnrollOptions, 'keyPem' | 'keySize'> {
  /** Generate a new key for the CSR (default false: the CSR reuses the old key). */
  newKey?: boolean;
  keySize?: number;
  /**
   * Sets pki.scep.renewal_via_pkcs_req (via a STRONGSWAN_CONF that includes /etc/strongswan.conf):
   * the request is then a PKCSReq (19) signed by the old certificate instead of a RenewalReq (17).
   */
  renewalViaPkcsReq?: boolean;
}

export interface StrongswanRenewResult extends StrongswanResult {
  oldCertPath: string;
  oldKeyPath: string;
}

/**
 * Renewal (RenewalReq, messageType 17) of DIR/client.pem:
 *
 *   pki --scep --url URL --in NEWKEY --dn CN=... --cacert-enc ... --cacert-sig ...
 *       --cert DIR/client.pem --key DIR/client-key.pem [--password PW] --outform pem
 *
 * (the help text says --oldcert/--oldkey but the options are --cert/--key). The request is
 * signed by the old certificate with the old key; the CSR holds the new key (or the old one when
 * newKey is false); the transactionID is derived from the CSR key. strongSwan refuses to try
 * unless the caps (mis)parse as Renewal: the server must list DES3 or SHA-384.
 * On success: old cert/key -> client-old.pem / client-key-old.pem, new ones -> client.pem /
 * client-key.pem.
 */
export async function strongswanRenew(opts: StrongswanRenewOptions): Promise<StrongswanRenewResult> {
  assertLoopbackUrl(opts.url);
  const dir = path.resolve(opts.dir);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const certPath = path.join(dir, 'client.pem');
  const keyPath = path.join(dir, 'client-key.pem');
  const oldCertPath = path.join(dir, 'client-old.pem');
  const oldKeyPath = path.join(dir, 'client-key-old.pem');
  if (!existsSync(certPath) || !existsSync(keyPath)) throw new Error(`strongswanRenew: ${dir} has no client.pem/client-key.pem`);
  await copyFile(certPath, oldCertPath);
  await copyFile(keyPath, oldKeyPath);
  let csrKey = oldKeyPath;
  if (opts.newKey) {
    csrKey = path.join(dir, 'client-key-new.pem');
    const g = await genStrongswanKey(csrKey, opts.keySize ?? 2048, timeoutMs);
    if (g.code !== 0) return { ...g, certPath, keyPath, oldCertPath, oldKeyPath, stage: 'gen' };
  }
  const { files, getCA } = await resolveCaFiles({ ...opts, dir, timeoutMs });
  if (!files) {
    return { ...(getCA as StrongswanCaResult), code: getCA && getCA.code !== 0 ? getCA.code : 1, certPath, keyPath, getCA, oldCertPath, oldKeyPath, stage: 'scepca' };
  }
  const args = strongswanScepArgs(opts, csrKey, files);
  args.splice(args.indexOf('--outform'), 0, '--cert', oldCertPath, '--key', oldKeyPath);
  let env: NodeJS.ProcessEnv | undefined;
  if (opts.renewalViaPkcsReq) {
    const conf = path.join(dir, 'strongswan-renewal-via-pkcsreq.conf');
    const inc = existsSync('/etc/strongswan.conf') ? 'include /etc/strongswan.conf\n' : '';
    await writeFile(conf, `${inc}pki {\n  scep {\n    renewal_via_pkcs_req = yes\n  }\n}\n`);
    env = { ...process.env, STRONGSWAN_CONF: conf };
  }
  const r = await run(PKI_BIN, args, { timeoutMs, cwd: dir, env });
  // write the new certificate only after the old one has been saved
  const res = await finishStrongswan(r, path.join(dir, 'client-new.pem'), keyPath, getCA);
  if (res.cert) {
    await rename(res.certPath, certPath);
    if (opts.newKey) await rename(csrKey, keyPath);
  }
  return { ...res, certPath, keyPath, oldCertPath, oldKeyPath };
}
