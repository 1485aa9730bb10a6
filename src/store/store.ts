/**
 * The storage interface: issued certificates, answered transactions (for exact-replay answers,
 * RFC 8894 §3.3.1 idempotence), pending requests (PENDING / CertPoll, RFC 8894 §3.3.3), and CRL
 * numbers. One interface, SQLite by default (`sqlite-store.ts`). Every write is one
 * transaction: a reply is only acknowledged after its certificate and transaction rows are
 * durably committed together, so a killed process never leaves a half-written record.
 * @module
 */

export type CertificateStatus = 'valid' | 'revoked';

export interface CertificateRecord {
  /** Serial as lowercase hex of the INTEGER content octets, leading zero bytes stripped (as serialHex). */
  readonly serial: string;
  /** Subject DN as an RFC 4514 string. */
  readonly subject: string;
  /** SANs as "DNS:x", "IP:x", "email:x", "URI:x". */
  readonly sans: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Key type of the subject key, e.g. 'rsa-2048'. */
  readonly keyAlgorithm: string;
  /** Algorithm the certificate is signed with, e.g. 'sha256WithRSAEncryption'. */
  readonly signatureAlgorithm: string;
  /** SHA-256 hex of the issuing CA certificate (which CA issued it; rollover keeps several). */
  readonly issuer: string;
  readonly transactionId: string;
  readonly status: CertificateStatus;
  readonly revokedAt?: Date;
  readonly revocationReason?: string;
  /** DER certificate. */
  readonly der: Uint8Array;
}

export type PkiStatusName = 'SUCCESS' | 'FAILURE' | 'PENDING';

export interface TransactionRecord {
  readonly transactionId: string;
  /** SHA-256 hex of the request body as received: identifies an exact replay. */
  readonly requestHash: string;
  /** RFC 8894 messageType name, e.g. 'PKCSReq'. */
  readonly messageType: string;
  readonly status: PkiStatusName;
  /** The DER CertRep we answered with. */
  readonly reply: Uint8Array;
  readonly certSerial?: string;
  readonly createdAt: Date;
}

export type PendingStatus = 'pending' | 'approved' | 'rejected' | 'issued';

export interface PendingRequest {
  readonly id: string;
  readonly transactionId: string;
  readonly subject: string;
  /** DER PKCS#10 request. */
  readonly csr: Uint8Array;
  /** DER of the certificate that signed the request (the reply is enveloped to it). */
  readonly signerCert: Uint8Array;
  readonly status: PendingStatus;
  readonly reason?: string;
  readonly certSerial?: string;
  readonly createdAt: Date;
  readonly decidedAt?: Date;
}

export interface RevokedEntry {
  readonly serial: string;
  readonly revokedAt: Date;
  readonly reason?: string;
}

/** Thrown by `recordIssuance` when the serial is already taken; the caller draws a new one. */
export class SerialCollisionError extends Error {
  override readonly name = 'SerialCollisionError';
}

export interface Store {
  /**
   * Atomically stores a new certificate and the transaction that answered it (and marks the
   * pending request `issued` if `pendingId` is given). Throws SerialCollisionError on a
   * duplicate serial, leaving nothing written.
   */
  recordIssuance(cert: CertificateRecord, transaction: TransactionRecord, pendingId?: string): void;
  /** Stores an answered transaction without a certificate (FAILURE, PENDING, GetCert, ...). */
  recordTransaction(transaction: TransactionRecord): void;
  /** The transaction answered for exactly this request body, if any. */
  transactionByRequestHash(requestHash: string): TransactionRecord | undefined;
  /** The latest transaction with this transactionID (any message type). */
  latestTransaction(transactionId: string): TransactionRecord | undefined;

  certificate(serial: string): CertificateRecord | undefined;
  /** Certificates issued in a transaction, newest first. */
  certificatesByTransaction(transactionId: string): CertificateRecord[];
  listCertificates(filter?: { status?: CertificateStatus; issuer?: string }): CertificateRecord[];
  /** Marks a certificate revoked; returns false if unknown or already revoked. */
  revoke(serial: string, reason: string | undefined, at: Date): boolean;
  revoked(issuer: string): RevokedEntry[];

  /** Adds a pending request; at most one open ('pending' or 'approved') per transactionId. */
  addPending(request: Omit<PendingRequest, 'status' | 'decidedAt' | 'certSerial' | 'reason'>): PendingRequest;
  pendingByTransaction(transactionId: string): PendingRequest | undefined;
  pending(id: string): PendingRequest | undefined;
  listPending(status?: PendingStatus): PendingRequest[];
  /** Moves a 'pending' request to 'approved' or 'rejected'; false if not pending. */
  decide(id: string, decision: 'approved' | 'rejected', reason?: string, at?: Date): boolean;

  /** Next CRL number for an issuer (monotonic, starts at 1), persisted. */
  nextCrlNumber(issuer: string): number;

  close(): void;
}
