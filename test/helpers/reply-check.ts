/**
 * Judges one HTTP answer of a SCEP server against RFC 8894's allowed shapes (no assertions:
 * returns what is wrong, or undefined): a 4xx with a non-empty one-line text reason (§4: the
 * transaction is not identified), or a 200 whose PKIOperation body is a CertRep (§3.3.2) signed
 * by one of the server's CA/RA certificates, with messageType CertRep, a transactionID, a
 * recipientNonce, and pkiStatus FAILURE with a failInfo 0..4 (§3.2.1.4) or SUCCESS with content.
 * Anything else (a 5xx, a 3xx, a stack trace) is a problem.
 * Leaves out: opening a SUCCESS envelope (the fuzzer does not hold the keys of every mutation).
 */
import type { Certificate } from '@peculiar/asn1-x509';
import { parseSignedData, spkiOf, verifySignerInfo } from '../../src/cms/signed-data.ts';
import { identifies } from '../../src/cms/signed-data.ts';
import type { Registry } from '../../src/crypto/registry.ts';
import { readOctets, readString } from '../../src/scep/attributes.ts';
import { ContentType, FailInfo, MessageType, PkiStatus, ScepOid } from '../../src/scep/message.ts';

export interface HttpAnswer {
  readonly status: number;
  readonly type: string;
  readonly body: Uint8Array;
}

/** What is wrong with a 4xx: a reason must be one non-empty line of text, with no stack frames. */
export function badClientError(a: HttpAnswer): string | undefined {
  const text = Buffer.from(a.body).toString('utf8');
  if (!a.type.startsWith('text/plain')) return `HTTP ${a.status} with content type ${a.type || '(none)'}`;
  if (!/^[^\n]+\n?$/.test(text)) return `HTTP ${a.status} body is not one line: ${JSON.stringify(text.slice(0, 200))}`;
  if (/\bat .*:\d+:\d+/.test(text)) return `HTTP ${a.status} body holds a stack frame: ${text.slice(0, 200)}`;
  return undefined;
}

/** What is wrong with a PKIOperation 200 body, judged as a CertRep signed by one of `trusted`. */
export function badCertRep(body: Uint8Array, trusted: readonly Certificate[], registry: Registry): string | undefined {
  try {
    const sd = parseSignedData(body);
    const signer = sd.signedData.signerInfos[0];
    if (sd.signedData.signerInfos.length !== 1) return `CertRep has ${sd.signedData.signerInfos.length} SignerInfos`;
    const cert = trusted.find((c) => identifies(signer.sid, c));
    if (!cert) return 'CertRep is not signed by a CA/RA certificate of the server';
    verifySignerInfo(sd, signer, spkiOf(cert), registry);
    const attrs = signer.signedAttrs;
    if (readString(attrs, ScepOid.messageType) !== MessageType.CertRep) return 'reply messageType is not CertRep';
    if (!readString(attrs, ScepOid.transactionID)) return 'CertRep without transactionID';
    if (!readOctets(attrs, ScepOid.recipientNonce)) return 'CertRep without recipientNonce';
    const status = readString(attrs, ScepOid.pkiStatus);
    if (status === PkiStatus.FAILURE) {
      const failInfo = readString(attrs, ScepOid.failInfo);
      if (!failInfo || !Object.values(FailInfo).includes(failInfo as never)) return `CertRep FAILURE with failInfo ${JSON.stringify(failInfo)}`;
      return undefined;
    }
    if (status === PkiStatus.SUCCESS) return sd.content?.length ? undefined : 'CertRep SUCCESS without content';
    return `CertRep with pkiStatus ${JSON.stringify(status)}`;
  } catch (err) {
    return `200 body is not a valid CertRep: ${(err as Error).message}`;
  }
}

/**
 * What is wrong with any answer: `pkiOperation` says whether the request was a PKIOperation
 * (then a 200 must be a CertRep); other 200s must at least carry a SCEP content type.
 */
export function badAnswer(a: HttpAnswer, pkiOperation: boolean, trusted: readonly Certificate[], registry: Registry): string | undefined {
  if (a.status >= 500) return `HTTP ${a.status}: ${Buffer.from(a.body).toString('utf8').slice(0, 200)}`;
  if (a.status >= 400) return badClientError(a);
  if (a.status !== 200) return `HTTP ${a.status}`;
  if (pkiOperation || a.type.startsWith(ContentType.pkiMessage)) {
    if (!a.type.startsWith(ContentType.pkiMessage)) return `PKIOperation answered with content type ${a.type}`;
    return badCertRep(a.body, trusted, registry);
  }
  return Object.values(ContentType).some((t) => a.type.startsWith(t)) ? undefined : `200 with content type ${a.type}`;
}

