/**
 * Webhook challenge validation, the MDM pattern (Intune's and Jamf's SCEP validation, step-ca's
 * webhooks): the server POSTs the request's facts and its challenge to a configured URL and
 * follows the answer.
 *
 * Request: `POST <url>`, `content-type: application/json`, body
 *   { "version": 1, "fleet", "transactionId", "messageType", "subject", "sans", "keyAlgorithm",
 *     "challenge", "csr": base64 DER }
 * and, when the profile names `secretEnv`, the header
 *   `x-pqscep-signature: sha256=<hex HMAC-SHA256 of the body with that secret>`.
 * Answer: HTTP 200 with `{ "allow": true }` or `{ "allow": false, "reason": "..." }`.
 *
 * A 5xx, a malformed answer, a network error or no answer within `timeoutMs` is retried
 * (`retries` more times, 100 ms, 200 ms, ... apart); after that `onError` decides, and the
 * default is to deny (fail closed). A 4xx is an answer: deny, no retry.
 * Leaves out: mutual TLS to the webhook (use an https URL and a proxy for client certificates).
 * @module
 */
import { createHmac } from 'node:crypto';
import type { Logger } from '../scep/env.ts';
import type { ChallengeRequest, ChallengeResult, ChallengeValidator } from './challenge.ts';

export interface WebhookSettings {
  readonly url: string;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly onError: 'deny' | 'allow';
  /** Name of the environment variable holding the HMAC secret. */
  readonly secretEnv?: string;
}

type Attempt = { readonly answer: ChallengeResult } | { readonly error: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function attempt(s: WebhookSettings, body: string, secret: string | undefined): Promise<Attempt> {
  let res: Response;
  try {
    res = await fetch(s.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(secret !== undefined && { 'x-pqscep-signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}` }),
      },
      body,
      signal: AbortSignal.timeout(s.timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { error: e.name === 'TimeoutError' ? `no answer within ${s.timeoutMs} ms` : (e.cause?.code ?? e.message) };
  }
  const text = await res.text().catch(() => '');
  if (res.status >= 500) return { error: `HTTP ${res.status}` };
  if (res.status >= 400) return { answer: { ok: false, by: 'webhook', reason: `webhook answered HTTP ${res.status}`, known: true } };
  let json: { allow?: unknown; reason?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    return { error: 'the answer is not JSON' };
  }
  if (typeof json?.allow !== 'boolean') return { error: 'the answer has no boolean "allow"' };
  if (json.allow) return { answer: { ok: true, by: 'webhook' } };
  const reason = typeof json.reason === 'string' && json.reason ? json.reason.slice(0, 200) : 'no reason given';
  return { answer: { ok: false, by: 'webhook', reason: `webhook denied: ${reason}`, known: true } };
}

export function webhookValidator(s: WebhookSettings, log: Logger): ChallengeValidator {
  return {
    name: 'webhook',
    async validate(challenge: string | undefined, r: ChallengeRequest): Promise<ChallengeResult> {
      const secret = s.secretEnv ? process.env[s.secretEnv] : undefined;
      if (s.secretEnv && !secret) log.warn({ secretEnv: s.secretEnv }, 'webhook secret variable is not set: requests go unsigned');
      const body = JSON.stringify({
        version: 1, fleet: r.fleet, transactionId: r.transactionId, messageType: r.messageType, subject: r.subject,
        sans: r.sans, keyAlgorithm: r.keyAlgorithm, challenge: challenge ?? null, csr: Buffer.from(r.csr).toString('base64'),
      });
      let last = '';
      for (let i = 0; i <= s.retries; i++) {
        if (i > 0) await sleep(100 * 2 ** (i - 1));
        const result = await attempt(s, body, secret || undefined);
        if ('answer' in result) return result.answer;
        last = result.error;
        log.warn({ transactionId: r.transactionId, attempt: i + 1, error: last }, 'webhook validation failed');
      }
      if (s.onError === 'allow') return { ok: true, by: 'webhook' };
      return { ok: false, by: 'webhook', reason: `webhook unavailable (${last}); failing closed`, known: true };
    },
  };
}
