/**
 * `npm run bench:floor`: what one RSA-2048 enrollment costs at the least with the libraries this
 * project builds on, beside the CPU budget the issue 5 throughput target leaves. It takes one
 * real enrollment (pqscep client and in-process server: PKCSReq, CSR, CertRep, certificate)
 * and times, each alone in a loop, the work no RFC 8894 server can skip:
 *  - ASN.1 with asn1js and @peculiar/asn1-schema, each message decoded once and mapped onto its
 *    schema once (the pkiMessage's SignedData and EnvelopedData, the CSR); each structure of the
 *    reply encoded once (the TBSCertificate, the CertRep's EnvelopedData and SignedData, with
 *    the unchanging CA certificate left out);
 *  - RSA through node:crypto: the private-key operations (unwrap the content key, sign the
 *    certificate, sign the CertRep) and the two verifications (SignerInfo, CSR);
 *  - bare HTTP: a node:http server answering a POST of the PKCSReq's size with a body of the
 *    CertRep's size, and the node:http client that sends it (child process, keep-alive, 16 in flight).
 * The budget: both cores for server and load generator together, at 2.5x the scepserver rate of
 * the last `npm run bench:load` (bench/results/load-latest.json), concurrency 16.
 * Leaves out: SQLite (its fsync is a wait, not CPU), policy, hashing and AES (small), garbage
 * collection. Figures, not a target; the first thing a cheaper design would have to beat.
 * @module
 */
