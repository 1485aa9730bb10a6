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
  /**
   * The fleet that answered. An exact replay is one to the same fleet: the same bytes sent to
   * another fleet are that fleet's request (schema version 4; older rows read the fleet of the
   * certificate they name, else 'default').
   */
  readonly fleet: string;
  /** SHA-256 hex of the request body as received: with `fleet`, identifies an exact replay. */
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
  /** The fleet the request came to ('default' for rows written before schema version 3). */
  readonly fleet: string;
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

/**
 * A challenge password the server knows (schema version 3): stored only as its SHA-256, so a
 * copy of the database does not hand out enrollments. 'one-time' challenges are single use
 * and expire; 'static' ones are a fleet's shared secret, replaced by rotation with an overlap.
 */
export interface ChallengeRecord {
  /** SHA-256 hex of the challenge's UTF-8 bytes. */
  readonly hash: string;
  readonly kind: 'one-time' | 'static';
  readonly fleet: string;
  /** A regular expression the CSR subject (RFC 4514 string) must match in full. */
  readonly subjectPattern?: string;
  readonly createdAt: Date;
  /** Absent: never expires (the current static challenge). */
  readonly expiresAt?: Date;
  readonly usedAt?: Date;
  /** The transaction that used a one-time challenge, and the SHA-256 hex of its CSR key. */
  readonly usedBy?: { readonly transactionId: string; readonly keyHash: string };
}

/** Extra writes that commit together with an issuance. */
export interface IssuanceEffects {
  /** Audit records appended in the same transaction (the issuance itself, a replacement...). */
  readonly audit?: readonly AuditInput[];
  /** A certificate this one replaces and that is revoked with it (revoke-on-replace). */
  readonly revoke?: { readonly serial: string; readonly reason: string };
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
  recordIssuance(cert: CertificateRecord, transaction: TransactionRecord, pendingId?: string, effects?: IssuanceEffects): void;
  /** Stores an answered transaction without a certificate (FAILURE, PENDING, GetCert, ...), and its audit record if given. */
  recordTransaction(transaction: TransactionRecord, audit?: AuditInput): void;
  /**
   * Runs `fn` in one transaction, committed (one fsync) when it returns, rolled back when it
   * throws. Writes inside it that open their own transaction (recordIssuance) become
   * savepoints: a nested `batch` that throws undoes only its own writes. Used for group commit
   * (src/store/group-commit.ts).
   */
  batch<T>(fn: () => T): T;
  /** The transaction `fleet` answered for exactly this request body, if any (RFC 8894 §3.3.1 replay). */
  transactionByRequestHash(fleet: string, requestHash: string): TransactionRecord | undefined;
  /** The latest transaction with this transactionID (any message type). */
  latestTransaction(transactionId: string): TransactionRecord | undefined;

  certificate(serial: string): CertificateRecord | undefined;
  /** Certificates issued in a transaction, newest first. */
  certificatesByTransaction(transactionId: string): CertificateRecord[];
  listCertificates(filter?: { status?: CertificateStatus; issuer?: string; fleet?: string }): CertificateRecord[];
  /** Valid (not revoked) certificates of `subject` in `fleet` that have not expired at `at`. */
  activeCertificates(fleet: string, subject: string, at: Date): CertificateRecord[];
  /** Marks a certificate revoked (and appends `audit` in the same transaction); false if unknown or already revoked. */
  revoke(serial: string, reason: string | undefined, at: Date, audit?: AuditInput): boolean;
  revoked(issuer: string): RevokedEntry[];

  /** Adds a pending request; at most one open ('pending' or 'approved') per fleet and transactionId. */
  addPending(request: Omit<PendingRequest, 'status' | 'decidedAt' | 'certSerial' | 'reason' | 'fleet'> & { readonly fleet?: string }, audit?: AuditInput): PendingRequest;
  /** `fleet`'s request of this transaction: the open one, else the most recent. */
  pendingByTransaction(fleet: string, transactionId: string): PendingRequest | undefined;
  pending(id: string): PendingRequest | undefined;
  listPending(status?: PendingStatus, fleet?: string): PendingRequest[];
  /** Moves a 'pending' request to 'approved' or 'rejected' (with `audit`, in one transaction); false if not pending. */
  decide(id: string, decision: 'approved' | 'rejected', reason?: string, at?: Date, audit?: AuditInput): boolean;

  /** Stores new challenges (hashes only) and their audit record in one transaction. */
  addChallenges(records: readonly ChallengeRecord[], audit: AuditInput): void;
  challenge(hash: string): ChallengeRecord | undefined;
  /** Challenges of a fleet (newest first), optionally of one kind. */
  challenges(fleet: string, kind?: ChallengeRecord['kind']): ChallengeRecord[];
  /**
   * Marks one-time challenge `hash` used by this transaction and key, with `audit`, in one
   * transaction. True when it was unused (or already used by the same transaction and key: a
   * resend of that enrollment, RFC 8894 §3.3.3) and unexpired at `at`; false otherwise.
   */
  useChallenge(hash: string, use: { readonly transactionId: string; readonly keyHash: string; readonly at: Date }, audit: AuditInput): boolean;
  /**
   * Static-challenge rotation of `fleet`: every static challenge still valid after `retireAt`
   * expires then (the overlap), `replacement` is added; with `audit`, in one transaction.
   */
  rotateStaticChallenge(fleet: string, replacement: ChallengeRecord, retireAt: Date, audit: AuditInput): void;

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
