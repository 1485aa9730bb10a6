/**
 * RFC 8894 closed sets as `as const` tables: SCEP attribute OIDs (§3.2.1), messageType
 * (§3.2.1.2), pkiStatus (§3.2.1.3), failInfo (§3.2.1.4), and the HTTP content types (§4).
 * The key is the spec's name, the value is what goes on the wire.
 * @module
 */

/** id-attributes { 2 16 840 1 113733 1 9 } (RFC 8894 §3.2.1) */
const id_attributes = '2.16.840.1.113733.1.9';
export const ScepOid = Object.freeze({
  messageType: `${id_attributes}.2`,
  pkiStatus: `${id_attributes}.3`,
  failInfo: `${id_attributes}.4`,
  senderNonce: `${id_attributes}.5`,
  recipientNonce: `${id_attributes}.6`,
  transactionID: `${id_attributes}.7`,
  /** id-scep-failInfoText { id-pkix 24 1 } (RFC 8894 §3.2.1.4) */
  failInfoText: '1.3.6.1.5.5.7.24.1',
} as const);

export const MessageType = Object.freeze({
  CertRep: '3',
  RenewalReq: '17',
  PKCSReq: '19',
  CertPoll: '20',
  GetCert: '21',
  GetCRL: '22',
} as const);
export type MessageTypeName = keyof typeof MessageType;

export const PkiStatus = Object.freeze({ SUCCESS: '0', FAILURE: '2', PENDING: '3' } as const);
export type PkiStatusName = keyof typeof PkiStatus;

export const FailInfo = Object.freeze({
  badAlg: '0',
  badMessageCheck: '1',
  badRequest: '2',
  badTime: '3',
  badCertID: '4',
} as const);
export type FailInfoName = keyof typeof FailInfo;

/** RFC 8894 §4.2.1, §4.3, §4.7, §4.5 */
export const ContentType = Object.freeze({
  caCert: 'application/x-x509-ca-cert',
  caRaCert: 'application/x-x509-ca-ra-cert',
  nextCaCert: 'application/x-x509-next-ca-cert',
  pkiMessage: 'application/x-pki-message',
  caps: 'text/plain',
} as const);

/** Reverse lookup of a table value; undefined if the value is not in the table. */
export function nameOf<T extends Record<string, string>>(table: T, value: string): keyof T | undefined {
  return (Object.keys(table) as (keyof T)[]).find((k) => table[k] === value);
}
