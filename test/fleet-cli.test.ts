/**
 * `pqscep fleet ...` and `pqscep audit ...` as a user runs them (`node bin/pqscep.js` in child
 * processes) against a running `pqscep serve`, both ways: `--data DIR` (the database directly;
 * the server notices within a second) and `--admin URL --token T` (applied before the command
 * returns). Both must print the same. Checked through the SCEP endpoints themselves: GetCACaps
 * of /scep/<fleet> follows the fleet's profile. Also: the serve start-up line of the admin API,
 * one-line errors (exit 1) for every mistake, and audit verify on an intact and a tampered log.
 * Leaves out: the admin API's own HTTP surface (admin-api.test.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, baseEnv, cliFails, cliOk, freePort } from './helpers/cli.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';

const TOKEN = 'fleet-cli-token-0123456789abcdef';

const ok = cliOk;
const fails = cliFails;

const children: ChildProcess[] = [];
const work = mkdtempSync(join(tmpdir(), 'pqscep-fleet-cli-'));

interface Served {
  readonly child: ChildProcess;
  readonly stdout: string;
  readonly base: string;
  readonly admin: string;
}

/** `pqscep serve` with a fresh data folder; resolves after its last start-up line. */
async function serve(data: string, flags: string[] = [], env: NodeJS.ProcessEnv = baseEnv()): Promise<Served> {
  const port = await freePort();
  const adminPort = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port), '--admin-port', String(adminPort), '--data', data, '--log-level', 'warn', ...flags],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const deadline = Date.now() + 30_000;
  while (!/^store: /m.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`pqscep serve did not start:\n${out}\n${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, stdout: out, base: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${adminPort}` };
}

afterAll(async () => {
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined
    : new Promise((resolve) => { c.once('exit', resolve); c.kill('SIGTERM'); }))));
  rmSync(work, { recursive: true, force: true });
});

const lines = (s: string) => s.split('\n').filter(Boolean);

async function caps(base: string, path: string): Promise<{ status: number; lines: string[] }> {
  const res = await fetch(`${base}${path}?operation=GetCACaps`);
  return { status: res.status, lines: lines(await res.text()) };
}

/** Polls every 50 ms until `check` holds; returns the milliseconds it took. */
async function until(check: () => Promise<boolean>, limitMs: number): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - start;
}

