/**
 * Prometheus metrics (issue 6, prom-client): one Registry per server (not prom-client's global
 * one, so a process can run several servers, as the tests do), filled by a Koa middleware that
 * sees every SCEP request once it is answered:
 *
 *   pqscep_requests_total{operation,message_type,fleet,algorithm,outcome,fail_info}
 *   pqscep_request_duration_seconds{operation,fleet}          histogram
 *   pqscep_certificates_issued_total{fleet,algorithm}
 *   pqscep_requests_in_flight                                 gauge
 *   plus prom-client's default process_* and nodejs_* metrics.
 *
 * Label values are bounded: operations are RFC 8894 §3.5 names (or `crl`, `unknown`, `other`),
 * message types and failInfos RFC 8894 §3.2.1.2-4 names, fleets only fleets that exist (the
 * router sets it after finding one), algorithms registry key type names, outcomes
 * SUCCESS/FAILURE/PENDING for answered PKIOperations, else `ok` or `http_<status>`. Nothing a
 * client sends becomes a label as such. Leaves out: per-address metrics (unbounded).
 * @module
 */
import type { Context, Next } from 'koa';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { OPERATIONS } from '../scep/operations.ts';
import type { PkiObservation } from '../scep/pki-operation.ts';

/** What the router learns about a request, for the metrics middleware (kept in ctx.state). */
export interface RequestFacts {
  operation?: string;
  fleet?: string;
  pki?: PkiObservation;
}

const FACTS = Symbol('pqscep request facts');

/** The facts record of this request (created on first use). */
export function requestFacts(ctx: Context): RequestFacts {
  const state = ctx.state as Record<symbol, RequestFacts | undefined>;
  return (state[FACTS] ??= {});
}

const OPERATION_NAMES = Object.keys(OPERATIONS);

/** An `operation` query value as a label: the canonical RFC 8894 name, or 'unknown'. */
export function operationLabel(name: string | undefined): string {
  return OPERATION_NAMES.find((k) => k.toLowerCase() === name?.toLowerCase()) ?? 'unknown';
}

const NONE = 'none';

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'operation' | 'message_type' | 'fleet' | 'algorithm' | 'outcome' | 'fail_info'>;
  private readonly duration: Histogram<'operation' | 'fleet'>;
  private readonly issued: Counter<'fleet' | 'algorithm'>;
  private readonly inFlight: Gauge;

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'pqscep_requests_total', help: 'SCEP requests answered, by operation, PKIOperation message type, fleet, client key type, outcome and failInfo',
      labelNames: ['operation', 'message_type', 'fleet', 'algorithm', 'outcome', 'fail_info'], registers,
    });
    this.duration = new Histogram({
      name: 'pqscep_request_duration_seconds', help: 'Time from request to response, by operation and fleet',
      labelNames: ['operation', 'fleet'], registers,
      // Post-quantum signing (SLH-DSA) takes seconds, classical requests milliseconds.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    this.issued = new Counter({ name: 'pqscep_certificates_issued_total', help: 'Certificates issued, by fleet and subject key type', labelNames: ['fleet', 'algorithm'], registers });
    this.inFlight = new Gauge({ name: 'pqscep_requests_in_flight', help: 'SCEP requests being answered now', registers });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Koa middleware: counts and times every request below it. */
  middleware() {
    return async (ctx: Context, next: Next): Promise<void> => {
      const stopTimer = this.duration.startTimer();
      this.inFlight.inc();
      try {
        await next();
      } finally {
        this.inFlight.dec();
        try {
          this.record(ctx, stopTimer);
        } catch {
          // a metrics bug must never turn an answer into a 500
        }
      }
    };
  }

  private record(ctx: Context, stopTimer: (labels: { operation: string; fleet: string }) => number): void {
    const facts = requestFacts(ctx);
    const operation = facts.operation ?? (ctx.path.startsWith('/crl/') ? 'crl' : 'other');
    const fleet = facts.fleet ?? NONE;
    const pki = facts.pki;
    const outcome = pki && ctx.status === 200 ? pki.status : ctx.status < 300 ? 'ok' : `http_${ctx.status}`;
    this.requests.inc({
      operation, fleet, outcome,
      message_type: pki?.messageType ?? (operation === 'PKIOperation' ? 'unknown' : NONE),
      algorithm: pki?.clientKeyType ?? NONE,
      fail_info: pki?.failInfo ?? NONE,
    });
    stopTimer({ operation, fleet });
    if (pki?.issuedKeyType && ctx.status === 200) this.issued.inc({ fleet, algorithm: pki.issuedKeyType });
  }

  /** The exposition text and its content type (Prometheus text format 0.0.4). */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