import { ContentInfo, EnvelopedData, SignedData } from '@peculiar/asn1-cms';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AsnConvert, AsnParser, OctetString } from '@peculiar/asn1-schema';
import * as asn1js from 'asn1js';
import { constants, generateKeyPairSync, privateDecrypt, randomBytes, sign, verify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { buildCsr, selfSignedSigner } from '../src/client/csr.ts';
import { pickRecipient } from '../src/client/enroll.ts';
import { getCaCerts } from '../src/client/http.ts';
import { buildPkiRequest, readCertRep, transactionIdFor } from '../src/client/pki-request.ts';
import { pkiOperation } from '../src/scep/pki-operation.ts';
import { bareHttp } from './floor-http.ts';
import { CHALLENGE, clientRegistry, selectSuites, startSuiteServer } from './suites.ts';

/**
 * Microseconds of process CPU time (user + system) per call of `fn`, after a warm-up: CPU, as the
 * table says and as the HTTP rows and the budget are, not wall-clock time, which other processes
 * on the machine would add to.
 */
function perCall(fn: () => unknown, n: number): number {
  for (let i = 0; i < Math.max(20, n / 10); i++) fn();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

/** One real RSA-2048 enrollment's messages. */
async function oneEnrollment() {
  const [suite] = selectSuites(['rsa-2048'], false);
  const server = await startSuiteServer(suite, 'noble');
  try {
    const registry = clientRegistry;
    const key = await registry.byName('key', suite.clientKey).generate();
    const { certificates: caCerts } = await getCaCerts(server.url);
    const csr = await buildCsr({ subject: 'CN=floor', key, challenge: CHALLENGE }, registry);
    const me = { certificate: await selfSignedSigner('CN=floor', key, registry), key };
    const request = await buildPkiRequest({
      messageType: 'PKCSReq', transactionId: transactionIdFor(key.spki), payload: csr, recipient: pickRecipient(caCerts, registry, false),
      signerCert: me.certificate, key, cipher: registry.byName('cipher', 'AES-256-CBC'), digest: registry.byName('digest', 'SHA-256'),
    }, registry);
    const reply = await pkiOperation(request.der, server.env);
    const rep = await readCertRep(reply, request, caCerts, [me], registry);
    if (rep.status !== 'SUCCESS') throw new Error(`floor: the enrollment answered ${rep.status}`);
    return { request: request.der, csr, reply, certificate: rep.certificates[0] };
  } finally {
    await server.close();
  }
}

/** The eContent of a parsed SignedData: a pkcsPKIEnvelope's bytes. */
const eContentOf = (sd: SignedData): ArrayBuffer => {
  const c = sd.encapContentInfo.eContent;
  const v = c?.single ?? c?.any;
  if (!v) throw new Error('floor: a SignedData without content');
  return v instanceof OctetString ? v.buffer : v;
};

const m = await oneEnrollment();
// Each message decoded by asn1js once (its pkcsPKIEnvelope, an OCTET STRING's content, comes
// parsed with it) and mapped onto the schema once; each structure written encoded once.
const tree = (der: Uint8Array) => asn1js.fromBER(der).result;
const contentNode = (ci: asn1js.AsnType) => ((ci as asn1js.Sequence).valueBlock.value[1] as asn1js.Constructed).valueBlock.value[0];
const requestTree = tree(m.request);
const signedDataNode = contentNode(requestTree);
const requestSd = AsnParser.fromASN<SignedData>(signedDataNode, SignedData);
const envelopeNode = contentNode(tree(new Uint8Array(eContentOf(requestSd))));
const csrTree = tree(m.csr);
const replySd = AsnConvert.parse(AsnConvert.parse(m.reply, ContentInfo).content, SignedData);
const replyEnvelope = AsnConvert.parse(AsnConvert.parse(eContentOf(replySd), ContentInfo).content, EnvelopedData);
// The CA certificate goes into every CertRep unchanged: written as the DER it has, not counted here.
const replySdWithoutCa = Object.assign(new SignedData(), replySd, { certificates: undefined });
/** Decoding every design must do: asn1js is the project's only BER/DER reader. */
const decode = [
  ['asn1js: decode the pkiMessage (its envelope included)', perCall(() => tree(m.request), 2000)],
  ['asn1js: decode the CSR', perCall(() => tree(m.csr), 2000)],
] as const;
/** Schema mapping and writing with @peculiar/asn1-schema's plain calls: pqscep does less of some (pre-encoded values). */
const schema = [
  ['map the SignedData onto its schema', perCall(() => AsnParser.fromASN(signedDataNode, SignedData), 2000)],
  ['map the EnvelopedData onto its schema', perCall(() => AsnParser.fromASN(envelopeNode, EnvelopedData), 2000)],
  ['map the CSR onto its schema', perCall(() => AsnParser.fromASN(csrTree, CertificationRequest), 2000)],
  ['write the TBSCertificate', perCall(() => AsnConvert.serialize(m.certificate.tbsCertificate), 2000)],
  ["write the CertRep's EnvelopedData", perCall(() => AsnConvert.serialize(replyEnvelope), 2000)],
  ["write the CertRep's SignedData (CA certificate aside)", perCall(() => AsnConvert.serialize(replySdWithoutCa), 2000)],
] as const;

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const block = Buffer.concat([Buffer.from([0]), randomBytes(255)]); // below the modulus: a raw private-key operation
const data = randomBytes(1000);
const signature = sign('sha256', data, privateKey);
const privateOp = perCall(() => privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, block), 1000);
const rsa = [
  ['RSA-2048: private-key operations (x3: content key, certificate, CertRep)', 3 * privateOp],
  ['RSA-2048: verifications (x2: SignerInfo, CSR)', 2 * perCall(() => verify('sha256', data, publicKey, signature), 3000)],
] as const;

const http = await bareHttp(m.request.length, m.reply.length, 20_000);

const loadFile = fileURLToPath(new URL('results/load-latest.json', import.meta.url));

const ms = (us: number) => (us / 1000).toFixed(3);
const sum = (rows: readonly (readonly [string, number])[]) => rows.reduce((a, [, us]) => a + us, 0);
const rows = (rows: readonly (readonly [string, number])[]) => rows.map(([what, us]) => `| ${what} | ${ms(us)} |`);
const floor = sum(decode) + sum(rsa) + http.serverUs + http.clientUs;
const lines = [
  `# Floor of one RSA-2048 enrollment (${cpus()[0]?.model.trim()}, ${cpus().length} cores, Node ${process.version})`, '',
  `Messages: PKCSReq ${m.request.length} B, CSR ${m.csr.length} B, CertRep ${m.reply.length} B. CPU time per call, each alone in a loop.`, '',
  '| work every design does | ms of CPU |', '|---|---:|',
  ...rows(decode), ...rows(rsa),
  `| HTTP: bare node:http server, one request | ${ms(http.serverUs)} |`,
  `| HTTP: bare node:http client (the load generator), one request | ${ms(http.clientUs)} |`,
  `| **floor** | **${ms(floor)}** |`, '',
  '| @peculiar/asn1-schema, plain calls (pqscep avoids part of this) | ms of CPU |', '|---|---:|',
  ...rows(schema),
  `| **sum** | **${ms(sum(schema))}** |`, '',
];
const load = existsSync(loadFile) ? (JSON.parse(readFileSync(loadFile, 'utf8')) as LoadResult) : undefined;
const scepserver = load && at16(load, 'scepserver')?.enrollmentsPerSec;
if (load && scepserver) {
  const budget = (cpus().length * 1000) / (2.5 * scepserver);
  const pqscep = at16(load, 'pqscep')?.serverCpuMsPerEnrollment;
  lines.push(`Budget at 2.5x scepserver (${scepserver} enrollments/s at concurrency 16, bench/results/load-latest.json of ${load.date}): ` +
    `${cpus().length} cores / ${(2.5 * scepserver).toFixed(1)} per s = ${budget.toFixed(3)} ms of CPU per enrollment, server and load generator together. ` +
    `The floor takes ${Math.round((100 * floor) / 1000 / budget)}% of it, leaving ${(budget - floor / 1000).toFixed(3)} ms for schema mapping, writing, policy, SQLite and garbage collection` +
    (pqscep ? `; pqscep spent ${pqscep} ms of server CPU per enrollment in that run.` : '.'));
} else {
  lines.push('No scepserver figures in bench/results/load-latest.json: run `npm run bench:load` for the rate the budget is taken from.');
}
console.log(lines.join('\n'));

interface LoadLevel { readonly concurrency: number; readonly enrollmentsPerSec: number; readonly serverCpuMsPerEnrollment?: number }
interface LoadResult { readonly date: string; readonly servers: Record<string, { readonly levels: readonly LoadLevel[] } | undefined> }
function at16(load: LoadResult, server: string): LoadLevel | undefined {
  return load.servers[server]?.levels.find((l) => l.concurrency === 16);
}
