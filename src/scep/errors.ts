/**
 * The two ways a SCEP request fails (RFC 8894 §3.3.2, and the boundary drawn in
 * docs/style.md B3): a ScepError once the transaction is identified (it becomes a signed
 * CertRep with pkiStatus FAILURE and its failInfo), a ProtocolError before that (plain HTTP
 * status with a one-line reason). Messages are for logs; the client gets a generic text.
 * @module
 */
import type { FailInfoName } from './message.ts';

export class ScepError extends Error {
  override readonly name = 'ScepError';
  constructor(readonly failInfo: FailInfoName, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export type HttpStatus = 400 | 403 | 404 | 405 | 413 | 415 | 429 | 503;

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(readonly status: HttpStatus, message: string) {
    super(message);
  }
}

/** Client-facing failInfoText per failInfo: generic on purpose (details stay in our log). */
export const FAIL_TEXT: Readonly<Record<FailInfoName, string>> = Object.freeze({
  badAlg: 'unsupported or disallowed algorithm',
  badMessageCheck: 'message check failed',
  badRequest: 'request not permitted',
  badTime: 'signing time out of range',
  badCertID: 'no matching certificate',
});