describe('pqscep fleet against a running server', () => {
  let s: Served;
  const data = join(work, 'data');
  const viaData = ['--data', data];
  let viaAdmin: string[];

  beforeAll(async () => {
    s = await serve(data, ['--admin-token', TOKEN]);
    viaAdmin = ['--admin', s.admin, '--token', TOKEN];
  });

  it('serve prints one line saying where the admin API listens and where its token comes from', () => {
    expect(lines(s.stdout).filter((l) => l.startsWith('admin API on'))).toEqual([`admin API on ${s.admin} (token from --admin-token)`]);
    expect(s.stdout).not.toContain(TOKEN);
  });

  it('fleet create --data: /scep/<name> answers GetCACaps with the profile\'s keywords; an unknown fleet is 404', async () => {
    expect(lines(await ok(['fleet', 'create', 'routers', '--profile', 'pq-ml-dsa-65', ...viaData])))
      .toEqual(['fleet routers created with profile pq-ml-dsa-65; SCEP endpoint /scep/routers']);
    await until(async () => (await caps(s.base, '/scep/routers')).status === 200, 2_000);
    for (const path of ['/scep/routers', '/scep/routers/pkiclient.exe']) {
      const c = await caps(s.base, path);
      expect(c.lines).toEqual(expect.arrayContaining(['ML-DSA-65', 'ML-KEM-768', 'AES']));
      expect(c.lines).not.toContain('DES3');
    }
    expect((await caps(s.base, '/scep/printers')).status).toBe(404);
  });

  it('fleet create --admin: the fleet answers as soon as the command returns', async () => {
    await ok(['fleet', 'create', 'cams', '--profile', 'classic-rsa', ...viaAdmin]);
    const c = await caps(s.base, '/scep/cams');
    expect(c.status).toBe(200);
    expect(c.lines).toEqual(expect.arrayContaining(['AES', 'SHA-256', 'SCEPStandard']));
    expect(c.lines).not.toContain('ML-DSA-65');
  });

  it('fleet set-profile --data is picked up by the running server within a second or two', async () => {
    // classic-rsa's CA exists already (cams): this measures the pick-up, not CA creation.
    expect(lines(await ok(['fleet', 'set-profile', 'routers', 'classic-rsa', ...viaData]))).toEqual(['fleet routers: switched pq-ml-dsa-65 -> classic-rsa']);
    const took = await until(async () => !(await caps(s.base, '/scep/routers')).lines.includes('ML-DSA-65'), 5_000);
    expect(took).toBeLessThan(2_000);
  });

  it('fleet set-profile --admin applies before the command returns', async () => {
    expect(lines(await ok(['fleet', 'set-profile', 'routers', 'pq-ml-dsa-65', ...viaAdmin]))).toEqual(['fleet routers: switched classic-rsa -> pq-ml-dsa-65']);
    expect((await caps(s.base, '/scep/routers')).lines).toContain('ML-DSA-65');
  });

  it('fleet rollback returns to the previous profile, either way', async () => {
    expect(lines(await ok(['fleet', 'rollback', 'routers', ...viaAdmin]))).toEqual(['fleet routers: rolled back pq-ml-dsa-65 -> classic-rsa']);
    expect((await caps(s.base, '/scep/routers')).lines).not.toContain('ML-DSA-65');
    expect(lines(await ok(['fleet', 'rollback', 'routers', ...viaData]))).toEqual(['fleet routers: rolled back classic-rsa -> pq-ml-dsa-65']);
    await until(async () => (await caps(s.base, '/scep/routers')).lines.includes('ML-DSA-65'), 2_000);
  });

  it('set-profile --at (future) --overlap: fleet list shows the pending switch; the fleet keeps its profile', async () => {
    const at = '2031-03-01T02:00:00Z';
    expect(lines(await ok(['fleet', 'set-profile', 'cams', 'modern-ecc', '--at', at, '--overlap', '15m', ...viaData]))).toEqual([
      'fleet cams: switch classic-rsa -> modern-ecc (CA announced from 2031-03-01T02:00:00.000Z; current from 2031-03-01T02:15:00.000Z)']);
    const list = lines(await ok(['fleet', 'list', ...viaData]));
    expect(list[0]).toMatch(/^FLEET\s+ENDPOINT\s+PROFILE\s+PREVIOUS\s+PENDING SWITCH$/);
    expect(list.slice(1).map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
      ['cams', '/scep/cams', 'classic-rsa', '-'],
      ['default', '/scep', 'flags', '-'],
      ['routers', '/scep/routers', 'pq-ml-dsa-65', 'classic-rsa'],
    ]);
    expect(list[1]).toMatch(/modern-ecc \(CA announced from 2031-03-01T02:00:00\.000Z; current from 2031-03-01T02:15:00\.000Z\)$/);
    const cams = (JSON.parse(await ok(['fleet', 'list', '--json', ...viaAdmin])) as { name: string }[]).find((f) => f.name === 'cams');
    expect(cams).toMatchObject({ profile: 'classic-rsa', next: { profile: 'modern-ecc', announceAt: '2031-03-01T02:00:00.000Z', effectiveAt: '2031-03-01T02:15:00.000Z', announcing: false } });
    await new Promise((r) => setTimeout(r, 1_100)); // two polls of the server
    expect((await caps(s.base, '/scep/cams')).lines).toContain('SCEPStandard');
  });

  it('--data and --admin print the same: fleet list (text and --json), audit list --json, audit verify', async () => {
    for (const args of [['fleet', 'list'], ['fleet', 'list', '--json'], ['audit', 'list', '--json'], ['audit', 'list'], ['audit', 'verify']]) {
      expect(await ok([...args, ...viaAdmin]), args.join(' ')).toBe(await ok([...args, ...viaData]));
    }
  });

  it('the audit log has who, from and to for every switch; audit verify counts the records', async () => {
    const records = JSON.parse(await ok(['audit', 'list', '--json', ...viaData])) as { seq: number; actor: string; action: string; subject: string; details?: Record<string, unknown> }[];
    const routers = records.filter((r) => r.subject === 'routers');
    expect(routers.map((r) => [r.actor, r.action, r.details?.from, r.details?.to])).toEqual([
      ['cli', 'fleet.create', undefined, undefined],
      ['cli', 'fleet.switch', 'pq-ml-dsa-65', 'classic-rsa'],
      ['admin-api@127.0.0.1', 'fleet.switch', 'classic-rsa', 'pq-ml-dsa-65'],
      ['admin-api@127.0.0.1', expect.stringMatching(/^fleet\.(switch|rollback)$/), 'pq-ml-dsa-65', 'classic-rsa'],
      ['cli', expect.stringMatching(/^fleet\.(switch|rollback)$/), 'classic-rsa', 'pq-ml-dsa-65'],
    ]);
    expect(lines(await ok(['audit', 'verify', ...viaData]))).toEqual([`audit log intact: ${records.length} records`]);
    const text = lines(await ok(['audit', 'list', ...viaData]));
    expect(text).toHaveLength(records.length);
    expect(text.find((l) => / {2}admin-api@127\.0\.0\.1 {2}fleet\.switch {2}routers {2}/.test(l)))
      .toMatch(/^\d+ {2}\S+Z {2}admin-api@127\.0\.0\.1 {2}fleet\.switch {2}routers {2}announceAt=\S+Z {2}effectiveAt=\S+Z {2}from=classic-rsa {2}to=pq-ml-dsa-65$/);
  });

  it('fleet status and fleet dry-run print the same through --data and --admin', async () => {
    const text = await ok(['fleet', 'status', 'routers', '--expiring', '7d', ...viaData]);
    expect(text).toMatch(/^fleet routers: profile pq-ml-dsa-65 \(previously classic-rsa\)\n/);
    expect(text).toMatch(/expiring within 7 days: 0/);
    expect(await ok(['fleet', 'status', 'routers', '--expiring', '7d', ...viaAdmin])).toBe(text);
    // --json carries the time it describes (`at`); everything else is the same
    const withoutAt = (out: string) => ({ ...(JSON.parse(out) as object), at: undefined });
    const json = withoutAt(await ok(['fleet', 'status', 'routers', '--json', ...viaData]));
    expect(json).toMatchObject({ fleet: 'routers', profile: 'pq-ml-dsa-65', certificates: { active: 0, expiringWithinDays: 30 } });
    expect(withoutAt(await ok(['fleet', 'status', 'routers', '--json', ...viaAdmin]))).toEqual(json);
    const all = await ok(['fleet', 'status', ...viaAdmin]);
    expect(all.match(/^fleet \S+: profile/gm)).toEqual(['fleet cams: profile', 'fleet default: profile', 'fleet routers: profile']);
    const dry = await ok(['fleet', 'dry-run', 'routers', '--profile', 'classic-rsa', ...viaData]);
    expect(dry).toMatch(/^fleet routers: dry run of classic-rsa \(now pq-ml-dsa-65\)/);
    expect(await ok(['fleet', 'dry-run', 'routers', '--profile', 'classic-rsa', ...viaAdmin])).toBe(dry);
    expect(await ok(['fleet', 'dry-run', 'routers', '--profile', 'classic-rsa', '--json', ...viaAdmin]))
      .toBe(await ok(['fleet', 'dry-run', 'routers', '--profile', 'classic-rsa', '--json', ...viaData]));
  });

  it('--admin without --token takes PQSCEP_ADMIN_TOKEN', async () => {
    expect(await ok(['fleet', 'list', '--admin', s.admin], { ...baseEnv(), PQSCEP_ADMIN_TOKEN: TOKEN })).toBe(await ok(['fleet', 'list', ...viaData]));
  });

  it('without --data takes PQSCEP_DATA as serve reads it: padded by an env file with CRLF lines', async () => {
    expect(await ok(['fleet', 'list'], { ...baseEnv(), PQSCEP_DATA: ` ${data}\r` })).toBe(await ok(['fleet', 'list', ...viaData]));
  });

  // Independent of each other and read-only: run side by side.
  it.concurrent.each([
    ['an unknown profile (--data)', () => ['fleet', 'set-profile', 'routers', 'nope', ...viaData], /^no profile named "nope"; profiles: classic-rsa, .*pq-ml-dsa-65/],
    ['an unknown profile (--admin)', () => ['fleet', 'set-profile', 'routers', 'nope', ...viaAdmin], /^no profile named "nope"; profiles: classic-rsa, .*pq-ml-dsa-65/],
    ['an unknown fleet (--data)', () => ['fleet', 'set-profile', 'nope', 'classic-rsa', ...viaData], /^no fleet named "nope"; create it with: pqscep fleet create nope --profile P$/],
    ['an unknown fleet (--admin)', () => ['fleet', 'rollback', 'nope', ...viaAdmin], /^no fleet named "nope"/],
    ['an invalid fleet name', () => ['fleet', 'create', 'Bad_Name', '--profile', 'classic-rsa', ...viaData], /^fleet names are lowercase letters/],
    ['an invalid fleet name (--admin)', () => ['fleet', 'create', 'Bad_Name', '--profile', 'classic-rsa', ...viaAdmin], /^fleet names are lowercase letters/],
    ['an existing fleet', () => ['fleet', 'create', 'routers', '--profile', 'classic-rsa', ...viaAdmin], /^fleet routers exists/],
    ['create without --profile', () => ['fleet', 'create', 'x', ...viaData], /--profile/],
    ['a malformed --at', () => ['fleet', 'set-profile', 'routers', 'classic-rsa', '--at', 'tomorrow', ...viaAdmin], /^invalid time "tomorrow"/],
    ['a malformed --overlap', () => ['fleet', 'set-profile', 'routers', 'classic-rsa', '--overlap', '5x', ...viaData], /^invalid duration "5x"/],
    ['dry-run with an unknown profile', () => ['fleet', 'dry-run', 'routers', '--profile', 'nope', ...viaAdmin], /^no profile named "nope"/],
    ['status of an unknown fleet', () => ['fleet', 'status', 'nope', ...viaData], /^no fleet named "nope"/],
    ['a malformed --expiring', () => ['fleet', 'status', 'routers', '--expiring', 'soon', ...viaData], /^invalid duration "soon"/],
    ['audit list --from in hex (Number() would read 16)', () => ['audit', 'list', '--from', '0x10', ...viaData], /^invalid --from "0x10": use a sequence number from 1$/],
    ['audit list --from empty (Number() would read 0)', () => ['audit', 'list', '--from', ' ', ...viaData], /^invalid --from " ": use a sequence number from 1$/],
    ['--data and --admin together', () => ['fleet', 'list', ...viaData, ...viaAdmin], /either --data DIR or --admin URL/],
    ['--admin without a token', () => ['fleet', 'list', '--admin', s.admin], /--admin needs a token/],
    ['a wrong token', () => ['fleet', 'list', '--admin', s.admin, '--token', 'wrong-token-0123456789'], /refused the token \(401\)/],
    ['a data folder without a database', () => ['fleet', 'list', '--data', join(work, 'empty')], /^no pqscep database in /],
    ['the SCEP port as --admin', () => ['fleet', 'list', '--admin', s.base, '--token', TOKEN], /answered HTTP 404/],
    ['an unknown subcommand', () => ['fleet', 'frobnicate'], /unknown command/],
  ])('%s: exit 1 and one line', async (_, args, reason) => {
    expect(await fails(args())).toMatch(reason);
  });
});

