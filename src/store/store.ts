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
  /** The fleet it was issued for ('default' for /scep, and for rows written by schema version 1). */
  readonly fleet: string;
  /**
   * Key type of the issuing CA, e.g. 'ml-dsa-65'. A data folder holds one CA per key type
   * (`data/ca/<key type>/`, shared by every profile whose `ca.algorithm` it is), so this names
   * the CA without reading its files. Absent on rows written by schema version 1.
   */
  readonly caKeyType?: string;
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

/** A fleet: a named SCEP endpoint (`/scep/<name>`) bound to one profile (issue: profiles and fleets). */
export interface FleetRecord {
  readonly name: string;
  readonly profile: string;
  /** The profile before the last switch: what `fleet rollback` returns to. */
  readonly previousProfile?: string;
  /**
   * A scheduled switch: from `announceAt` the new profile's CA is announced through
   * GetNextCACert (RFC 8894 §3.5.3), at `effectiveAt` the profile becomes current.
   */
  readonly next?: { readonly profile: string; readonly announceAt: Date; readonly effectiveAt: Date };
  readonly updatedAt: Date;
}

/** What an audit entry says; the store adds sequence, time and the hash chain. */
export interface AuditInput {
  /** Who: 'cli', 'admin-api', 'server', a client address... */
  readonly actor: string;
  /** What, e.g. 'fleet.create', 'fleet.switch', 'certificate.issue', 'request.reject'. */
  readonly action: string;
  /** What it is about, e.g. the fleet name or a certificate serial. */
  readonly subject: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** An append-only audit record; `hash` = SHA-256 over the previous hash and this record's content. */
export interface AuditRecord extends AuditInput {
  readonly seq: number;
  readonly at: Date;
  readonly prevHash: string;
  readonly hash: string;
}

/**
 * What one client actually did (its compatibility record), keyed by fleet and CSR subject:
 * the evidence `fleet dry-run` replays against a candidate profile.
 */
export interface ClientRecord {
  readonly fleet: string;
  readonly subject: string;
  readonly address?: string;
  readonly firstSeen: Date;
  readonly lastSeen: Date;
  /** Whether GetCACaps was fetched from this client's address. */
  readonly capsFetched: boolean;
  /** 'GET' or 'POST' for PKIOperation. */
  readonly method: string;
  readonly keyAlgorithm?: string;
  readonly signatureAlgorithm?: string;
  readonly digest?: string;
  readonly cipher?: string;
  /** How the request envelope reached us: 'ktri', 'kari' or 'kemri'. */
  readonly envelope?: string;
  /** True when the client brought a KEM certificate for the reply (docs/pqc-scep.md §5). */
  readonly replyKem: boolean;
  readonly maxRequestBytes: number;
  readonly enrollments: number;
  readonly renewals: number;
  /** 'SUCCESS', 'PENDING' or 'FAILURE:<failInfo>' of the last request. */
  readonly lastOutcome: string;
}

/** One PKIOperation's facts, merged into the client's record. */
export type ClientObservation = Omit<ClientRecord, 'firstSeen' | 'lastSeen' | 'capsFetched' | 'enrollments' | 'renewals' | 'maxRequestBytes'> & {
  readonly at: Date;
  readonly requestBytes: number;
  readonly messageType: string;
};

export interface Store {
  /**
   * Atomically stores a new certificate and the transaction that answered it (and marks the
   * pending request `issued` if `pendingId` is given). Throws SerialCollisionError on a
   * duplicate serial, leaving nothing written.
   */
  recordIssuance(cert: CertificateRecord, transaction: TransactionRecord, pendingId?: string): void;
  /**
   * Runs `fn` in one transaction, committed (one fsync) when it returns, rolled back when it
   * throws. Writes inside it that open their own transaction (recordIssuance) become
   * savepoints: a nested `batch` that throws undoes only its own writes. Used for group commit
   * (src/store/group-commit.ts).
   */
  batch<T>(fn: () => T): T;
  /** Stores an answered transaction without a certificate (FAILURE, PENDING, GetCert, ...). */
  recordTransaction(transaction: TransactionRecord): void;
  /** The transaction answered for exactly this request body, if any. */
  transactionByRequestHash(requestHash: string): TransactionRecord | undefined;
  /** The latest transaction with this transactionID (any message type). */
  latestTransaction(transactionId: string): TransactionRecord | undefined;

  certificate(serial: string): CertificateRecord | undefined;
  /** Certificates issued in a transaction, newest first. */
  certificatesByTransaction(transactionId: string): CertificateRecord[];
  listCertificates(filter?: { status?: CertificateStatus; issuer?: string; fleet?: string }): CertificateRecord[];
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

  fleets(): FleetRecord[];
  fleet(name: string): FleetRecord | undefined;
  /** Creates or replaces a fleet and appends `audit`, in one transaction. */
  saveFleet(record: FleetRecord, audit: AuditInput): void;
  /** A number that changes whenever any fleet changes (a running server polls it). */
  fleetsVersion(): number;

  /** Appends to the hash-chained audit log. */
  appendAudit(entry: AuditInput): AuditRecord;
  /** The audit log in order (optionally from `fromSeq`). */
  audit(fromSeq?: number): AuditRecord[];

  /** Notes that GetCACaps was fetched by `address` for `fleet`. */
  recordCapsFetch(fleet: string, address: string, at: Date): void;
  /** Merges one PKIOperation's facts into the client's compatibility record. */
  recordClient(observation: ClientObservation): void;
  clients(fleet?: string): ClientRecord[];

  close(): void;
}
