/**
 * Sizes of a real enrollment per suite: pqscep's own client (src/client/enroll.ts) enrolls over
 * HTTP POST against a running server and hands every DER message to `save`; the CA's current
 * CRL is the one GetCRL would return (src/scep/queries.ts `currentCrl`). Each message is split
 * into crypto material and structure (anatomy.ts). Also the length of the GET URL the PKCSReq
 * would need (RFC 8894 §4.3: base64 in the `message` query parameter, form-encoded).
 * Leaves out: timing (throughput.ts), GetCACaps (plain text, a few hundred bytes).
 * @module
 */
import { CertificateList, type Certificate } from '@peculiar/asn1-x509';
import { enroll } from '../src/client/enroll.ts';
import { parse, serialize } from '../src/cms/der.ts';
import { parseSignedData } from '../src/cms/signed-data.ts';
import { certsOnly } from '../src/cms/signed-data-build.ts';
import { currentCrl } from '../src/scep/queries.ts';
import { anatomyOf, certificate, crl, csr, parseCertificate, signedData, type Anatomy } from './anatomy.ts';
import type { Captured } from './operations.ts';
import { CHALLENGE, clientRegistry, type BenchServer, type Suite } from './suites.ts';

export interface SuiteSizes {
  /** GetCACert reply (the view this client asks for: `message=pqc` for a post-quantum client). */
  readonly getCaCert: Anatomy;
  readonly pkcsReq: Anatomy;
  /** The PKCSReq as a GET PKIOperation: base64 length and full URL length with NOMINAL_URL. */
  readonly getUrl: { readonly base64: number; readonly url: number };
  readonly certRep: Anatomy;
  /** The issued certificate, the CA certificate, the CA's CRL (no revocations). */
  readonly certificate: Anatomy;
  readonly caCertificate: Anatomy;
  readonly crl: Anatomy;
  /** The certs-only reply inside the CertRep envelope (plaintext size). */
  readonly certRepPlaintext: number;
}

/** The server URL the GET length is computed for (a typical public name; ours is loopback). */
export const NOMINAL_URL = 'https://scep.example.com/scep';

/** RFC 8894 §4.3 GET: `?operation=PKIOperation&message=<base64>`, as src/client/http.ts encodes it. */
export function getUrlLength(der: Uint8Array): { base64: number; url: number } {
  const base64 = Buffer.from(der).toString('base64');
  const url = new URL(NOMINAL_URL);
  url.searchParams.set('operation', 'PKIOperation');
  url.searchParams.set('message', base64);
  return { base64: base64.length, url: url.href.length };
}

/** GetCACert answers a certs-only SignedData, or a lone DER certificate (RFC 8894 §4.2.1.1). */
function isSignedData(der: Uint8Array): boolean {
  try {
    parseSignedData(der);
    return true;
  } catch {
    return false;
  }
}

/** One enrollment of a fresh `suite.clientKey` device; returns the sizes and the captured messages. */
export async function measureSizes(server: BenchServer, suite: Suite): Promise<{ sizes: SuiteSizes; captured: Captured }> {
  const saved = new Map<string, Uint8Array>();
  const key = await clientRegistry.byName('key', suite.clientKey).generate();
  const enrolled = await enroll({
    url: server.url, registry: clientRegistry, key, subject: 'CN=bench-sizes,O=pqscep bench', challenge: CHALLENGE,
    method: 'POST', save: (name, der) => saved.set(name, der),
  });
  const need = (name: string) => {
    const der = saved.get(name);
    if (!der) throw new Error(`${suite.name}: enroll() did not save ${name}`);
    return der;
  };
  const [getCaCertDer, csrDer, pkcsReq, certRep] = ['getcacert.der', 'csr.der', 'pkcsreq.der', 'certrep.der'].map(need);
  const issued: Certificate = enrolled.certificate;
  const issuedDer = serialize(issued);
  const env = server.env;
  const crlDer = serialize(await currentCrl(env.ca, env));
  const plaintext = certsOnly([issued]);

  const sizes: SuiteSizes = {
    getCaCert: anatomyOf(getCaCertDer, (t) => (isSignedData(getCaCertDer) ? signedData(t, getCaCertDer, 'GetCACert') : certificate(t, parseCertificate(getCaCertDer), 'CA certificate'))),
    pkcsReq: anatomyOf(pkcsReq, (t) => signedData(t, pkcsReq, 'PKCSReq', (inner) => csr(inner, csrDer, 'encrypted CSR'))),
    getUrl: getUrlLength(pkcsReq),
    certRep: anatomyOf(certRep, (t) => signedData(t, certRep, 'CertRep', (inner) => certificate(inner, issued, 'encrypted issued certificate'))),
    certificate: anatomyOf(issuedDer, (t) => certificate(t, issued, 'issued certificate')),
    caCertificate: anatomyOf(env.ca.der, (t) => certificate(t, env.ca.certificate, 'CA certificate')),
    crl: anatomyOf(crlDer, (t) => crl(t, parse(crlDer, CertificateList, 'CertificateList'))),
    certRepPlaintext: plaintext.length,
  };
  return { sizes, captured: { csr: csrDer, pkcsReq, certRep, certificate: issued, caCertificates: enrolled.caCertificates } };
}