describe('pqscep serve: the admin API token file and --no-admin', () => {
  it('generates the token once into <data>/admin-token.txt (mode 0600) and says so; the CLI uses it', async () => {
    const data = join(work, 'generated');
    const s = await serve(data);
    expect(lines(s.stdout)).toContain(`admin API on ${s.admin} (token in ${join(data, 'admin-token.txt')})`);
    expect(statSync(join(data, 'admin-token.txt')).mode & 0o777).toBe(0o600);
    const token = readFileSync(join(data, 'admin-token.txt'), 'utf8').trim();
    expect(lines(await ok(['fleet', 'list', '--admin', s.admin, '--token', token]))).toHaveLength(2);
    s.child.kill('SIGTERM');
  });

  it('--no-admin: no admin line, nothing listens', async () => {
    const s = await serve(join(work, 'no-admin'), ['--no-admin']);
    expect(s.stdout).not.toMatch(/admin API/);
    expect(await fails(['fleet', 'list', '--admin', s.admin, '--token', TOKEN])).toMatch(/cannot reach the admin API/);
    s.child.kill('SIGTERM');
  });
});

describe('pqscep audit verify on a tampered log', () => {
  it('exits 1 naming the first record that does not fit', async () => {
    const data = join(work, 'tampered');
    mkdirSync(data);
    const store = openSqliteStore(join(data, 'pqscep.db'));
    for (const name of ['a', 'b', 'c']) store.saveFleet({ name, profile: 'classic-rsa', updatedAt: new Date() }, { actor: 'cli', action: 'fleet.create', subject: name, details: { profile: 'classic-rsa' } });
    store.close();
    expect(lines(await ok(['audit', 'verify', '--data', data]))).toEqual(['audit log intact: 3 records']);
    const db = new Database(join(data, 'pqscep.db'));
    db.exec('DROP TRIGGER audit_no_update');
    db.prepare("UPDATE audit SET actor = 'someone-else' WHERE seq = 2").run();
    db.close();
    expect(await fails(['audit', 'verify', '--data', data])).toBe('audit log broken at seq 2: hash does not match the record content');
  });
});
