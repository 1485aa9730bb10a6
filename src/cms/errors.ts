/**
 * Why a CMS structure was rejected, as a closed set the SCEP layer maps to failInfo
 * (RFC 8894 §3.2.1.4.5). The message is for our logs only.
 * @module
 */
export const CmsFailure = Object.freeze({
  /** Not CMS, wrong content type, missing field, bad encoding. */
  malformed: 'malformed',
  /** An algorithm we do not know or do not allow. */
  badAlg: 'badAlg',
  /** A signature or message digest that does not verify. */
  badSignature: 'badSignature',
  /** No RecipientInfo is addressed to a key we hold, or decryption failed (never said which). */
  undecryptable: 'undecryptable',
} as const);
export type CmsFailureName = keyof typeof CmsFailure;

export class CmsError extends Error {
  override readonly name = 'CmsError';
  constructor(readonly failure: CmsFailureName, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
