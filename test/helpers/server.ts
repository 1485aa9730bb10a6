/**
 * Test fixtures (no assertions): an in-process pqscep server on an ephemeral loopback port
 * with a temporary data folder and a silent logger, and a SCEP client identity that builds
 * requests with our client library for protocol tests.
 */
import type { Certificate } from '@peculiar/asn1-x509';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALGORITHMS } from '../../algorithms/index.ts';
import { buildCsr, selfSignedSigner } from '../../src/client/csr.ts';
import { getCaCerts } from '../../src/client/http.ts';
import { pickRecipient } from '../../src/client/enroll.ts';
import { buildPkiRequest, readCertRep, transactionIdFor, type BuiltRequest, type CertRepResult } from '../../src/client/pki-request.ts';
import { parseConfig, type ServerConfig } from '../../src/config.ts';
import { createRegistry, type Registry } from '../../src/crypto/registry.ts';
import type { PrivateKeyHandle } from '../../src/crypto/types.ts';
import type { Logger } from '../../src/scep/env.ts';
import type { MessageTypeName } from '../../src/scep/message.ts';
import { startServer, type RunningServer } from '../../src/server.ts';

export const CHALLENGE = 'test-challenge-0123';

const noop = () => {};
export const silentLog: Logger = { info: noop, warn: noop, error: noop };

export interface TestServer extends RunningServer {
  readonly dataDir: string;
  stop(): Promise<void>;
}

/**
 * Starts a server on 127.0.0.1:0 in a fresh temp data folder (or `dataDir`), its admin API on
 * another free loopback port (`server.admin`: URL and token; `admin: false` turns it off).
 */
export async function testServer(overrides: Partial<ServerConfig> = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), 'pqscep-test-'));
  const config = parseConfig({ port: 0, host: '127.0.0.1', challenge: CHALLENGE, logLevel: 'silent', adminPort: 0, ...overrides, dataDir });
  const server = await startServer(config, silentLog);
  // Inherit from the running server so live getters (env follows fleet switches) keep working.
  return Object.assign(Object.create(server) as RunningServer, {
    dataDir,
    async stop() {
      await server.close();
      if (!overrides.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/** The folder holding the default fleet's CA and RA keys and certificates (data/ca/<CA key type>/). */
export const caDir = (server: TestServer): string => join(server.dataDir, 'ca', server.env.ca.key.keyType);

/** Every algorithm enabled, legacy included: the client side of tests may send anything. */
export const clientRegistry: Registry = createRegistry(ALGORITHMS, { allowLegacy: true });

export interface Device {
  readonly key: PrivateKeyHandle;
  readonly subject: string;
  readonly signer: Certificate;
  readonly transactionId: string;
  readonly caCerts: Certificate[];
  readonly recipient: Certificate;
}

/** A client with a fresh RSA key and a self-signed signer certificate, knowing the server's CA/RA. */
export async function device(url: string, subject = 'CN=device-1,O=Test', keyType = 'rsa-2048'): Promise<Device> {
  const key = await clientRegistry.byName('key', keyType).generate();
  const { certificates } = await getCaCerts(url);
  return {
    key,
    subject,
    signer: await selfSignedSigner(subject, key, clientRegistry),
    transactionId: transactionIdFor(key.spki),
    caCerts: certificates,
    recipient: pickRecipient(certificates),
  };
}

export interface RequestSpec {
  readonly messageType?: MessageTypeName;
  readonly payload?: Uint8Array;
  readonly challenge?: string;
  readonly cipher?: string;
  readonly digest?: string;
  readonly signer?: { certificate: Certificate; key: PrivateKeyHandle };
  readonly recipient?: Certificate;
  readonly sans?: readonly string[];
}

/** Builds a pkiMessage from `d` (a PKCSReq with a fresh CSR unless `payload` is given). */
export async function request(d: Device, spec: RequestSpec = {}): Promise<BuiltRequest> {
  const payload = spec.payload ?? (await buildCsr({ subject: d.subject, key: d.key, challenge: spec.challenge ?? CHALLENGE, sans: spec.sans }, clientRegistry));
  return buildPkiRequest({
    messageType: spec.messageType ?? 'PKCSReq',
    transactionId: d.transactionId,
    payload,
    recipient: spec.recipient ?? d.recipient,
    signerCert: spec.signer?.certificate ?? d.signer,
    key: spec.signer?.key ?? d.key,
    cipher: clientRegistry.byName('cipher', spec.cipher ?? 'AES-128-CBC'),
    digest: clientRegistry.byName('digest', spec.digest ?? 'SHA-256'),
  }, clientRegistry);
}

/** POSTs a PKIOperation and returns the HTTP status, content type and body. */
export async function post(url: string, body: Uint8Array): Promise<{ status: number; type: string; body: Uint8Array }> {
  const res = await fetch(`${url}?operation=PKIOperation`, { method: 'POST', body: Buffer.from(body) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: new Uint8Array(await res.arrayBuffer()) };
}

/** Sends `req` and reads the CertRep as a client would (signature, nonces, transactionID checked). */
export async function exchange(url: string, d: Device, req: BuiltRequest, me?: { certificate: Certificate; key: PrivateKeyHandle }): Promise<CertRepResult & { der: Uint8Array }> {
  const res = await post(url, req.der);
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${Buffer.from(res.body).toString()}`);
  const result = await readCertRep(res.body, req, d.caCerts, me ?? { certificate: d.signer, key: d.key }, clientRegistry);
  return Object.assign(result, { der: res.body });
}
