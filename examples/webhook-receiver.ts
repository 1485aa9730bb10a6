/**
 * Reference receiver for pqscep's webhook challenge validation (src/policy/webhook.ts documents
 * the exchange): the smallest thing an MDM or an inventory system has to implement, and what
 * the tests run against. It checks the `x-pqscep-signature` HMAC when given a secret, then
 * allows a request when its challenge is one of `--challenge` (any, when none is given) and its
 * subject matches `--subject-pattern`; it answers `{ "allow": ..., "reason": ... }` and prints
 * one JSON line per decision (never the challenge).
 *
 *   node --import tsx examples/webhook-receiver.ts --port 9090 [--secret S] [--challenge C]... [--subject-pattern RE]
 *
 * Leaves out: TLS (put it behind a proxy), persistence, anything beyond allow/deny.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface ReceiverOptions {
  readonly port?: number;
  readonly host?: string;
  readonly secret?: string;
  readonly challenges?: readonly string[];
  readonly subjectPattern?: string;
  /** Called with each decision (tests count calls). */
  readonly onDecision?: (d: { allow: boolean; reason?: string; subject?: string; transactionId?: string }) => void;
}

export interface Receiver {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

const signatureOk = (secret: string, body: Buffer, header: string | undefined): boolean => {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const got = Buffer.from(header ?? '');
  return got.length === expected.length && timingSafeEqual(got, expected);
};

export async function startReceiver(o: ReceiverOptions = {}): Promise<Receiver> {
  const pattern = o.subjectPattern === undefined ? undefined : new RegExp(`^(?:${o.subjectPattern})$`);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const answer = (status: number, value: { allow: boolean; reason?: string }, facts: { subject?: string; transactionId?: string } = {}) => {
        o.onDecision?.({ ...value, ...facts });
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      };
      if (req.method !== 'POST') return answer(405, { allow: false, reason: 'POST only' });
      if (o.secret !== undefined && !signatureOk(o.secret, body, req.headers['x-pqscep-signature'] as string | undefined)) return answer(401, { allow: false, reason: 'bad signature' });
      let r: { subject?: unknown; challenge?: unknown; transactionId?: unknown };
      try {
        r = JSON.parse(body.toString('utf8')) as typeof r;
      } catch {
        return answer(400, { allow: false, reason: 'not JSON' });
      }
      const facts = { subject: String(r.subject), transactionId: String(r.transactionId) };
      if (o.challenges?.length && !o.challenges.includes(String(r.challenge))) return answer(200, { allow: false, reason: 'unknown challenge' }, facts);
      if (pattern && !pattern.test(String(r.subject))) return answer(200, { allow: false, reason: `subject ${String(r.subject)} is not allowed` }, facts);
      answer(200, { allow: true }, facts);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}/`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '9090' }, host: { type: 'string', default: '127.0.0.1' },
      secret: { type: 'string' }, challenge: { type: 'string', multiple: true }, 'subject-pattern': { type: 'string' },
    },
  });
  const receiver = await startReceiver({
    port: Number(values.port), host: values.host, secret: values.secret ?? process.env.PQSCEP_WEBHOOK_SECRET, challenges: values.challenge,
    subjectPattern: values['subject-pattern'], onDecision: (d) => process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), ...d })}\n`),
  });
  process.stdout.write(`webhook receiver on ${receiver.url}\n`);
}
