/**
 * CMS object identifiers used by pqscep (RFC 5652 §14, RFC 5083 §1.1, RFC 2985 §5.3-5.4).
 * Algorithm OIDs live with their implementations in `algorithms/`.
 * @module
 */
/** pkcs-7 { iso(1) member-body(2) us(840) rsadsi(113549) pkcs(1) 7 } */
const pkcs7 = '1.2.840.113549.1.7';
/** pkcs-9 { iso(1) member-body(2) us(840) rsadsi(113549) pkcs(1) 9 } */
const pkcs9 = '1.2.840.113549.1.9';

export const id_data = `${pkcs7}.1`;
export const id_signedData = `${pkcs7}.2`;
export const id_envelopedData = `${pkcs7}.3`;
/** id-ct-authEnvelopedData { ... pkcs-9(9) smime(16) ct(1) 23 } (RFC 5083 §1.1) */
export const id_ct_authEnvelopedData = `${pkcs9}.16.1.23`;

/** Signed attributes, RFC 5652 §11 */
export const id_contentType = `${pkcs9}.3`;
export const id_messageDigest = `${pkcs9}.4`;
export const id_signingTime = `${pkcs9}.5`;

/** PKCS#9 attributes in a PKCS#10 request (RFC 2985 §5.4.1, §5.4.2) */
export const id_challengePassword = `${pkcs9}.7`;
export const id_extensionRequest = `${pkcs9}.14`;
/** smimeCapabilities (RFC 8551 §2.5.2): ciphers a client says it supports */
export const id_smimeCapabilities = `${pkcs9}.15`;
