/**
 * The HTTP(S) listeners under the Koa apps (issue 6: request time limits, HTTPS, graceful
 * shutdown):
 * - createListener: node:http, or node:https when given a certificate and key (files checked at
 *   start-up: unreadable, not PEM, or a key that does not match is a one-line ConfigError);
 *   `requestTimeout` bounds a whole request (a client that sends headers and stalls the body
 *   gets 408 and a closed connection, RFC 9110 §15.5.9), headers have min(30 s, that).
 * - Drain: counts requests being answered; `drain` first lets requests already sent start,
 *   then stops accepting, tells keep-alive clients `Connection: close`, lets answers in
 *   progress finish and waits until they have, bounded by a deadline after which remaining
 *   connections are cut (work never answered was never acknowledged).
 * Leaves out: HTTP/2, client certificates, reloading the certificate without a restart.
 * @module
 */
import type { Context, Next } from 'koa';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../config.ts';

export type Listener = HttpServer;

export interface TlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Reads and checks `--tls-cert` / `--tls-key`: both or neither, readable, a matching pair. */
export function loadTls(certFile: string | undefined, keyFile: string | undefined): TlsFiles | undefined {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError(`invalid setting tls: --tls-cert and --tls-key go together (got only ${certFile ? '--tls-cert' : '--tls-key'})`);
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`invalid setting tls (${flag}): cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const files = { cert: read(certFile, '--tls-cert'), key: read(keyFile, '--tls-key') };
  try {
    createSecureContext(files); // OpenSSL checks both parse and that the key is the certificate's
  } catch (err) {
    throw new ConfigError(`invalid setting tls (--tls-cert ${certFile}, --tls-key ${keyFile}): ${(err as Error).message.split('\n')[0]}`);
  }
  return files;
}

export interface ListenerOptions {
  readonly maxHeaderSize?: number;
  readonly requestTimeoutMs: number;
  /** Default min(30 s, requestTimeoutMs). */
  readonly headersTimeoutMs?: number;
  readonly tls?: TlsFiles;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export function createListener(handler: Handler, options: ListenerOptions): Listener {
  const requestTimeout = options.requestTimeoutMs;
  const common = {
    maxHeaderSize: options.maxHeaderSize,
    requestTimeout,
    headersTimeout: Math.min(options.headersTimeoutMs ?? 30_000, requestTimeout),
    // Node checks those timeouts on this interval (default 30 s); a short limit needs a shorter one.
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(requestTimeout / 4))),
  };
  // node:https's Server has every http.Server member we use (timeouts, close*Connections).
  return options.tls ? (createHttpsServer({ ...common, ...options.tls }, handler) as unknown as HttpServer) : createHttpServer(common, handler);
}

const MAX_SETTLE_TURNS = 20;

/** Requests being answered, and the shutdown switch every response checks. */
export class Drain {
  private active = 0;
  private started = 0;
  private closing = false;
  private waiters: (() => void)[] = [];

  /** Koa middleware (outermost): counts the request until its handler has finished. */
  middleware() {
    return async (ctx: Context, next: Next): Promise<void> => {
      this.active++;
      this.started++;
      try {
        await next();
        if (this.closing) ctx.set('Connection', 'close'); // keep-alive clients reconnect elsewhere
      } finally {
        this.active--;
        if (this.active === 0) for (const w of this.waiters.splice(0)) w();
      }
    };
  }

  get inFlight(): number {
    return this.active;
  }

  /**
   * Stops `servers` accepting, waits for answers in progress until `deadline` (epoch ms), then
   * cuts whatever connections remain.
   */
  async drain(servers: readonly (Listener | undefined)[], deadline: number): Promise<void> {
    this.closing = true;
    // Requests that clients have already sent may still sit unread in socket buffers (or on
    // connections not yet accepted) while CPU-bound signing holds the event loop; close() would
    // cut those connections as idle. A few loop turns first let them start, until a turn starts none.
    for (let turn = 0; turn < MAX_SETTLE_TURNS && Date.now() < deadline; turn++) {
      const before = this.started;
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (this.started === before && turn > 0) break;
    }
    const listening = servers.filter((s): s is Listener => s !== undefined && s.listening);
    const closed = Promise.all(listening.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    // Connections that go idle after their last answer are closed as they do.
    const sweep = setInterval(() => listening.forEach((s) => s.closeIdleConnections()), 50);
    listening.forEach((s) => s.closeIdleConnections());
    const idle = this.active === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.waiters.push(resolve));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
    try {
      await Promise.race([Promise.all([closed, idle]), timeout]);
    } finally {
      clearInterval(sweep);
      clearTimeout(timer);
      listening.forEach((s) => s.closeAllConnections());
    }
  }
}
